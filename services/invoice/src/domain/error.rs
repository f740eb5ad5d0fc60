//! Why an invoice operation did not happen, in the domain's words. Routes turn it into a
//! problem (the one mapping is in `routes`), the consumer into a refusal or a retry.

use common::ids::InvoiceId;

use super::{InvoiceStatus, InvoiceView, NotAllowed};

#[derive(Debug, thiserror::Error)]
pub enum InvoiceError {
    /// No such invoice, or not one the viewer may see (never "forbidden": another's
    /// invoice does not exist for you).
    #[error("no invoice {0}")]
    NotFound(InvoiceId),
    #[error("invoice_number {0} is already used by another of your invoices")]
    DuplicateNumber(String),
    #[error("cannot edit an invoice that is {0}; only drafts and rejected invoices can change")]
    NotEditable(InvoiceStatus),
    /// The state machine refuses the action from the invoice's status.
    #[error(transparent)]
    NotAllowed(#[from] NotAllowed),
    /// An edit or decision made on version `seen`; the invoice is now `current`.
    #[error("the invoice changed since version {seen}")]
    Stale {
        seen: i64,
        current: Box<InvoiceView>,
    },
    /// The database, or a stored value that is not one of its column's words.
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}
