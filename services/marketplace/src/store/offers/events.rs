//! The events marketplace publishes (written to the outbox in the change's transaction): one per change of an offer, its
//! type picked by [`OfferEvent::of`] (`offer.placed`, `offer.reserved`, `offer.accepted`,
//! `offer.rejected`, `offer.withdrawn`, `offer.expired`; revised, released and lapsed are
//! `offer.status_changed`). All carry the offer after the change, [`OfferChanged`].

use common::events::marketplace::OfferChanged;
use common::events::{Envelope, OfferEvent};
use common::ids::{InvoiceId, OfferId, UserId};
use common::money::Money;
use sea_orm::ConnectionTrait;

use super::{Change, currency_of, status_of};
use crate::store::entity::offer;

/// The offer `o` after `change`, as its events carry it.
pub fn offer_changed(o: &offer::Model, change: Change) -> anyhow::Result<OfferChanged> {
    let c = currency_of(o)?;
    let display = |minor| Money::from_minor(minor, c).to_decimal_string();
    Ok(OfferChanged {
        offer_id: OfferId(o.id),
        invoice_id: InvoiceId(o.invoice_id),
        investor_id: UserId(o.investor_id),
        seller_id: UserId(o.seller_id),
        status: status_of(o)?,
        change,
        reason: o.reason.clone(),
        discount_rate: crate::domain::pricing::Rate::from_millionths(o.rate_millionths).to_string(),
        face_value: display(o.face_minor),
        price: display(o.price_minor),
        platform_fee: display(o.fee_minor),
        currency: c,
        face_minor: o.face_minor,
        price_minor: o.price_minor,
        fee_minor: o.fee_minor,
        net_proceeds_minor: o.price_minor - o.fee_minor,
        expires_at: o.expires_at,
        rejected_offer_ids: Vec::new(),
    })
}

/// Writes the event of `offer` into the outbox (in the caller's transaction).
pub async fn add<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn common::Clock,
    offer: OfferChanged,
) -> anyhow::Result<()> {
    add_all(txn, clock, vec![offer]).await
}

/// [`add`] for several offers, in one statement.
pub async fn add_all<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn common::Clock,
    offers: Vec<OfferChanged>,
) -> anyhow::Result<()> {
    let envelopes = offers
        .into_iter()
        .map(|o| Envelope::of(OfferEvent::of(o), clock))
        .collect::<Result<Vec<_>, _>>()?;
    service_kit::outbox::add_all(txn, &envelopes).await?;
    Ok(())
}
