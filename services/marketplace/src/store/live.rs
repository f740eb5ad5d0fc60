//! Redis side effects after a commit: live messages, the offer counters and trending.
//! Every name comes from `common::keys::Keys`. All of it is a view of the database:
//! failures are logged, and a counter that is missing (Redis restarted, key evicted) is
//! rebuilt from the database the next time it moves or is read.

use common::keys::ttl;
use fred::prelude::{KeysInterface, SetsInterface, SortedSetsInterface};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::OfferStatus;
use crate::state::AppState;
use crate::store::entity::offer;

/// Publishes `message` on `channel` (lossy, after commit).
pub async fn publish(state: &AppState, channel: &str, message: &impl Serialize) {
    if let Err(error) = service_kit::pubsub::publish(&state.redis, channel, message).await {
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

/// `INCRBY` only if the counter exists (nil otherwise), so a missing counter is rebuilt
/// from the database instead of restarting from 0.
static INCR_IF_EXISTS: std::sync::LazyLock<service_kit::redis::Lua> =
    std::sync::LazyLock::new(|| {
        service_kit::redis::Lua::new(
            "if redis.call('EXISTS', KEYS[1]) == 1 then \
             return redis.call('INCRBY', KEYS[1], ARGV[1]) else return false end",
        )
    });

/// Sets a missing counter to the database's figure (`SET NX`: a concurrent rebuild or
/// increment that got there first wins).
async fn rebuild(state: &AppState, key: &str, truth: Result<i64, sea_orm::DbErr>) {
    let result: anyhow::Result<()> = async {
        let truth = truth?;
        let _: Option<String> = state
            .redis
            .set(key, truth, None, Some(fred::types::SetOptions::NX), false)
            .await?;
        tracing::info!(
            to = truth,
            "Missing offer counter rebuilt from the database."
        );
        Ok(())
    }
    .await;
    if let Err(error) = result {
        tracing::warn!(%error, "Offer counter not rebuilt.");
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
        // One key per script, so each stays single-slot on Redis Cluster.
        for key in [&per_invoice, &total] {
            INCR_IF_EXISTS
                .queue(&pipeline, vec![key.clone()], vec!["1".into()])
                .await?;
        }
        Ok(())
    }
    .await;
    let counts: Result<Vec<Option<i64>>, _> = match queued {
        Ok(()) => pipeline.all().await,
        Err(e) => Err(e),
    };
    match counts {
        Ok(c) => {
            if c.first().copied().flatten().is_none() {
                rebuild(
                    state,
                    &per_invoice,
                    placed_count(state, Some(invoice_id)).await,
                )
                .await;
            }
            if c.get(1).copied().flatten().is_none() {
                rebuild(state, &total, placed_count(state, None).await).await;
            }
        }
        Err(error) => tracing::warn!(%error, %invoice_id, "Offer metrics not counted."),
    }
}

/// `offers:count:{invoiceId}` up or down by `delta`.
pub async fn adjust_active(state: &AppState, invoice_id: Uuid, delta: i64) {
    let key = state.keys.offers_count(invoice_id);
    let got: Result<Option<i64>, _> = INCR_IF_EXISTS
        .call(
            &state.redis.next().clone(),
            vec![key.clone()],
            vec![delta.to_string()],
        )
        .await;
    match got {
        Ok(Some(_)) => {}
        Ok(None) => rebuild(state, &key, active_count(state, invoice_id).await).await,
        Err(error) => tracing::warn!(%error, %invoice_id, "Active offer count not moved."),
    }
}

/// A new listing's counters start at the database's figures (normally 0), so the first
/// offers increment rather than race to rebuild them.
pub async fn init_counters(state: &AppState, invoice_id: Uuid) {
    let active = state.keys.offers_count(invoice_id);
    rebuild(state, &active, active_count(state, invoice_id).await).await;
    let placed = state.keys.metrics_offers(invoice_id);
    rebuild(state, &placed, placed_count(state, Some(invoice_id)).await).await;
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

/// The cache scope of the rendered trending pages: bumped by every view that counts and
/// after every committed change of listings or offers (what a page shows).
pub const TRENDING_SCOPE: &str = "trending";

/// Queues the first half of counting a view by `user` of `invoice_id` towards trending
/// (two answers: whether the pair is new this minute, and the expiry's): `SADD` on the
/// minute's viewer set, so a user's views of an invoice count at most once a minute.
/// Sent with the view's own reads; [`count_view`] finishes a new pair.
pub async fn queue_view(
    state: &AppState,
    pipeline: &fred::clients::Pipeline<fred::clients::Client>,
    minute: i64,
    user: Uuid,
    invoice_id: Uuid,
) -> Result<(), fred::error::Error> {
    let viewers = state.keys.trending_viewers(minute);
    let () = pipeline
        .sadd(&viewers, format!("{user}/{invoice_id}"))
        .await?;
    let () = pipeline
        .expire(&viewers, 2 * ttl::TRENDING_BUCKET as i64, None)
        .await?;
    Ok(())
}

/// A new (user, invoice, minute) view of a listed invoice: into the minute's bucket (and
/// its expiry), and the rendered trending pages are stale. One round trip.
pub async fn count_view(state: &AppState, minute: i64, invoice_id: Uuid) {
    let bucket = state.keys.trending_bucket(minute);
    let result: Result<(), fred::error::Error> = async {
        let pipeline = state.redis.next().pipeline();
        let () = pipeline
            .zincrby(&bucket, 1.0, invoice_id.to_string())
            .await?;
        let () = pipeline
            .expire(
                &bucket,
                (ttl::TRENDING_WINDOW + ttl::TRENDING_BUCKET) as i64,
                None,
            )
            .await?;
        state
            .cache
            .queue_invalidate(&pipeline, TRENDING_SCOPE)
            .await?;
        let _: Vec<fred::types::Value> = pipeline.all().await?;
        Ok(())
    }
    .await;
    if let Err(error) = result {
        tracing::warn!(%error, %invoice_id, "View not counted for trending.");
    }
}

/// After committed changes of the listings `invoices` (their status, their offers): their
/// cards and the rendered trending pages are stale. One round trip.
pub async fn changed(state: &AppState, invoices: impl IntoIterator<Item = Uuid>) {
    let mut scopes: Vec<String> = invoices
        .into_iter()
        .map(common::keys::Keys::listing_scope)
        .collect();
    scopes.sort_unstable();
    scopes.dedup();
    scopes.push(TRENDING_SCOPE.to_owned());
    if let Err(error) = state.cache.invalidate_all(&scopes).await {
        // The entries expire by their TTLs; until then a reader may see the old figures.
        tracing::warn!(%error, "Listing cache generations not bumped.");
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
    // One round trip: union, expiry, top.
    let pipeline = state.redis.next().pipeline();
    let _: () = pipeline.zunionstore(&dest, keys, None::<f64>, None).await?;
    let _: () = pipeline
        .expire(&dest, ttl::TRENDING_WINDOW as i64, None)
        .await?;
    let _: () = pipeline
        .zrange(&dest, 0, fetch - 1, None, true, None, true)
        .await?;
    let (_, _, top): (i64, i64, Vec<(String, f64)>) = pipeline.all().await?;
    Ok(top
        .into_iter()
        .filter_map(|(id, score)| Some((id.parse().ok()?, score.round() as i64)))
        .collect())
}
