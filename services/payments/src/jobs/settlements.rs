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
//!
//! Jobs are taken up to `PAYMENTS_SETTLEMENT_BATCH` (32) at a time from one queue: their payments and payout
//! accounts read in one statement each, their transfers sent side by side (at most
//! [`SENT_AT_ONCE`] in flight), and every final answer recorded in one transaction, in
//! payee order (the order the webhook applier takes sellers' payable accounts in, so the
//! two wait for each other but never in a cycle). If anything in a batch fails, the worker
//! handles its jobs one at a time: what was recorded is no longer pending, and a transfer
//! sent again under its reference is not paid again.

use std::collections::HashMap;

use async_trait::async_trait;
use common::events::payments::{PaymentKind, PaymentStatus};
use futures::StreamExt;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use service_kit::queue::{Job, JobHandler, Worker, WorkerConfig};
use service_kit::shutdown::CancellationToken;
use uuid::Uuid;

use crate::provider::{ProviderError, ProviderStatus, Transfer};
use crate::state::AppState;
use crate::store::entity::{payment, payout_account};
use crate::store::financings;
use crate::store::outcomes::{self, Changed, TransferOutcome};

/// A batch's transfers in flight at the provider at once.
pub const SENT_AT_ONCE: usize = 8;

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
    worker.run(Settlements { state }, stop).await?;
    Ok(())
}

/// The settlement queues' [`JobHandler`]: one job alone, or up to
/// `PAYMENTS_SETTLEMENT_BATCH` together.
struct Settlements {
    state: AppState,
}

#[async_trait]
impl JobHandler for Settlements {
    async fn handle(&self, job: &Job) -> anyhow::Result<()> {
        handle(&self.state, job).await
    }

    fn batch_size(&self) -> usize {
        self.state.config.settlement_batch
    }

    async fn handle_batch(&self, jobs: &[Job]) -> anyhow::Result<()> {
        handle_batch(&self.state, jobs).await
    }
}

/// Sends one payment's transfer and records a final answer (a batch of one). An error
/// means "try again later" (the queue retries with backoff).
pub async fn handle(state: &AppState, job: &Job) -> anyhow::Result<()> {
    handle_batch(state, std::slice::from_ref(job)).await
}

