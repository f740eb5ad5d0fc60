//! The invoice's vocabulary: its state machine, its checked fields, who changes it, how
//! it is shown and why an operation is refused. No actix, sea-orm or Redis here.

pub mod actor;
pub mod error;
pub mod fields;
pub mod status;
pub mod view;

pub use actor::Actor;
pub use error::InvoiceError;
pub use fields::{DebtorInput, InvoiceFields, InvoiceInput, Limits, NewInvoice};
pub use status::{Action, InvoiceStatus, Machine, NotAllowed};
pub use view::{DebtorView, InvoiceView};
