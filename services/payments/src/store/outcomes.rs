//! What a verified outcome of a payment does, inside the transaction that records it: the
//! payment's status, the financing's, the ledger postings and the events, all or nothing.
//! Each function is a no-op on a payment that already left the state it acts on, so a
//! redelivered or reordered outcome changes nothing. The payments they answer are the
//! rows as the database returned them from the update (`UPDATE ... RETURNING`).

use common::clock::Clock;
use common::events::payments::{PaymentKind, PaymentStatus, SettlementKind};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};

use crate::domain::ledger::postings;
use crate::domain::{FinancingStatus, PaymentsError};
use crate::provider::ProviderStatus;
use crate::store::entity::payment;
use crate::store::financings::{self, NewPayment};
use crate::store::ledger;

/// How a payment's note starts when the provider's figures disagree with ours: the
/// reconciliation route lists them for an operator.
pub const MISMATCH: &str = "mismatch: ";

/// A confirmed outcome waiting to be applied to a payment: what an accepted webhook
/// delivery stores (`webhook_receipts.effect`, JSON such as
/// `{"kind":"charge","outcome":{"status":"succeeded","amount":120000}}` or
/// `{"kind":"transfer","outcome":"failed"}`); an unknown word does not parse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "outcome", rename_all = "snake_case")]
pub enum Effect {
    Charge(ChargeOutcome),
    Transfer(TransferOutcome),
}

/// What the provider's verify call says of a delivery's reference now.
#[derive(Debug, Clone)]
pub enum Verified {
    /// A charge in a final state.
    Charge(crate::provider::Charge),
    Transfer(crate::provider::TransferState),
}

/// The effect `v` has on `p`: `None` when the provider's figures do not match the
/// payment (reference or currency; a transfer's amount too: left for reconciliation) or
/// a transfer is not final yet (the worker or the sweep records it later).
pub fn effect_of(p: &payment::Model, v: &Verified) -> Option<Effect> {
    match v {
        Verified::Charge(c) => {
            if c.reference != p.reference || c.currency != p.currency {
                tracing::warn!(payment_id = %p.id, reference = c.reference, currency = c.currency, "The provider's charge does not match the payment; left for reconciliation.");
                return None;
            }
            ChargeOutcome::of(c.status, c.amount).map(Effect::Charge)
        }
        Verified::Transfer(t) => {
            if t.reference != p.reference || t.currency != p.currency || t.amount != p.amount_minor
            {
                tracing::warn!(payment_id = %p.id, reference = t.reference, "The provider's transfer does not match the payment; left for reconciliation.");
                return None;
            }
            TransferOutcome::of(t.status).map(Effect::Transfer)
        }
    }
}

/// Applies `effect` to the payment `payment_id` (locked here): a charge's outcome to a
/// funding or repayment, a transfer's to a payout, distribution or refund; an outcome
/// of the other family changes nothing.
pub async fn apply<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    provider: &str,
    payment_id: uuid::Uuid,
    effect: &Effect,
) -> Result<Changed, PaymentsError> {
    let p = financings::lock_payment(txn, payment_id).await?;
    match (effect, p.kind()?) {
        (Effect::Charge(outcome), _) => charge(txn, clock, provider, &p, outcome).await,
        (
            Effect::Transfer(outcome),
            PaymentKind::Payout | PaymentKind::Distribution | PaymentKind::Refund,
        ) => transfer(txn, clock, &p, *outcome).await,
        _ => Ok(Vec::new()),
    }
}

/// A charge's outcome as the provider's verify call confirmed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ChargeOutcome {
    /// Paid, `amount` in minor units of the payment's currency.
    Succeeded {
        amount: i64,
    },
    Failed {
        reason: String,
    },
    /// Taken back by the payer's bank (a chargeback) after it succeeded.
    Reversed,
}

impl ChargeOutcome {
    /// What the provider's `status` of a charge (paid `amount`) means here; `None` while
    /// it is not final.
    pub fn of(status: ProviderStatus, amount: i64) -> Option<Self> {
        Some(match status {
            ProviderStatus::Success => ChargeOutcome::Succeeded { amount },
            ProviderStatus::Reversed => ChargeOutcome::Reversed,
            s if s.is_final() => ChargeOutcome::Failed {
                reason: format!("the provider reports the charge {s:?}").to_lowercase(),
            },
            _ => return None,
        })
    }
}

