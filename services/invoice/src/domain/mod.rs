//! The invoice's vocabulary: its state machine and its checked fields.

pub mod fields;
pub mod status;

pub use fields::{DebtorInput, InvoiceFields, InvoiceInput, Limits};
pub use status::{Action, InvoiceStatus, Machine, NotAllowed};