/// Handles `jobs` together (see the module documentation): refunds and payments
/// without a payee one by one, every other pending transfer in the batch's reads, sends
/// and transaction. Fails if any of them failed (the worker then handles each job alone).
async fn handle_batch(state: &AppState, jobs: &[Job]) -> anyhow::Result<()> {
    let ids = jobs
        .iter()
        .map(|job| job.payload_as::<SettlementJob>().map(|j| j.payment_id))
        .collect::<Result<Vec<_>, _>>()?;
    let mut pending = Vec::with_capacity(ids.len());
    for p in payment::Entity::find()
        .filter(payment::Column::Id.is_in(ids))
        .all(&state.db)
        .await?
    {
        if p.status()? == PaymentStatus::Pending {
            pending.push(p);
        }
    }
    let (transfers, others): (Vec<payment::Model>, Vec<payment::Model>) = pending
        .into_iter()
        .partition(|p| p.payee_id.is_some() && p.kind().is_ok_and(|k| k != PaymentKind::Refund));
    for p in &others {
        match p.kind()? {
            PaymentKind::Refund => refund(state, p).await?,
            _ => anyhow::bail!("payment {} has no payee", p.id),
        }
    }
    let accounts: HashMap<(uuid::Uuid, String), payout_account::Model> =
        payout_account::Entity::find()
            .filter(
                payout_account::Column::UserId.is_in(transfers.iter().filter_map(|p| p.payee_id)),
            )
            .all(&state.db)
            .await?
            .into_iter()
            .map(|a| ((a.user_id, a.currency.clone()), a))
            .collect();
    let mut ready = Vec::with_capacity(transfers.len());
    let mut waiting = Vec::new();
    for p in &transfers {
        let account = p
            .payee_id
            .and_then(|payee| accounts.get(&(payee, p.currency.clone())).cloned());
        match payable(state, p, account).await? {
            Payable::To(account) => ready.push((p, account)),
            Payable::Waits(note) => waiting.push((p, note)),
        }
    }
    // Side by side, each under its own reference: the provider pays a reference once.
    let sends: Vec<_> = ready
        .iter()
        .map(|(p, account)| send(state, p, account))
        .collect();
    let sent: Vec<anyhow::Result<ProviderStatus>> = futures::stream::iter(sends)
        .buffered(SENT_AT_ONCE)
        .collect()
        .await;
    let mut answered = Vec::with_capacity(ready.len());
    let mut failure = None;
    for ((p, _), status) in ready.iter().zip(sent) {
        match status {
            Ok(status) => match TransferOutcome::of(status) {
                Some(outcome) => answered.push((*p, outcome)),
                None => {
                    tracing::info!(payment_id = %p.id, ?status, "Transfer pending at the provider.");
                }
            },
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    record_all(state, answered, waiting).await?;
    failure.map_or(Ok(()), Err)
}

/// Whether a pending transfer can be sent now.
enum Payable {
    /// To this payout account.
    To(payout_account::Model),
    /// Not yet; the payment's note says what it waits for.
    Waits(String),
}

/// Whether `p` can be paid to `account` (its payee's account in its currency, if any):
/// not without an account, and a transfer sent again after a failure only to an account
/// set since the failure.
async fn payable(
    state: &AppState,
    p: &payment::Model,
    account: Option<payout_account::Model>,
) -> anyhow::Result<Payable> {
    let Some(account) = account else {
        return Ok(Payable::Waits(format!(
            "waiting for the payee's {} payout account (PUT /api/payments/payout-account)",
            p.currency
        )));
    };
    if let Some(failed) = p.retry_of {
        let failed_at = payment::Entity::find_by_id(failed)
            .one(&state.db)
            .await?
            .map(|q| q.updated_at);
        if failed_at.is_some_and(|at| account.updated_at <= at) {
            return Ok(Payable::Waits(outcomes::WAITING_FOR_NEW_ACCOUNT.to_owned()));
        }
    }
    Ok(Payable::To(account))
}

/// Sends `p`'s transfer to `account`; answers the provider's status of it. A refused
/// transfer is looked up by its reference before giving up (a worker that died after
/// sending it sends it again and is refused).
async fn send(
    state: &AppState,
    p: &payment::Model,
    account: &payout_account::Model,
) -> anyhow::Result<ProviderStatus> {
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
        Err(e) => match state.provider.verify_transfer(&p.reference).await {
            Ok(t) => t,
            Err(_) => anyhow::bail!("transfer {} refused: {e}", p.reference),
        },
    };
    Ok(transfer.status)
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

async fn record_outcome(
    state: &AppState,
    p: &payment::Model,
    outcome: TransferOutcome,
) -> anyhow::Result<()> {
    record_all(state, vec![(p, outcome)], Vec::new()).await
}

/// Records in one transaction each of `answered`, in payee order (see the module
/// documentation; each payment is locked and its outcome applied as it is now), and the
/// note of each of `waiting` that says what it waits for (a payment that changed since
/// it was read keeps its own).
async fn record_all(
    state: &AppState,
    mut answered: Vec<(&payment::Model, TransferOutcome)>,
    waiting: Vec<(&payment::Model, String)>,
) -> anyhow::Result<()> {
    let waiting: Vec<_> = waiting
        .into_iter()
        .filter(|(p, note)| p.note.as_deref() != Some(note.as_str()))
        .collect();
    if answered.is_empty() && waiting.is_empty() {
        return Ok(());
    }
    answered.sort_by_key(|(p, _)| (p.payee_id, p.id));
    let txn = service_kit::db::begin_write(&state.db).await?;
    let now = state.clock.now();
    for (p, note) in &waiting {
        financings::set_payment(&*txn, now, p, PaymentStatus::Pending, 0, Some(note.clone()))
            .await?;
        tracing::info!(payment_id = %p.id, note = %note, "Transfer waits.");
    }
    let mut changed = Changed::new();
    for (p, outcome) in answered {
        let locked = financings::lock_payment(&*txn, p.id).await?;
        changed.extend(outcomes::transfer(&*txn, state.clock.as_ref(), &locked, outcome).await?);
    }
    txn.commit().await?;
    crate::outbound::after(state, &changed).await;
    Ok(())
}
