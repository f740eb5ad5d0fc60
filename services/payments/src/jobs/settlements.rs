//! The settlement worker: money going out. `settlements:high` carries seller payouts,
//! `settlements:normal` distributions and refunds; a job is `{payment_id}` and may be
//! delivered more than once (the queue is at-least-once: a worker killed mid-job has its
//! job taken back).
//!
//! A transfer's provider reference is the payment's own (`vst_<id>`), the same on every
//! attempt: the provider moves the money once per reference, so a retry (after a crash,
//! a timeout, a redelivery) can never pay twice. The worker sends the transfer and, when
//! the provider's answer is final (success, failed, reversed, abandoned, ...), records it;
//! a transfer still pending at the provider is settled by its webhook or by the sweep's
//! reconciliation, never sent again under another reference. A payout whose seller has
//! no payout account waits (its note says so) until `PUT /payout-account`. A transfer
//! that failed or came back is owed again under a new payment (`retry_of`), sent only
//! to a payout account set after the failure.

use common::events::payments::{PaymentKind, PaymentStatus};
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};
use service_kit::queue::{Job, Worker, WorkerConfig, handler_fn};
use service_kit::shutdown::CancellationToken;
use uuid::Uuid;

use crate::provider::{ProviderError, ProviderStatus, Transfer};
use crate::state::AppState;
use crate::store::entity::{payment, payout_account};
use crate::store::financings;
use crate::store::outcomes::{self, TransferOutcome};

#[derive(Debug, Serialize, Deserialize)]
pub struct SettlementJob {
    pub payment_id: Uuid,
}

/// Queues the transfer of `p` (payouts first).
pub async fn enqueue(state: &AppState, p: &payment::Model) -> anyhow::Result<()> {
    let queue = if p.kind == PaymentKind::Payout.as_str() {
        state.keys.settlements_high()
    } else {
        state.keys.settlements_normal()
    };
    service_kit::queue::enqueue_json(&state.redis, &queue, &SettlementJob { payment_id: p.id })
        .await?;
    Ok(())
}

/// Queues every outgoing payment among `changed` that is pending.
pub async fn enqueue_pending(state: &AppState, changed: &[payment::Model]) {
    let outgoing = changed.iter().filter(|p| {
        [
            PaymentKind::Payout,
            PaymentKind::Distribution,
            PaymentKind::Refund,
        ]
        .iter()
        .any(|k| p.kind == k.as_str())
            && p.status == PaymentStatus::Pending.as_str()
    });
    futures::future::join_all(outgoing.map(|p| async move {
        if let Err(error) = enqueue(state, p).await {
            // The sweep queues pending transfers again.
            tracing::warn!(%error, payment_id = %p.id, "Settlement job not queued.");
        }
    }))
    .await;
}

/// The worker until `stop` (the supervised task `settlements`).
pub async fn run(state: AppState, stop: CancellationToken) -> anyhow::Result<()> {
    let worker = Worker::connect(
        &state.config.base.redis_url,
        &state.redis,
        [
            state.keys.settlements_high(),
            state.keys.settlements_normal(),
        ],
        WorkerConfig::default(),
    )
    .await?;
    let st = state.clone();
    let handler = handler_fn(move |job: Job| {
        let st = st.clone();
        async move { handle(&st, &job).await }
    });
    worker.run(handler, stop).await?;
    Ok(())
}

