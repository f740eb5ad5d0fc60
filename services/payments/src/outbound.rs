//! What follows a committed change of payments: the relay sends their events, and each
//! payment's live status is written to `payment:{id}` (hash {status, updated_at,
//! version}) and published on the channel of the same name; a pending transfer is queued
//! for the settlement worker. Failures are logged: the changes themselves have happened.
//! The live status is written only over an older version (two changes' writes may arrive
//! in either order), and the sweep rewrites any recent payment whose hash is missing or
//! older than the database ([`reconcile_live`]): a process that died between a commit
//! and its write, or a Redis that was away, costs a sweep interval, not a wrong status.

use std::sync::LazyLock;

use fred::prelude::HashesInterface;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use service_kit::redis::Lua;
use uuid::Uuid;

use crate::state::AppState;
use crate::store::entity::payment;

/// Writes `payment:{id}` and publishes the message on it, only if the hash holds an older
/// version (or none).
static LIVE_IF_NEWER: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        r"
local held = redis.call('HGET', KEYS[1], 'version')
if held and tonumber(held) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'updated_at', ARGV[3], 'version', ARGV[1])
redis.call('PUBLISH', KEYS[1], ARGV[4])
return 1
",
    )
});

/// How far back the sweep checks live statuses.
const LIVE_WINDOW_MINUTES: i64 = 15;
/// Payments checked per round at most.
const LIVE_CHECKED: u64 = 500;

/// The message on `payment:{id}`.
#[derive(Debug, Serialize)]
pub struct LiveStatus<'a> {
    pub payment_id: Uuid,
    pub kind: &'a str,
    pub status: &'a str,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// After committed changes of `payments`: their Redis writes all at once (one
/// pipeline on the shared connection, not a round trip after another).
pub async fn after(state: &AppState, payments: &[payment::Model]) {
    if payments.is_empty() {
        return;
    }
    state.relay.wake();
    futures::future::join(
        crate::jobs::settlements::enqueue_pending(state, payments),
        live(state, payments),
    )
    .await;
}

/// Writes and publishes each payment's live status (over older versions only), in one
/// pipeline; answers how many were written.
async fn live(state: &AppState, payments: &[payment::Model]) -> usize {
    let result: anyhow::Result<usize> = async {
        let pipeline = state.redis.next().pipeline();
        for p in payments {
            let msg = serde_json::to_string(&LiveStatus {
                payment_id: p.id,
                kind: &p.kind,
                status: &p.status,
                updated_at: p.updated_at,
            })?;
            LIVE_IF_NEWER
                .queue(
                    &pipeline,
                    vec![state.keys.payment(p.id)],
                    vec![
                        p.version.to_string(),
                        p.status.clone(),
                        p.updated_at.to_rfc3339(),
                        msg,
                    ],
                )
                .await?;
        }
        let written: Vec<i64> = pipeline.all().await?;
        Ok(written.iter().filter(|w| **w == 1).count())
    }
    .await;
    result.unwrap_or_else(|error| {
        tracing::warn!(%error, payments = payments.len(), "Live payment statuses not written; the sweep rewrites them.");
        0
    })
}

/// The sweep's check of the live statuses: the payments changed in the last minutes
/// whose `payment:{id}` is missing or holds an older version get theirs written. Answers
/// how many were.
pub async fn reconcile_live(state: &AppState) -> anyhow::Result<usize> {
    let since = state.clock.now() - chrono::Duration::minutes(LIVE_WINDOW_MINUTES);
    let recent = payment::Entity::find()
        .filter(payment::Column::UpdatedAt.gte(since))
        .order_by_desc(payment::Column::UpdatedAt)
        .limit(LIVE_CHECKED)
        .all(&state.db)
        .await?;
    if recent.is_empty() {
        return Ok(0);
    }
    let pipeline = state.redis.next().pipeline();
    for p in &recent {
        let () = pipeline.hget(state.keys.payment(p.id), "version").await?;
    }
    let held: Vec<Option<i64>> = pipeline.all().await?;
    let behind: Vec<payment::Model> = recent
        .into_iter()
        .zip(held)
        .filter(|(p, v)| v.is_none_or(|v| v < p.version))
        .map(|(p, _)| p)
        .collect();
    if behind.is_empty() {
        return Ok(0);
    }
    let written = live(state, &behind).await;
    tracing::info!(
        payments = written,
        "Live payment statuses behind the database rewritten."
    );
    Ok(written)
}