/// Applies the charge `outcome` to `p` (locked by the caller) as its kind says: a
/// funding or a repayment; any other payment is not a charge and does not change. A
/// charge reversed before its success was ever recorded brought no money: for a payment
/// still pending that is a failure (one rule, whether a webhook or the sweep finds it).
pub async fn charge<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    provider: &str,
    p: &payment::Model,
    outcome: &ChargeOutcome,
) -> Result<Changed, PaymentsError> {
    let failed;
    let outcome = match outcome {
        ChargeOutcome::Reversed if p.status()? == PaymentStatus::Pending => {
            failed = ChargeOutcome::Failed {
                reason: "the provider reports the charge reversed".into(),
            };
            &failed
        }
        other => other,
    };
    match p.kind()? {
        PaymentKind::Funding => funding(txn, clock, provider, p, outcome).await,
        PaymentKind::Repayment => repayment(txn, clock, provider, p, outcome).await,
        _ => Ok(Vec::new()),
    }
}

/// The payments a transaction changed (as they are now), for after the commit.
pub type Changed = Vec<payment::Model>;

/// Applies `outcome` to the funding payment `p` (locked by the caller).
pub async fn funding<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    provider: &str,
    p: &payment::Model,
    outcome: &ChargeOutcome,
) -> Result<Changed, PaymentsError> {
    let now = clock.now();
    let status = p.status()?;
    let f = financings::lock(txn, p.financing_id).await?;
    let terms = f.terms()?;
    let c = terms.currency;
    let key = postings::key(p.id);
    match (outcome, status) {
        // A checkout paid after the window closed: its payment was expired with the
        // financing; the money is owed back.
        (ChargeOutcome::Succeeded { amount }, PaymentStatus::Pending | PaymentStatus::Expired) => {
            if *amount != p.amount_minor && status == PaymentStatus::Pending {
                // Not what was asked: leave it pending with a note for reconciliation.
                let note = Some(format!(
                    "{MISMATCH}the provider reports {amount} paid where {} was asked",
                    p.amount_minor
                ));
                financings::move_payment(txn, now, p, PaymentStatus::Pending, 0, note).await?;
                return Ok(Vec::new());
            }
            if f.status()? != FinancingStatus::AwaitingFunding || status == PaymentStatus::Expired {
                // After the window closed (or a second payment of a funded financing):
                // owed back to the investor, refunded.
                let note = Some(format!(
                    "arrived while the financing was {}; refunded",
                    f.status
                ));
                let paid =
                    financings::move_payment(txn, now, p, PaymentStatus::Succeeded, *amount, note)
                        .await?;
                ledger::post(
                    txn,
                    now,
                    &postings::late_funding(&key, c, f.investor(), *amount),
                    Some(p.id),
                )
                .await?;
                let refund = financings::open_payment(
                    txn,
                    clock,
                    &f,
                    PaymentKind::Refund,
                    *amount,
                    provider,
                    NewPayment {
                        payee: Some(f.investor_id),
                        note: Some(format!("refund of {}", p.reference)),
                        refund_of: Some(p.id),
                        ..NewPayment::default()
                    },
                )
                .await?;
                return Ok(vec![paid, refund]);
            }
            let paid =
                financings::move_payment(txn, now, p, PaymentStatus::Succeeded, *amount, None)
                    .await?;
            ledger::post(
                txn,
                now,
                &postings::funding_received(&key, c, f.invoice(), *amount),
                Some(p.id),
            )
            .await?;
            ledger::post(
                txn,
                now,
                &postings::funding_allocated(
                    &key,
                    c,
                    f.invoice(),
                    f.seller(),
                    terms.net_minor(),
                    terms.fee_minor,
                ),
                Some(p.id),
            )
            .await?;
            let funded = financings::set_financing(
                txn,
                now,
                &f,
                FinancingStatus::Funded,
                f.repaid_minor,
                f.distributed_minor,
            )
            .await?;
            financings::emit(txn, clock, &funded, &paid, PaymentStatus::Succeeded).await?;
            let payout = financings::open_payment(
                txn,
                clock,
                &funded,
                PaymentKind::Payout,
                terms.net_minor(),
                provider,
                NewPayment {
                    payee: Some(f.seller_id),
                    ..NewPayment::default()
                },
            )
            .await?;
            Ok(vec![paid, payout])
        }
        (ChargeOutcome::Failed { reason }, PaymentStatus::Pending) => {
            Ok(vec![charge_failed(txn, clock, &f, p, reason).await?])
        }
        (ChargeOutcome::Reversed, PaymentStatus::Succeeded) => {
            let reversed = financings::move_payment(
                txn,
                now,
                p,
                PaymentStatus::Reversed,
                p.settled_minor,
                Some("reversed by the payer's bank".into()),
            )
            .await?;
            // A funding that was allocated comes back out of the seller's side.
            if ledger::posted(txn, &format!("{key}:allocated")).await? {
                let mut paid_out = false;
                for q in financings::payments_of(txn, f.id).await? {
                    if q.kind()? != PaymentKind::Payout {
                        continue;
                    }
                    match q.status()? {
                        PaymentStatus::Succeeded => paid_out = true,
                        // Not sent yet: it will not be.
                        PaymentStatus::Pending => {
                            let note = Some("cancelled: the funding was reversed".to_owned());
                            let cancelled = financings::move_payment(
                                txn,
                                now,
                                &q,
                                PaymentStatus::Failed,
                                0,
                                note,
                            )
                            .await?;
                            financings::emit(txn, clock, &f, &cancelled, PaymentStatus::Failed)
                                .await?;
                        }
                        _ => {}
                    }
                }
                ledger::post(
                    txn,
                    now,
                    &postings::funding_reversed(
                        &key,
                        c,
                        f.seller(),
                        terms.net_minor(),
                        terms.fee_minor,
                        paid_out,
                    ),
                    Some(p.id),
                )
                .await?;
            }
            if ledger::posted(txn, &format!("{key}:late")).await? {
                // A late funding, owed back to the investor: if its refund is still to
                // go, it will not (the bank took the money back); if it went, the
                // investor was paid twice and owes it back.
                let mut refunded = false;
                for q in financings::payments_of(txn, f.id).await? {
                    if q.refund_of != Some(p.id) {
                        continue;
                    }
                    match q.status()? {
                        PaymentStatus::Succeeded => refunded = true,
                        PaymentStatus::Pending => {
                            let note = Some("cancelled: the payment was reversed".to_owned());
                            financings::move_payment(txn, now, &q, PaymentStatus::Failed, 0, note)
                                .await?;
                        }
                        _ => {}
                    }
                }
                let owed = if refunded {
                    crate::domain::ledger::Account::Receivable(f.investor())
                } else {
                    crate::domain::ledger::Account::InvestorPayable(f.investor())
                };
                let back = crate::domain::ledger::Posting::new(
                    format!("{key}:reversed"),
                    c,
                    "late funding reversed",
                )
                .debit(owed, p.settled_minor)
                .credit(
                    crate::domain::ledger::Account::ProviderClearing,
                    p.settled_minor,
                );
                ledger::post(txn, now, &back, Some(p.id)).await?;
            }
            financings::emit(txn, clock, &f, &reversed, PaymentStatus::Reversed).await?;
            Ok(vec![reversed])
        }
        // Already moved past what this outcome acts on: nothing to do.
        _ => Ok(Vec::new()),
    }
}

