//! The events marketplace publishes (through its outbox): `offer.placed`,
//! `offer.reserved`, `offer.accepted`, `offer.rejected`, `offer.withdrawn`,
//! `offer.expired` and `offer.status_changed` (revised, released, lapsed). All carry one
//! payload shape, [`OfferEvent`].

use chrono::{DateTime, Utc};
use common::events::{Envelope, Service};
use common::money::Money;
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::entity::offer;
use crate::offers::{Change, currency_of};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OfferEvent {
    pub offer_id: Uuid,
    pub invoice_id: Uuid,
    pub investor_id: Uuid,
    pub seller_id: Uuid,
    /// The offer's status after the change.
    pub status: String,
    /// placed | revised | withdrawn | rejected | expired | reserved | released | accepted | lapsed
    pub change: Change,
    pub reason: Option<String>,
    /// Annual percentage, decimal string.
    pub discount_rate: String,
    /// Decimal strings in `currency`.
    pub face_value: String,
    pub price: String,
    pub platform_fee: String,
    pub currency: String,
    /// The same figures in integer minor units of `currency`, so that no consumer parses
    /// decimals or prices again: face value, price (what the investor pays), platform fee
    /// and net proceeds (what the seller receives: price − fee).
    pub face_minor: i64,
    pub price_minor: i64,
    pub fee_minor: i64,
    pub net_proceeds_minor: i64,
    pub expires_at: DateTime<Utc>,
    /// On `offer.accepted`: the offers rejected because this one won.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected_offer_ids: Vec<Uuid>,
}

impl OfferEvent {
    pub fn of(o: &offer::Model, change: Change) -> Self {
        let c = currency_of(o);
        Self {
            offer_id: o.id,
            invoice_id: o.invoice_id,
            investor_id: o.investor_id,
            seller_id: o.seller_id,
            status: o.status.clone(),
            change,
            reason: o.reason.clone(),
            discount_rate: crate::pricing::Rate::from_millionths(o.rate_millionths).to_string(),
            face_value: Money::from_minor(o.face_minor, c).to_decimal_string(),
            price: Money::from_minor(o.price_minor, c).to_decimal_string(),
            platform_fee: Money::from_minor(o.fee_minor, c).to_decimal_string(),
            currency: o.currency.clone(),
            face_minor: o.face_minor,
            price_minor: o.price_minor,
            fee_minor: o.fee_minor,
            net_proceeds_minor: o.price_minor - o.fee_minor,
            expires_at: o.expires_at,
            rejected_offer_ids: Vec::new(),
        }
    }
}

/// The catalogue type of a change.
pub fn event_type(change: Change) -> &'static str {
    match change {
        Change::Placed => "offer.placed",
        Change::Reserved => "offer.reserved",
        Change::Accepted => "offer.accepted",
        Change::Rejected => "offer.rejected",
        Change::Withdrawn => "offer.withdrawn",
        Change::Expired => "offer.expired",
        Change::Revised | Change::Released | Change::Lapsed => "offer.status_changed",
    }
}

/// Writes the event of `payload` into the outbox (in the caller's transaction).
pub async fn add<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn common::Clock,
    payload: &OfferEvent,
) -> anyhow::Result<()> {
    let envelope = Envelope::new(
        Service::Marketplace,
        event_type(payload.change),
        payload,
        clock,
    )?;
    common::outbox::add(txn, &envelope).await?;
    Ok(())
}
