//! What marketplace tells: every change of an offer, with its terms in minor units.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{InvoiceId, OfferId, UserId};
use crate::money::Currency;

crate::string_enum! {
    /// An offer's status.
    pub enum OfferStatus {
        /// Open: the seller may accept or reject it, the investor revise or withdraw it.
        Pending = "pending",
        /// The seller accepted it; the invoice service has not answered yet.
        Reserved = "reserved",
        /// The saga finished: this offer funds the invoice.
        Accepted = "accepted",
        Rejected = "rejected",
        Withdrawn = "withdrawn",
        Expired = "expired",
        /// It was accepted, but the invoice was not funded in time and is listed again.
        Lapsed = "lapsed",
    }
}

impl OfferStatus {
    /// The statuses that hold a place on the invoice (counted in `offers:count`).
    pub const ACTIVE: [OfferStatus; 2] = [OfferStatus::Pending, OfferStatus::Reserved];

    pub fn is_active(self) -> bool {
        Self::ACTIVE.contains(&self)
    }
}

crate::string_enum! {
    /// What happened to an offer (events and live messages name it).
    pub enum OfferChange {
        Placed = "placed",
        Revised = "revised",
        Withdrawn = "withdrawn",
        Rejected = "rejected",
        Expired = "expired",
        Reserved = "reserved",
        Released = "released",
        /// The invoice service did not answer an acceptance in time: the reservation is
        /// released (the offer rejected) and the invoice service undoes a late confirmation.
        TimedOut = "timed_out",
        Accepted = "accepted",
        Lapsed = "lapsed",
    }
}

/// Every `offer.*` event: the offer after the change, and its figures both as display
/// strings and in integer minor units of `currency` (so no consumer parses decimals or
/// prices again): face value, price (what the investor pays), platform fee (paid by the
/// seller) and net proceeds (what the seller receives: price - fee).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferChanged {
    pub offer_id: OfferId,
    pub invoice_id: InvoiceId,
    pub investor_id: UserId,
    pub seller_id: UserId,
    /// The offer's status after the change.
    pub status: OfferStatus,
    pub change: OfferChange,
    #[serde(default)]
    pub reason: Option<String>,
    /// Annual percentage, decimal string (display).
    pub discount_rate: String,
    /// Display strings of the `_minor` figures below.
    pub face_value: String,
    pub price: String,
    pub platform_fee: String,
    pub currency: Currency,
    pub face_minor: i64,
    pub price_minor: i64,
    pub fee_minor: i64,
    pub net_proceeds_minor: i64,
    pub expires_at: DateTime<Utc>,
    /// On `offer.accepted`: the offers rejected because this one won.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected_offer_ids: Vec<OfferId>,
}