/// A transfer's outcome as the provider's verify call (or its answer to the transfer)
/// reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferOutcome {
    Succeeded,
    Failed,
    /// Sent, then returned by the receiving bank.
    Reversed,
}

impl TransferOutcome {
    /// What the provider's `status` of a transfer means here; `None` while it is not
    /// final.
    pub fn of(status: ProviderStatus) -> Option<Self> {
        match status {
            ProviderStatus::Success => Some(TransferOutcome::Succeeded),
            ProviderStatus::Reversed => Some(TransferOutcome::Reversed),
            s if s.is_final() => Some(TransferOutcome::Failed),
            _ => None,
        }
    }
}

/// Applies `outcome` to the outgoing payment `p` (a payout, distribution or refund,
/// locked by the caller): its status, the posting that takes the money off the payable,
/// its event, and for a seller's payout `settlement.completed`.
pub async fn transfer<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    p: &payment::Model,
    outcome: TransferOutcome,
) -> Result<Changed, PaymentsError> {
    let now = clock.now();
    let status = p.status()?;
    let kind = p.kind()?;
    let f = financings::lock(txn, p.financing_id).await?;
    let c = f.currency()?;
    let key = postings::key(p.id);
    let payable = match kind {
        PaymentKind::Payout => crate::domain::ledger::Account::SellerPayable(f.seller()),
        PaymentKind::Distribution => crate::domain::ledger::Account::InvestorPayable(f.investor()),
        PaymentKind::Refund => refund_payable(txn, p, &f).await?,
        other => {
            return Err(anyhow::anyhow!("payment {} is a {other}, not a transfer", p.id).into());
        }
    };
    match (outcome, status) {
        (TransferOutcome::Succeeded, PaymentStatus::Pending) => {
            let sent = financings::move_payment(
                txn,
                now,
                p,
                PaymentStatus::Succeeded,
                p.amount_minor,
                None,
            )
            .await?;
            ledger::post(
                txn,
                now,
                &postings::transfer_sent(&key, c, payable, p.amount_minor),
                Some(p.id),
            )
            .await?;
            financings::emit(txn, clock, &f, &sent, PaymentStatus::Succeeded).await?;
            match kind {
                PaymentKind::Payout => {
                    financings::settled(txn, clock, &f, SettlementKind::Seller, p.amount_minor)
                        .await?;
                }
                PaymentKind::Distribution => {
                    let distributed = f.distributed_minor + p.amount_minor;
                    // Settled once the debtor has paid everything and all of it has
                    // reached the investor (once: a distribution sent again after one
                    // came back completes a settlement already announced).
                    let was = f.status()?;
                    let done = f.outstanding_minor() == 0
                        && distributed >= f.repaid_minor
                        && was != FinancingStatus::Settled;
                    let to = if done { FinancingStatus::Settled } else { was };
                    let after =
                        financings::set_financing(txn, now, &f, to, f.repaid_minor, distributed)
                            .await?;
                    if done {
                        financings::settled(
                            txn,
                            clock,
                            &after,
                            SettlementKind::Investor,
                            distributed,
                        )
                        .await?;
                    }
                }
                _ => {}
            }
            Ok(vec![sent])
        }
        (TransferOutcome::Failed, PaymentStatus::Pending) => {
            let note = Some("the provider reports the transfer failed".to_owned());
            let failed =
                financings::move_payment(txn, now, p, PaymentStatus::Failed, 0, note).await?;
            financings::emit(txn, clock, &f, &failed, PaymentStatus::Failed).await?;
            let mut changed = vec![failed];
            changed.extend(send_again(txn, clock, &f, p).await?);
            Ok(changed)
        }
        // Sent and already returned by the time we hear of it: both, in order.
        (TransferOutcome::Reversed, PaymentStatus::Pending) => {
            let sent = Box::pin(transfer(txn, clock, p, TransferOutcome::Succeeded)).await?;
            match sent.into_iter().next() {
                Some(sent) => {
                    Box::pin(transfer(txn, clock, &sent, TransferOutcome::Reversed)).await
                }
                None => Ok(Vec::new()),
            }
        }
        (TransferOutcome::Reversed, PaymentStatus::Succeeded) => {
            let note = Some("returned by the receiving bank; owed again".to_owned());
            let reversed = financings::move_payment(
                txn,
                now,
                p,
                PaymentStatus::Reversed,
                p.settled_minor,
                note,
            )
            .await?;
            // The money is back at the provider and owed again.
            let back = crate::domain::ledger::Posting::new(
                format!("{key}:returned"),
                c,
                "transfer returned",
            )
            .debit(
                crate::domain::ledger::Account::ProviderClearing,
                p.settled_minor,
            )
            .credit(payable, p.settled_minor);
            ledger::post(txn, now, &back, Some(p.id)).await?;
            if kind == PaymentKind::Distribution {
                // Not with the investor after all: owed again (sent again below).
                financings::set_financing(
                    txn,
                    now,
                    &f,
                    f.status()?,
                    f.repaid_minor,
                    f.distributed_minor - p.settled_minor,
                )
                .await?;
            }
            financings::emit(txn, clock, &f, &reversed, PaymentStatus::Reversed).await?;
            let mut changed = vec![reversed];
            changed.extend(send_again(txn, clock, &f, p).await?);
            Ok(changed)
        }
        _ => Ok(Vec::new()),
    }
}

