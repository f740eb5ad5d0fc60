//! The marketplace's vocabulary: offer statuses and changes (the shared contract's words),
//! pricing ([`pricing`]), how an offer is shown and why an operation is refused. No actix,
//! sea-orm or Redis here.

pub mod error;
pub mod pricing;
pub mod view;

/// An offer's status and what happened to it are the shared contract's
/// (`common::events::marketplace`): events, the API and live messages use the same words.
pub use common::events::marketplace::{OfferChange as Change, OfferStatus};
pub use error::MarketError;
pub use view::OfferView;
