//! What follows a committed change of payments: the relay sends their events, and each
//! payment's live status is written to `payment:{id}` (hash {status, updated_at}) and
//! published on the channel of the same name; a pending transfer is queued for the
//! settlement worker. Failures are logged: the changes
//! themselves have happened, and nothing depends on the live status (it is for screens).

use fred::prelude::HashesInterface;
use serde::Serialize;
use uuid::Uuid;

use crate::state::AppState;
use crate::store::entity::payment;

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
        futures::future::join_all(payments.iter().map(|p| live(state, p))),
    )
    .await;
}

/// Writes and publishes `p`'s live status.
async fn live(state: &AppState, p: &payment::Model) {
    let key = state.keys.payment(p.id);
    let written: Result<(), _> = state
        .redis
        .hset(
            &key,
            [
                ("status", p.status.clone()),
                ("updated_at", p.updated_at.to_rfc3339()),
            ],
        )
        .await;
    if let Err(error) = written {
        tracing::warn!(%error, payment_id = %p.id, "Live payment status not written.");
        return;
    }
    let msg = LiveStatus {
        payment_id: p.id,
        kind: &p.kind,
        status: &p.status,
        updated_at: p.updated_at,
    };
    if let Err(error) = service_kit::pubsub::publish(&state.redis, &key, &msg).await {
        tracing::warn!(%error, payment_id = %p.id, "Live payment status not published.");
    }
}