/// The note of a transfer sent again, until the payee's payout account changes.
pub const WAITING_FOR_NEW_ACCOUNT: &str = "waiting for a new payout account (PUT /api/payments/payout-account): the last transfer to the current one failed or came back";

/// A payout or distribution that failed or came back is still owed (its payable holds
/// the money): a new transfer of the same amount to the same payee, at most one per
/// failed transfer (`retry_of` is unique). The settlement worker holds it until the
/// payee's payout account changes, so a bad account is not paid again and again. A
/// failed refund is not sent again by itself: the provider refused it, an operator's
/// matter (the reconciliation route lists it).
async fn send_again<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    f: &crate::store::entity::financing::Model,
    p: &payment::Model,
) -> Result<Option<payment::Model>, PaymentsError> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let kind = p.kind()?;
    if !matches!(kind, PaymentKind::Payout | PaymentKind::Distribution) {
        return Ok(None);
    }
    let sent_again = payment::Entity::find()
        .filter(payment::Column::RetryOf.eq(p.id))
        .one(txn)
        .await?;
    if sent_again.is_some() {
        return Ok(None);
    }
    let next = financings::open_payment(
        txn,
        clock,
        f,
        kind,
        p.amount_minor,
        &p.provider,
        NewPayment {
            payee: p.payee_id,
            note: Some(WAITING_FOR_NEW_ACCOUNT.to_owned()),
            retry_of: Some(p.id),
            ..NewPayment::default()
        },
    )
    .await?;
    Ok(Some(next))
}

