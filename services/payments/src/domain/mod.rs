//! What payments knows: financings and their money math ([`financing`]), the ledger's
//! accounts and postings ([`ledger`]), and [`PaymentsError`]. No actix, sea-orm or Redis here.

mod error;
pub mod financing;
pub mod ledger;

pub use error::PaymentsError;
pub use financing::{FinancingStatus, Terms, apply_repayment};
