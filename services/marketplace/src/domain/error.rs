//! Why an operation on offers or listings did not happen, in the domain's words. Routes turn it into a
//! problem (the one mapping is in `routes`); the consumer and the sweep into a log line.

use common::ids::{InvoiceId, OfferId};

use super::OfferView;

#[derive(Debug, thiserror::Error)]
pub enum MarketError {
    /// No such offer, or not one the caller may see (another's offer does not exist for
    /// you).
    #[error("no offer {0}")]
    NotFound(OfferId),
    /// No listing of that invoice the caller may see.
    #[error("no listed invoice {0}")]
    NoSuchListing(InvoiceId),
    /// The offer names no listed invoice (a fault of its `invoice_id`).
    #[error("no listed invoice with this id")]
    NoListing,
    /// The offer or its invoice is not in a state that allows it; says why.
    #[error("{0}")]
    Refused(String),
    /// A change made on version `seen`; the offer is now `current`.
    #[error("the offer changed since version {seen}")]
    Stale { seen: i64, current: Box<OfferView> },
    /// The database, or a stored value that is not one of its column's words.
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}