/// A pending charge `p` of `f` failed (`reason`): recorded and told.
async fn charge_failed<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    f: &crate::store::entity::financing::Model,
    p: &payment::Model,
    reason: &str,
) -> Result<payment::Model, PaymentsError> {
    let now = clock.now();
    let note = Some(reason.to_owned());
    let failed = financings::move_payment(txn, now, p, PaymentStatus::Failed, 0, note).await?;
    financings::emit(txn, clock, f, &failed, PaymentStatus::Failed).await?;
    Ok(failed)
}

/// The payable a refund is paid out of: a debtor's over-payment, or money owed back to
/// the investor (a funding after the window closed).
async fn refund_payable<C: ConnectionTrait>(
    txn: &C,
    p: &payment::Model,
    f: &crate::store::entity::financing::Model,
) -> Result<crate::domain::ledger::Account, PaymentsError> {
    use sea_orm::EntityTrait;
    let of = match p.refund_of {
        Some(id) => payment::Entity::find_by_id(id).one(txn).await?,
        None => None,
    };
    Ok(match of.map(|o| o.kind()).transpose()? {
        Some(PaymentKind::Repayment) => {
            crate::domain::ledger::Account::DebtorRefundable(f.invoice())
        }
        _ => crate::domain::ledger::Account::InvestorPayable(f.investor()),
    })
}

/// Applies `outcome` to the repayment `p` (locked by the caller): what counts towards the
/// face value is owed on to the investor (a distribution, queued), anything beyond it is
/// refunded to the debtor; the financing's repaid figure moves; its event says what is
/// still outstanding (0: the invoice is repaid). Money after a default is accepted the
/// same way (a recovery for the investor); the invoice service keeps it defaulted.
pub async fn repayment<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    provider: &str,
    p: &payment::Model,
    outcome: &ChargeOutcome,
) -> Result<Changed, PaymentsError> {
    let now = clock.now();
    let f = financings::lock(txn, p.financing_id).await?;
    let c = f.currency()?;
    let key = postings::key(p.id);
    match (outcome, p.status()?) {
        (ChargeOutcome::Succeeded { amount }, PaymentStatus::Pending) => {
            let (applied, over) = crate::domain::apply_repayment(f.outstanding_minor(), *amount);
            let paid =
                financings::move_payment(txn, now, p, PaymentStatus::Succeeded, *amount, None)
                    .await?;
            for posting in
                postings::repayment_received(&key, c, f.invoice(), f.investor(), applied, over)
            {
                ledger::post(txn, now, &posting, Some(p.id)).await?;
            }
            let f = financings::set_financing(
                txn,
                now,
                &f,
                f.status()?,
                f.repaid_minor + applied,
                f.distributed_minor,
            )
            .await?;
            financings::emit(txn, clock, &f, &paid, PaymentStatus::Succeeded).await?;
            let mut changed = vec![paid];
            if applied > 0 {
                let distribution = financings::open_payment(
                    txn,
                    clock,
                    &f,
                    PaymentKind::Distribution,
                    applied,
                    provider,
                    NewPayment {
                        payee: Some(f.investor_id),
                        ..NewPayment::default()
                    },
                )
                .await?;
                changed.push(distribution);
            }
            if over > 0 {
                let refund = financings::open_payment(
                    txn,
                    clock,
                    &f,
                    PaymentKind::Refund,
                    over,
                    provider,
                    NewPayment {
                        note: Some(format!("over-payment of {}", p.reference)),
                        refund_of: Some(p.id),
                        ..NewPayment::default()
                    },
                )
                .await?;
                changed.push(refund);
            }
            Ok(changed)
        }
        (ChargeOutcome::Failed { reason }, PaymentStatus::Pending) => {
            Ok(vec![charge_failed(txn, clock, &f, p, reason).await?])
        }
        _ => Ok(Vec::new()),
    }
}
