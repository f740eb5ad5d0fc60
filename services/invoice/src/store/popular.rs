//! `GET /api/invoices/popular`: listed invoices ranked by the offers they received
//! (marketplace's `offer.placed`, counted by the consumer), cached in `invoices:popular`
//! for 600 s (the seed's TTL) under the invoices generation, so a listing that is
//! cancelled or accepted leaves the list at once; new offers reorder it within the TTL.

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::InvoiceStatus;
use crate::domain::InvoiceView;
use crate::store::entity::{invoice, offer_count};
use common::enums::BadStoredValue;

/// How many invoices the list holds.
pub const LIMIT: usize = 20;

#[derive(Debug, Serialize, ToSchema)]
pub struct PopularInvoice {
    #[serde(flatten)]
    pub invoice: InvoiceView,
    /// Offers placed on it so far.
    pub offers: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PopularList {
    /// Most offers first; ties by the nearest due date.
    pub items: Vec<PopularInvoice>,
}

/// One more offer on `invoice_id` (in the consumer's transaction: once per event).
pub async fn count_offer(db: &impl ConnectionTrait, invoice_id: Uuid) -> Result<(), DbErr> {
    count_offers(db, &[invoice_id]).await
}

/// One more offer on each of `invoice_ids` (an id twice: two more), in one statement per
/// batch (the consumer's transaction: once per event).
pub async fn count_offers(db: &impl ConnectionTrait, invoice_ids: &[Uuid]) -> Result<(), DbErr> {
    let mut counts: std::collections::BTreeMap<Uuid, i64> = std::collections::BTreeMap::new();
    for id in invoice_ids {
        *counts.entry(*id).or_default() += 1;
    }
    if counts.is_empty() {
        return Ok(());
    }
    offer_count::Entity::insert_many(counts.into_iter().map(|(invoice_id, n)| {
        offer_count::ActiveModel {
            invoice_id: sea_orm::Set(invoice_id),
            offers: sea_orm::Set(n),
        }
    }))
    .on_conflict(
        OnConflict::column(offer_count::Column::InvoiceId)
            .value(
                offer_count::Column::Offers,
                Expr::col((offer_count::Entity, offer_count::Column::Offers)).add(Expr::col((
                    sea_orm::sea_query::Alias::new("excluded"),
                    offer_count::Column::Offers,
                ))),
            )
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The list: counted invoices that are still listed, then (to fill it) listed ones
/// without offers yet.
pub async fn list(db: &DatabaseConnection) -> Result<PopularList, DbErr> {
    // Counted invoices may have left the listing: read a few more than needed.
    let counts = offer_count::Entity::find()
        .order_by_desc(offer_count::Column::Offers)
        .limit((LIMIT * 5) as u64)
        .all(db)
        .await?;
    let ids: Vec<Uuid> = counts.iter().map(|c| c.invoice_id).collect();
    let listed = invoice::Entity::find()
        .filter(invoice::Column::Id.is_in(ids))
        .filter(invoice::Column::Status.eq(InvoiceStatus::Listed.as_str()))
        .all(db)
        .await?;
    let mut items: Vec<PopularInvoice> = listed
        .iter()
        .map(|m| {
            Ok(PopularInvoice {
                invoice: m.view()?,
                offers: counts
                    .iter()
                    .find(|c| c.invoice_id == m.id)
                    .map_or(0, |c| c.offers),
            })
        })
        .collect::<Result<_, BadStoredValue>>()?;
    items.sort_by(|a, b| {
        b.offers
            .cmp(&a.offers)
            .then(a.invoice.due_date.cmp(&b.invoice.due_date))
            .then(a.invoice.id.cmp(&b.invoice.id))
    });
    items.truncate(LIMIT);
    if items.len() < LIMIT {
        let have: Vec<Uuid> = items.iter().map(|i| i.invoice.id).collect();
        let more = invoice::Entity::find()
            .filter(invoice::Column::Status.eq(InvoiceStatus::Listed.as_str()))
            .filter(invoice::Column::Id.is_not_in(have))
            .order_by_asc(invoice::Column::DueDate)
            .order_by_asc(invoice::Column::Id)
            .limit((LIMIT - items.len()) as u64)
            .all(db)
            .await?;
        for m in &more {
            items.push(PopularInvoice {
                invoice: m.view()?,
                offers: 0,
            });
        }
    }
    Ok(PopularList { items })
}
