//! Applies the webhook deliveries the endpoint accepted ([`crate::store::receipts`]):
//! oldest first, up to [`BATCH`] in one transaction (one commit for all, the effects and
//! the rows marked applied together), one batch per lane at once, woken by each
//! accepted delivery and polling every [`POLL`] for any left behind (a crash between
//! answer and apply, another instance's, one whose retry is due).
//!
//! Answers first: a round that is not catching up a backlog starts only when this
//! process answers no delivery ([`crate::state::AppState::answering`]), or after
//! `PAYMENTS_APPLY_MAX_LAG_MS`. On a machine the endpoint shares with its applier, a
//! provider's burst is answered at the endpoint's pace and applied right after (or, if
//! the burst outlasts the lag, side by side as before); a `payments worker` process
//! answers nothing and never waits.
//!
//! If a batch fails (a conflict, a deadlock, a delivery whose effect cannot be applied),
//! it is rolled back as a whole and its deliveries are applied one transaction each, so
//! one that fails is kept with its error and tried again later (2^attempts s, at most an
//! hour) without holding the others back. An effect is applied once: in the transaction
//! that marks its row applied, on a row taken `FOR UPDATE SKIP LOCKED` (PostgreSQL) or
//! under SQLite's one writer.

use std::time::Duration;

use service_kit::shutdown::CancellationToken;

use crate::domain::PaymentsError;
use crate::state::AppState;
use crate::store::outcomes::{self, Changed};
use crate::store::receipts::{self, Waiting};

/// Deliveries applied per transaction at most.
pub const BATCH: u64 = 32;
/// How often the applier looks for deliveries when nothing wakes it.
pub const POLL: Duration = Duration::from_secs(1);

/// The applier, until `stop`. On PostgreSQL one stream per lane ([`receipts::LANES`],
/// by seller, so no two streams wait for the same seller's payable account), each its
/// own transaction and connection; on SQLite (one writer) one stream takes every lane.
pub async fn run(state: AppState, stop: CancellationToken) -> anyhow::Result<()> {
    let lanes: Vec<Option<i16>> = match sea_orm::ConnectionTrait::get_database_backend(&state.db) {
        sea_orm::DatabaseBackend::Sqlite => vec![None],
        _ => (0..receipts::LANES).map(Some).collect(),
    };
    futures::future::join_all(lanes.into_iter().map(|lane| stream(&state, lane, &stop))).await;
    Ok(())
}

/// One applier loop ([`service_kit::wake::Rounds`]): a round at start, when woken or
/// every [`POLL`], rounds back to back while full batches come out.
async fn stream(state: &AppState, lane: Option<i16>, stop: &CancellationToken) {
    let full = usize::try_from(BATCH).unwrap_or(usize::MAX);
    let rounds = service_kit::wake::Rounds::new(stop.clone(), state.webhooks.clone(), POLL);
    let mut more = true;
    while rounds.next(more).await {
        if !more {
            // A fresh round, not a backlog being caught up: deliveries being answered
            // go first (the provider waits on them; their effects can follow), for at
            // most the configured lag, after which full rounds run back to back until
            // the backlog is gone.
            state.answering.quiet(state.config.apply_max_lag).await;
        }
        more = match apply_due(state, lane).await {
            Ok(n) => n >= full,
            Err(error) => {
                tracing::warn!(%error, "Applying webhook deliveries failed.");
                false
            }
        };
    }
}

/// One round: takes up to [`BATCH`] due deliveries (of `lane`, or of all) and applies
/// them; answers how many it took.
pub async fn apply_due(state: &AppState, lane: Option<i16>) -> Result<usize, PaymentsError> {
    let now = state.clock.now();
    let txn = service_kit::db::begin_write(&state.db).await?;
    let mut due = receipts::take_due(&*txn, now, lane, BATCH).await?;
    if due.is_empty() {
        txn.rollback().await?;
        return Ok(0);
    }
    // The row every batch contends for is a seller's payable account: taken in seller
    // order in every batch, two batches wait for each other but never deadlock. A
    // payment's deliveries keep their order.
    let sellers = receipts::sellers_of(&*txn, &due).await?;
    due.sort_by_key(|w| (sellers.get(&w.payment_id).copied(), w.id));
    let mut changed = Changed::new();
    let mut failure = None;
    for w in &due {
        match apply_one(&*txn, state, w).await {
            Ok(c) => changed.extend(c),
            Err(error) => {
                failure = Some(error);
                break;
            }
        }
    }
    if failure.is_none() {
        let ids: Vec<_> = due.iter().map(|w| w.id).collect();
        receipts::mark_applied(&*txn, &ids, now).await?;
        txn.commit().await?;
        tracing::debug!(deliveries = due.len(), "Webhook deliveries applied.");
        crate::outbound::after(state, &changed).await;
        return Ok(due.len());
    }
    txn.rollback().await?;
    if due.len() > 1 {
        tracing::info!(deliveries = due.len(), error = %failure.as_ref().map(ToString::to_string).unwrap_or_default(), "A batch of webhook deliveries failed; applying them one at a time.");
    }
    for w in &due {
        if let Err(error) = apply_alone(state, w.id).await {
            tracing::warn!(%error, receipt = %w.id, "A webhook delivery could not be applied; it will be tried again.");
        }
    }
    Ok(due.len())
}

/// Applies the delivery `id` in a transaction of its own (if it still waits); a failure
/// is recorded on its row.
async fn apply_alone(state: &AppState, id: uuid::Uuid) -> Result<(), PaymentsError> {
    let now = state.clock.now();
    let txn = service_kit::db::begin_write(&state.db).await?;
    let Some(w) = receipts::take(&*txn, id).await? else {
        txn.rollback().await?;
        return Ok(());
    };
    match apply_one(&*txn, state, &w).await {
        Ok(changed) => {
            receipts::mark_applied(&*txn, &[w.id], now).await?;
            txn.commit().await?;
            crate::outbound::after(state, &changed).await;
            Ok(())
        }
        Err(error) => {
            txn.rollback().await?;
            receipts::mark_failed(&state.db, &w, &error.to_string(), now).await?;
            Err(error)
        }
    }
}

async fn apply_one<C: sea_orm::ConnectionTrait>(
    txn: &C,
    state: &AppState,
    w: &Waiting,
) -> Result<Changed, PaymentsError> {
    let effect = w
        .effect
        .as_ref()
        .map_err(|e| PaymentsError::Store(anyhow::anyhow!("receipt {}: {e}", w.id)))?;
    outcomes::apply(
        txn,
        state.clock.as_ref(),
        state.provider.name(),
        w.payment_id,
        effect,
    )
    .await
}
