//! Expires pending offers whose `expires_at` has passed, by the injected clock.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::state::AppState;
use crate::store::entity::offer;
use crate::store::offers::{self, Change, OfferStatus};

/// One pass; returns how many offers expired.
pub async fn run_once(state: &AppState) -> anyhow::Result<usize> {
    let now = state.clock.now();
    let due = offer::Entity::find()
        .filter(offer::Column::Status.eq(OfferStatus::Pending.as_str()))
        .filter(offer::Column::ExpiresAt.lte(now))
        .order_by_asc(offer::Column::ExpiresAt)
        .limit(500)
        .all(&state.db)
        .await?;
    let mut expired = 0;
    for o in due {
        let txn = service_kit::db::begin_write(&state.db).await?;
        let changed = offers::set_status(
            &*txn,
            state.clock.as_ref(),
            &o,
            // At the version read: a revision since may have moved the expiry.
            offers::From::at(&[OfferStatus::Pending], o.version),
            OfferStatus::Expired,
            Change::Expired,
            Some("the offer expired"),
        )
        .await?;
        txn.commit().await?;
        // None: withdrawn, rejected or accepted meanwhile, or another sweeper was first.
        if let Some(c) = changed {
            expired += 1;
            crate::outbound::after(state, std::slice::from_ref(&c)).await;
        }
    }
    if expired > 0 {
        tracing::info!(expired, "Offer sweep expired offers.");
    }
    Ok(expired)
}

/// One round of the supervised task `sweep` (every `MARKETPLACE_SWEEP_INTERVAL`): a pass,
/// then one more finished round counted (a test waits on it).
pub async fn round(state: AppState) -> anyhow::Result<usize> {
    let expired = run_once(&state).await;
    state
        .sweep_rounds
        .fetch_add(1, std::sync::atomic::Ordering::Release);
    expired
}