/// Sends one payment's transfer and records a final answer. An error means "try again
/// later" (the queue retries with backoff).
pub async fn handle(state: &AppState, job: &Job) -> anyhow::Result<()> {
    let SettlementJob { payment_id } = job.payload_as()?;
    let Some(p) = payment::Entity::find_by_id(payment_id)
        .one(&state.db)
        .await?
    else {
        return Ok(());
    };
    if p.status()? != PaymentStatus::Pending {
        return Ok(());
    }
    if p.kind()? == PaymentKind::Refund {
        return refund(state, &p).await;
    }
    let Some(payee) = p.payee_id else {
        anyhow::bail!("payment {} has no payee", p.id);
    };
    let Some(account) = payout_account::Entity::find_by_id((payee, p.currency.clone()))
        .one(&state.db)
        .await?
    else {
        let note = format!(
            "waiting for the payee's {} payout account (PUT /api/payments/payout-account)",
            p.currency
        );
        let note = note.as_str();
        hold(state, &p, note).await?;
        tracing::info!(payment_id = %p.id, "Transfer waits for a payout account.");
        return Ok(());
    };
    if let Some(failed) = p.retry_of {
        // Sent again after a failure: only to an account set since.
        let failed_at = payment::Entity::find_by_id(failed)
            .one(&state.db)
            .await?
            .map(|q| q.updated_at);
        if failed_at.is_some_and(|at| account.updated_at <= at) {
            hold(state, &p, outcomes::WAITING_FOR_NEW_ACCOUNT).await?;
            tracing::info!(payment_id = %p.id, "Transfer waits for a new payout account.");
            return Ok(());
        }
    }
    let sent = state
        .provider
        .transfer(Transfer {
            reference: &p.reference,
            amount_minor: p.amount_minor,
            currency: p.currency()?,
            recipient: &account.recipient_code,
            reason: "Vestio settlement",
        })
        .await;
    let transfer = match sent {
        Ok(t) => t,
        Err(ProviderError::Unavailable(e)) => anyhow::bail!("transfer {}: {e}", p.reference),
        Err(e) => {
            // Refused: ask what the provider knows of the reference before giving up.
            match state.provider.verify_transfer(&p.reference).await {
                Ok(t) => t,
                Err(_) => anyhow::bail!("transfer {} refused: {e}", p.reference),
            }
        }
    };
    record(state, &p, transfer.status).await
}

/// Leaves `p` pending with `note` saying what it waits for.
async fn hold(state: &AppState, p: &payment::Model, note: &str) -> anyhow::Result<()> {
    if p.note.as_deref() != Some(note) {
        let txn = service_kit::db::begin_write(&state.db).await?;
        let now = state.clock.now();
        financings::set_payment(&*txn, now, p, PaymentStatus::Pending, 0, Some(note.into()))
            .await?;
        txn.commit().await?;
    }
    Ok(())
}

/// A refund goes back through the charge it refunds. One refund per charge: if the
/// provider already shows the charge refunded by this much (a worker that died after
/// asking), it is recorded, not asked again.
async fn refund(state: &AppState, p: &payment::Model) -> anyhow::Result<()> {
    let Some(of) = p.refund_of else {
        anyhow::bail!("refund {} names no charge", p.id);
    };
    let Some(charge) = payment::Entity::find_by_id(of).one(&state.db).await? else {
        anyhow::bail!("refund {}: no charge {of}", p.id);
    };
    if state.provider.refunded(&charge.reference).await? < p.amount_minor {
        match state
            .provider
            .refund(&charge.reference, p.amount_minor)
            .await
        {
            Ok(()) => {}
            Err(ProviderError::Unavailable(e)) => anyhow::bail!("refund {}: {e}", p.id),
            Err(e) => {
                tracing::warn!(payment_id = %p.id, error = %e, "Refund refused by the provider.");
                return record_outcome(state, p, TransferOutcome::Failed).await;
            }
        }
    }
    record_outcome(state, p, TransferOutcome::Succeeded).await
}

/// Records the provider's `status` of `p`'s transfer if it is final.
pub async fn record(
    state: &AppState,
    p: &payment::Model,
    status: ProviderStatus,
) -> anyhow::Result<()> {
    let Some(outcome) = TransferOutcome::of(status) else {
        tracing::info!(payment_id = %p.id, ?status, "Transfer pending at the provider.");
        return Ok(());
    };
    record_outcome(state, p, outcome).await
}

async fn record_outcome(
    state: &AppState,
    p: &payment::Model,
    outcome: TransferOutcome,
) -> anyhow::Result<()> {
    let txn = service_kit::db::begin_write(&state.db).await?;
    let locked = financings::lock_payment(&*txn, p.id).await?;
    let changed = outcomes::transfer(&*txn, state.clock.as_ref(), &locked, outcome).await?;
    txn.commit().await?;
    crate::outbound::after(state, &changed).await;
    Ok(())
}
