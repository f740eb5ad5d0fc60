//! Redis side effects after a commit: live messages, the offer counters and trending.
//! Every name comes from `common::keys::Keys`. All of it is a view of the database:
//! failures are logged, and a counter that is missing (Redis restarted, key evicted) is
//! rebuilt from the database the next time it moves or is read.

use common::keys::ttl;
use fred::prelude::{KeysInterface, SetsInterface, SortedSetsInterface};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde::Serialize;
use uuid::Uuid;

use crate::entity::offer;
use crate::offers::OfferStatus;
use crate::state::AppState;

/// Publishes `message` on `channel` (lossy, after commit).
pub async fn publish(state: &AppState, channel: &str, message: &impl Serialize) {
    if let Err(error) = common::pubsub::publish(&state.redis, channel, message).await {
        tracing::warn!(%error, "Live offer message not published.");
    }
}

/// Active (pending or reserved) offers on an invoice, from the database.
pub async fn active_count(state: &AppState, invoice_id: Uuid) -> Result<i64, sea_orm::DbErr> {
    let active: Vec<&str> = OfferStatus::ACTIVE.iter().map(|s| s.as_str()).collect();
    let n = offer::Entity::find()
        .filter(offer::Column::InvoiceId.eq(invoice_id))
        .filter(offer::Column::Status.is_in(active))
        .count(&state.db)
        .await?;
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

async fn placed_count(state: &AppState, invoice_id: Option<Uuid>) -> Result<i64, sea_orm::DbErr> {
    let mut q = offer::Entity::find();
    if let Some(id) = invoice_id {
        q = q.filter(offer::Column::InvoiceId.eq(id));
    }
    let n = q.count(&state.db).await?;
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

/// After a counter moved to `got`: a value of 1 or less may mean the key was missing
/// (INCR/DECR start from 0), so it is checked against the database and set right.
async fn rebuild_if_fresh(state: &AppState, key: &str, got: i64, truth: Option<i64>) {
    if got > 1 {
        return;
    }
    let Some(truth) = truth else { return };
    if truth != got {
        let set: Result<(), _> = state.redis.set(key, truth, None, None, false).await;
        if let Err(error) = set {
            tracing::warn!(%error, "Offer counter not rebuilt.");
        } else {
            tracing::info!(
                from = got,
                to = truth,
                "Offer counter rebuilt from the database."
            );
        }
    }
}

/// A new offer: `INCR offers:count:{invoiceId}`, then one pipeline for
/// `metrics:offers:{invoiceId}` and `metrics:total_offers`.
pub async fn offer_placed(state: &AppState, invoice_id: Uuid) {
    adjust_active(state, invoice_id, 1).await;
    let per_invoice = state.keys.metrics_offers(invoice_id);
    let total = state.keys.metrics_total_offers();
    let pipeline = state.redis.next().pipeline();
    let queued: Result<(), fred::error::Error> = async {
        let () = pipeline.incr(&per_invoice).await?;
        let () = pipeline.incr(&total).await?;
        Ok(())
    }
    .await;
    let counts: Result<Vec<i64>, _> = match queued {
        Ok(()) => pipeline.all().await,
        Err(e) => Err(e),
    };
    match counts {
        Ok(c) if c.len() == 2 => {
            if c[0] <= 1 {
                let truth = placed_count(state, Some(invoice_id)).await.ok();
                rebuild_if_fresh(state, &per_invoice, c[0], truth).await;
            }
            if c[1] <= 1 {
                let truth = placed_count(state, None).await.ok();
                rebuild_if_fresh(state, &total, c[1], truth).await;
            }
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, %invoice_id, "Offer metrics not counted."),
    }
}

/// `offers:count:{invoiceId}` up or down by `delta`.
pub async fn adjust_active(state: &AppState, invoice_id: Uuid, delta: i64) {
    let key = state.keys.offers_count(invoice_id);
    let got: Result<i64, _> = state.redis.incr_by(&key, delta).await;
    match got {
        Ok(got) if got <= 1 => {
            let truth = active_count(state, invoice_id).await.ok();
            rebuild_if_fresh(state, &key, got, truth).await;
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, %invoice_id, "Active offer count not moved."),
    }
}

/// The counters of an invoice as Redis has them, rebuilding any that is missing:
/// (active offers, offers ever placed).
pub async fn counters(state: &AppState, invoice_id: Uuid) -> anyhow::Result<(i64, i64)> {
    let active_key = state.keys.offers_count(invoice_id);
    let placed_key = state.keys.metrics_offers(invoice_id);
    let (active, placed): (Option<i64>, Option<i64>) = (
        state.redis.get(&active_key).await?,
        state.redis.get(&placed_key).await?,
    );
    let active = match active {
        Some(n) => n,
        None => {
            let n = active_count(state, invoice_id).await?;
            let _: Option<String> = state
                .redis
                .set(
                    &active_key,
                    n,
                    None,
                    Some(fred::types::SetOptions::NX),
                    false,
                )
                .await?;
            n
        }
    };
    let placed = match placed {
        Some(n) => n,
        None => {
            let n = placed_count(state, Some(invoice_id)).await?;
            let _: Option<String> = state
                .redis
                .set(
                    &placed_key,
                    n,
                    None,
                    Some(fred::types::SetOptions::NX),
                    false,
                )
                .await?;
            n
        }
    };
    Ok((active, placed))
}

/// The unix minute of the injected clock.
pub fn minute(state: &AppState) -> i64 {
    state.clock.now().timestamp().div_euclid(60)
}

/// Counts a view of a listed invoice by `user` towards trending: at most once per user,
/// invoice and minute (`SADD` on the minute's viewer set answers whether the pair is new),
/// into the minute's bucket.
pub async fn record_view(state: &AppState, user: Uuid, invoice_id: Uuid) {
    let m = minute(state);
    let viewers = state.keys.trending_viewers(m);
    let bucket = state.keys.trending_bucket(m);
    let result: Result<(), fred::error::Error> = async {
        let added: i64 = state
            .redis
            .sadd(&viewers, format!("{user}/{invoice_id}"))
            .await?;
        if added == 1 {
            let _: () = state
                .redis
                .expire(&viewers, 2 * ttl::TRENDING_BUCKET as i64, None)
                .await?;
            let _: f64 = state
                .redis
                .zincrby(&bucket, 1.0, invoice_id.to_string())
                .await?;
            let _: () = state
                .redis
                .expire(
                    &bucket,
                    (ttl::TRENDING_WINDOW + ttl::TRENDING_BUCKET) as i64,
                    None,
                )
                .await?;
        }
        Ok(())
    }
    .await;
    if let Err(error) = result {
        tracing::warn!(%error, %invoice_id, "View not counted for trending.");
    }
}

/// Unions the last 60 minute buckets into `trending:invoices` and returns its top
/// `fetch` (invoice, views), most viewed first.
pub async fn trending(state: &AppState, fetch: i64) -> anyhow::Result<Vec<(Uuid, i64)>> {
    let m = minute(state);
    let buckets = (ttl::TRENDING_WINDOW / ttl::TRENDING_BUCKET) as i64;
    let keys: Vec<String> = (0..buckets)
        .map(|i| state.keys.trending_bucket(m - i))
        .collect();
    let dest = state.keys.trending();
    let _: i64 = state
        .redis
        .zunionstore(&dest, keys, None::<f64>, None)
        .await?;
    let _: () = state
        .redis
        .expire(&dest, ttl::TRENDING_WINDOW as i64, None)
        .await?;
    let top: Vec<(String, f64)> = state
        .redis
        .zrange(&dest, 0, fetch - 1, None, true, None, true)
        .await?;
    Ok(top
        .into_iter()
        .filter_map(|(id, score)| Some((id.parse().ok()?, score.round() as i64)))
        .collect())
}
