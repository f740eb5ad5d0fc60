//! What leaves the service after a commit: the live message on `invoice:{id}`, the search
//! cache's new generation and the relay's wake-up (the events themselves are written to
//! the outbox in the change's transaction, by the store). It takes what the transaction
//! produced; it reads nothing back.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{InvoiceStatus, InvoiceView};
use crate::state::AppState;

/// The scope whose cache generation every invoice write bumps.
pub const CACHE_SCOPE: &str = "invoices";
/// The cache scope of what investors see (listed invoices): bumped only by status changes.
pub const LISTED_SCOPE: &str = "invoices.listed";

/// The cache scope of one seller's own invoices.
pub fn seller_scope(seller_id: Uuid) -> String {
    format!("invoices.seller.{seller_id}")
}

/// The live message on `invoice:{id}`: the invoice as it now is.
#[derive(Debug, Serialize, Deserialize)]
pub struct LiveStatus {
    pub invoice_id: Uuid,
    pub status: InvoiceStatus,
    pub updated_at: DateTime<Utc>,
}

/// After a committed status change (`invoice` as the transaction left it): searches see
/// it (new cache generation), the relay sends its event, and subscribers of
/// `invoice:{id}` hear of it. Failures are logged: the change
/// itself has happened.
pub async fn after_change(state: &AppState, invoice: &InvoiceView) {
    after_changes(state, std::slice::from_ref(invoice)).await;
}

/// [`after_change`] for several committed changes (a batch of events, in order): the
/// generations bumped once, the live messages in one pipeline.
pub async fn after_changes(state: &AppState, invoices: &[InvoiceView]) {
    if invoices.is_empty() {
        return;
    }
    let mut scopes: Vec<String> = invoices.iter().map(|i| seller_scope(i.seller_id)).collect();
    scopes.sort_unstable();
    scopes.dedup();
    scopes.push(CACHE_SCOPE.to_owned());
    scopes.push(LISTED_SCOPE.to_owned());
    if let Err(error) = state.cache.invalidate_all(&scopes).await {
        // Entries of the old generation then live out their 300 s TTL.
        tracing::warn!(%error, "Invoice search cache generation not bumped.");
    }
    state.relay.wake();
    let live: Vec<(String, LiveStatus)> = invoices
        .iter()
        .map(|m| {
            (
                state.keys.invoice_channel(m.id),
                LiveStatus {
                    invoice_id: m.id,
                    status: m.status,
                    updated_at: m.updated_at,
                },
            )
        })
        .collect();
    if let Err(error) = service_kit::pubsub::publish_many(&state.redis, &live).await {
        tracing::warn!(%error, invoices = invoices.len(), "Invoice status not published.");
    }
}

/// Bumps the generations whose results a change can alter: every change alters the admins'
/// (all invoices) and its seller's; a status change may also move an invoice into or out
/// of the listed ones investors see.
pub async fn invalidate(state: &AppState, seller_id: Uuid, status_changed: bool) {
    let seller = seller_scope(seller_id);
    let mut scopes = vec![CACHE_SCOPE, seller.as_str()];
    if status_changed {
        scopes.push(LISTED_SCOPE);
    }
    if let Err(error) = state.cache.invalidate_all(&scopes).await {
        // Entries of the old generation then live out their 300 s TTL.
        tracing::warn!(%error, "Invoice search cache generation not bumped.");
    }
}

/// The generations of what changed since `since` bumped again (the admins' and investors'
/// scopes and each seller's whose invoices changed): the sweep's catch-up for a bump that
/// never happened (the process died between a commit and [`after_changes`], or Redis
/// refused it). Answers how many sellers' invoices had changed; an error leaves it to the
/// next round.
pub async fn bump_changed_since(state: &AppState, since: DateTime<Utc>) -> anyhow::Result<usize> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

    use crate::store::entity::invoice;
    let mut sellers: Vec<Uuid> = invoice::Entity::find()
        .select_only()
        .column(invoice::Column::SellerId)
        .filter(invoice::Column::UpdatedAt.gte(since))
        .distinct()
        .into_tuple()
        .all(&state.db)
        .await?;
    if sellers.is_empty() {
        return Ok(0);
    }
    sellers.sort_unstable();
    let mut scopes: Vec<String> = sellers.iter().map(|s| seller_scope(*s)).collect();
    scopes.push(CACHE_SCOPE.to_owned());
    scopes.push(LISTED_SCOPE.to_owned());
    state.cache.invalidate_all(&scopes).await?;
    Ok(sellers.len())
}
