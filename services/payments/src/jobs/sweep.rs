//! The payments sweep (every `PAYMENTS_SWEEP_INTERVAL_SECS`): financings whose funding
//! window closed are expired, after the provider is asked once more about their
//! checkouts (a payment made at the last minute whose webhook is late still funds).
//! Expiry sends one `payment.status_changed` funding/expired: the invoice goes back to
//! listed and each party is told once.
//!
//! Reconciliation, in the same round: a payment pending longer than
//! `PAYMENTS_RECONCILE_AFTER_SECS` is checked with the provider. A charge (funding,
//! repayment) with a checkout is verified and its final outcome applied as a webhook's
//! would be (a webhook that never came costs nothing); a transfer (payout, distribution,
//! refund) is queued again for the settlement worker, which sends it under the same
//! reference (the provider answers the existing transfer) and records a final status. So
//! a settlement job lost between a commit and its enqueue is sent anyway.

use common::events::payments::{PaymentKind, PaymentStatus};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::domain::FinancingStatus;
use crate::provider::ProviderStatus;
use crate::state::AppState;
use crate::store::entity::{financing, payment};
use crate::store::financings;
use crate::store::outcomes::{self, ChargeOutcome};

/// One round: expires (at most 100) financings past their funding window.
pub async fn run_once(state: &AppState) -> anyhow::Result<()> {
    let now = state.clock.now();
    let due = financing::Entity::find()
        .filter(financing::Column::Status.eq(FinancingStatus::AwaitingFunding.as_str()))
        .filter(financing::Column::FundingDueAt.lt(now))
        .order_by_asc(financing::Column::FundingDueAt)
        .limit(100)
        .all(&state.db)
        .await?;
    for f in due {
        service_kit::heartbeat::beat();
        if let Err(error) = expire(state, &f).await {
            tracing::warn!(%error, financing_id = %f.id, "Financing not expired this round.");
        }
    }
    crate::outbound::reconcile_live(state).await?;
    reconcile(state).await
}

/// Checks (at most 100) payments pending longer than the reconciliation age.
pub async fn reconcile(state: &AppState) -> anyhow::Result<()> {
    let before = state.clock.now() - state.config.reconcile_after;
    let stale = payment::Entity::find()
        .filter(payment::Column::Status.eq(PaymentStatus::Pending.as_str()))
        .filter(payment::Column::UpdatedAt.lt(before))
        .order_by_asc(payment::Column::UpdatedAt)
        .limit(100)
        .all(&state.db)
        .await?;
    for p in stale {
        service_kit::heartbeat::beat();
        let checked = match p.kind()? {
            PaymentKind::Funding | PaymentKind::Repayment if p.authorization_url.is_some() => {
                verify_charge(state, &p).await
            }
            PaymentKind::Payout | PaymentKind::Distribution | PaymentKind::Refund => {
                crate::jobs::settlements::enqueue(state, &p).await
            }
            _ => Ok(()),
        };
        if let Err(error) = checked {
            tracing::warn!(%error, payment_id = %p.id, "Payment not reconciled this round.");
        }
    }
    Ok(())
}

/// Applies the provider's final outcome of the charge of `p`, if it has one.
async fn verify_charge(state: &AppState, p: &payment::Model) -> anyhow::Result<()> {
    let charge = match state.provider.verify(&p.reference).await {
        Ok(c) => c,
        Err(crate::provider::ProviderError::NotFound(_)) => return Ok(()),
        Err(e) => anyhow::bail!("verify {}: {e}", p.reference),
    };
    if charge.currency != p.currency {
        return Ok(());
    }
    let Some(outcome) = ChargeOutcome::of(charge.status, charge.amount) else {
        return Ok(());
    };
    let txn = service_kit::db::begin_write(&state.db).await?;
    let locked = financings::lock_payment(&*txn, p.id).await?;
    let clock = state.clock.as_ref();
    let changed = outcomes::charge(&*txn, clock, state.provider.name(), &locked, &outcome).await?;
    txn.commit().await?;
    if !changed.is_empty() {
        tracing::info!(payment_id = %p.id, "Reconciled with the provider.");
    }
    crate::outbound::after(state, &changed).await;
    Ok(())
}

async fn expire(state: &AppState, f: &financing::Model) -> anyhow::Result<()> {
    let fundings = financings::payments_of(&state.db, f.id).await?;
    let fundings: Vec<_> = fundings
        .into_iter()
        .filter(|p| p.kind == PaymentKind::Funding.as_str())
        .collect();
    // Last chance: a checkout the provider says was paid funds the financing.
    for p in fundings
        .iter()
        .filter(|p| p.status == PaymentStatus::Pending.as_str() && p.authorization_url.is_some())
    {
        let charge = match state.provider.verify(&p.reference).await {
            Ok(c) => c,
            Err(crate::provider::ProviderError::NotFound(_)) => continue,
            Err(e) => anyhow::bail!("cannot ask the provider about {}: {e}", p.reference),
        };
        if charge.status == ProviderStatus::Success && charge.currency == p.currency {
            let txn = service_kit::db::begin_write(&state.db).await?;
            let locked = financings::lock_payment(&*txn, p.id).await?;
            let changed = outcomes::funding(
                &*txn,
                state.clock.as_ref(),
                state.provider.name(),
                &locked,
                &ChargeOutcome::Succeeded {
                    amount: charge.amount,
                },
            )
            .await?;
            txn.commit().await?;
            crate::outbound::after(state, &changed).await;
            if !changed.is_empty() {
                tracing::info!(financing_id = %f.id, payment_id = %p.id, "Funded at the last check before expiry.");
                return Ok(());
            }
        }
    }
    let now = state.clock.now();
    let txn = service_kit::db::begin_write(&state.db).await?;
    let current = financings::lock(&*txn, f.id).await?;
    if current.status()? != FinancingStatus::AwaitingFunding {
        txn.rollback().await?;
        return Ok(());
    }
    let expired = financings::set_financing(
        &*txn,
        now,
        &current,
        FinancingStatus::Expired,
        current.repaid_minor,
        current.distributed_minor,
    )
    .await?;
    let pending = payment::Entity::find()
        .filter(payment::Column::FinancingId.eq(f.id))
        .filter(payment::Column::Kind.eq(PaymentKind::Funding.as_str()))
        .filter(payment::Column::Status.eq(PaymentStatus::Pending.as_str()))
        .order_by_asc(payment::Column::CreatedAt)
        .all(&*txn)
        .await?;
    let note = Some("the funding window closed".to_owned());
    let mut changed = Vec::new();
    for p in &pending {
        // (A payment that moved meanwhile is not expired: it is no longer pending.)
        if let Some(expired) =
            financings::set_payment(&*txn, now, p, PaymentStatus::Expired, 0, note.clone()).await?
        {
            changed.push(expired);
        }
    }
    // One event for the obligation, whatever number of checkouts it had.
    let first = changed
        .first()
        .cloned()
        .or_else(|| fundings.first().cloned());
    if let Some(first) = first {
        financings::emit(
            &*txn,
            state.clock.as_ref(),
            &expired,
            &first,
            PaymentStatus::Expired,
        )
        .await?;
    }
    txn.commit().await?;
    tracing::info!(financing_id = %f.id, offer_id = %f.offer_id, "Funding window closed; financing expired.");
    crate::outbound::after(state, &changed).await;
    Ok(())
}
