//! Which offer an accepted invoice was confirmed for (`invoice_acceptances`), written in
//! the consumer's transaction with the confirmation and deleted when the acceptance is
//! released: marketplace's `offer.reservation_timed_out` releases the acceptance of that
//! offer and of no other.

use chrono::{DateTime, Utc};
use common::ids::{InvoiceId, OfferId};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set};

use crate::store::entity::acceptance;
use common::events::marketplace::OfferChanged;

/// The invoice of `o` was confirmed for `o`.
pub async fn record<C: ConnectionTrait>(
    txn: &C,
    now: DateTime<Utc>,
    o: &OfferChanged,
) -> Result<(), DbErr> {
    acceptance::Entity::insert(acceptance::ActiveModel {
        invoice_id: Set(o.invoice_id.uuid()),
        offer_id: Set(o.offer_id.uuid()),
        confirmed_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(acceptance::Column::InvoiceId)
            .update_columns([acceptance::Column::OfferId, acceptance::Column::ConfirmedAt])
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Was `invoice_id`'s current acceptance confirmed for `offer_id`?
pub async fn is_for<C: ConnectionTrait>(
    txn: &C,
    invoice_id: InvoiceId,
    offer_id: OfferId,
) -> Result<bool, DbErr> {
    Ok(acceptance::Entity::find_by_id(invoice_id.uuid())
        .one(txn)
        .await?
        .is_some_and(|a| a.offer_id == offer_id.uuid()))
}

/// The acceptance of `invoice_id` was released.
pub async fn forget<C: ConnectionTrait>(txn: &C, invoice_id: InvoiceId) -> Result<(), DbErr> {
    acceptance::Entity::delete_by_id(invoice_id.uuid())
        .exec(txn)
        .await?;
    Ok(())
}
