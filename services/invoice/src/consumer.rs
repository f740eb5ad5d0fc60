//! Consumes `events:invoice`: the invoice service is the authority on its invoices, so
//! marketplace's reserved offers and payments' results become transitions here (applied
//! once: the inbox claim commits with the effect).
//!
//! - `offer.reserved` {offer_id, invoice_id, investor_id}: listed -> accepted, answered with
//!   `invoice.acceptance_confirmed`, or `invoice.acceptance_refused` {status} when the
//!   invoice is no longer listed (cancelled meanwhile, say).
//! - `payment.status_changed` ([`PaymentStatusChanged`]): a funding that succeeded funds
//!   it, one that expired releases the acceptance (back to listed); a repayment that
//!   succeeded repays it once it leaves nothing outstanding (`outstanding_minor` 0; a
//!   part-payment changes no status). `settlement.completed` ([`SettlementCompleted`])
//!   for the investor settles it. A transition the machine does not allow is logged and
//!   dropped (retrying would not change the answer); a payload that does not decode (an
//!   unknown kind or status, a repayment without what is outstanding) fails the event.
//! - `offer.placed` {invoice_id}: counts towards the invoice's place in
//!   `GET /api/invoices/popular`.

use async_trait::async_trait;
use common::events::payments::{
    PaymentKind, PaymentStatus, PaymentStatusChanged, SettlementCompleted, SettlementKind,
};
use common::events::{Envelope, Service};
use common::inbox::{StagedConsumer, StagedHandler};
use common::shutdown::CancellationToken;
use sea_orm::{DatabaseTransaction, EntityTrait};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::domain::Action;
use crate::entity::invoice;
use crate::invoices::{self, Actor, TransitionError};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
struct OfferReserved {
    offer_id: Uuid,
    invoice_id: Uuid,
    investor_id: Uuid,
}

#[derive(Debug, Deserialize)]
struct OfferPlaced {
    invoice_id: Uuid,
}

#[derive(Debug, Serialize)]
struct AcceptanceAnswer {
    offer_id: Uuid,
    invoice_id: Uuid,
    investor_id: Uuid,
    seller_id: Option<Uuid>,
    /// The invoice's status when refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
}

const MARKETPLACE: Actor = Actor {
    id: None,
    kind: "marketplace",
};
const PAYMENTS: Actor = Actor {
    id: None,
    kind: "payments",
};

/// The invoice an event is about, if any (for the after-commit effects).
fn invoice_of(event: &Envelope) -> Option<Uuid> {
    event
        .payload
        .get("invoice_id")
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse().ok())
}

pub struct Effects {
    clock: common::clock::SharedClock,
    state: AppState,
}

#[async_trait]
impl StagedHandler for Effects {
    type Staged = ();

    async fn stage(&self, txn: &DatabaseTransaction, event: &Envelope) -> anyhow::Result<()> {
        match event.event_type.as_str() {
            "offer.reserved" => self.offer_reserved(txn, event.payload_as()?).await,
            PaymentStatusChanged::TYPE => {
                let p: PaymentStatusChanged = event.payload_as()?;
                match payment_action(&p)? {
                    Some(action) => self.apply(txn, p.invoice_id, action).await,
                    None => Ok(()),
                }
            }
            "offer.placed" => {
                let placed: OfferPlaced = event.payload_as()?;
                crate::popular::count_offer(txn, placed.invoice_id).await?;
                Ok(())
            }
            SettlementCompleted::TYPE => {
                let s: SettlementCompleted = event.payload_as()?;
                match s.kind {
                    SettlementKind::Investor => self.apply(txn, s.invoice_id, Action::Settle).await,
                    SettlementKind::Seller => Ok(()),
                }
            }
            other => Err(common::queue::Unusable(format!(
                "events:invoice does not accept {other}"
            ))
            .into()),
        }
    }

    /// Publishes the invoice's new state and bumps the search cache generation (an offer
    /// count changes no status: nothing to publish or invalidate).
    async fn after_commit(&self, event: &Envelope, (): ()) {
        if event.event_type != "offer.placed"
            && let Some(id) = invoice_of(event)
            && let Ok(Some(m)) = invoices::find(&self.state.db, id).await
        {
            invoices::after_change(&self.state, &m).await;
        }
    }
}

impl Effects {
    async fn offer_reserved(
        &self,
        txn: &DatabaseTransaction,
        o: OfferReserved,
    ) -> anyhow::Result<()> {
        let current = invoice::Entity::find_by_id(o.invoice_id).one(txn).await?;
        let mut answer = AcceptanceAnswer {
            offer_id: o.offer_id,
            invoice_id: o.invoice_id,
            investor_id: o.investor_id,
            seller_id: current.as_ref().map(|m| m.seller_id),
            status: None,
        };
        let outcome = match &current {
            Some(m) => {
                invoices::transition_in(
                    txn,
                    self.clock.as_ref(),
                    m,
                    Action::ConfirmAcceptance,
                    MARKETPLACE,
                    None,
                )
                .await
            }
            None => Err(TransitionError::Other(anyhow::anyhow!("no such invoice"))),
        };
        let event_type = match outcome {
            Ok(_) => "invoice.acceptance_confirmed",
            Err(TransitionError::NotAllowed(n)) => {
                answer.status = Some(n.from.as_str().to_owned());
                "invoice.acceptance_refused"
            }
            Err(TransitionError::Other(_)) if current.is_none() => {
                answer.status = Some("unknown".to_owned());
                "invoice.acceptance_refused"
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(invoice_id = %o.invoice_id, offer_id = %o.offer_id, event_type, "Acceptance answered.");
        let envelope = Envelope::new(Service::Invoice, event_type, &answer, self.clock.as_ref())?;
        common::outbox::add(txn, &envelope).await?;
        Ok(())
    }

    /// A payments-driven transition of `invoice_id`.
    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        invoice_id: Uuid,
        action: Action,
    ) -> anyhow::Result<()> {
        let Some(current) = invoice::Entity::find_by_id(invoice_id).one(txn).await? else {
            tracing::warn!(%invoice_id, "Payment event for an unknown invoice dropped.");
            return Ok(());
        };
        match invoices::transition_in(txn, self.clock.as_ref(), &current, action, PAYMENTS, None)
            .await
        {
            Ok(_) => Ok(()),
            Err(TransitionError::NotAllowed(n)) => {
                tracing::warn!(%invoice_id, refused = %n, "Payment event not applicable; dropped.");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// What a payment's new status does to its invoice: `None` for the ones that change no
/// status (a pending or failed funding, a part-payment, a payout, ...). A repayment that
/// does not say what is outstanding is refused: the invoice must not be repaid on a guess.
fn payment_action(p: &PaymentStatusChanged) -> anyhow::Result<Option<Action>> {
    Ok(match (p.kind, p.status) {
        (PaymentKind::Funding, PaymentStatus::Succeeded) => Some(Action::Fund),
        (PaymentKind::Funding, PaymentStatus::Expired) => Some(Action::ReleaseAcceptance),
        (PaymentKind::Repayment, PaymentStatus::Succeeded) => match p.outstanding_minor {
            Some(0) => Some(Action::Repay),
            Some(left) if left > 0 => {
                tracing::info!(invoice_id = %p.invoice_id, outstanding_minor = left, "Part-payment recorded; the invoice is not repaid yet.");
                None
            }
            other => anyhow::bail!(
                "repayment {} of invoice {} says {other:?} outstanding",
                p.payment_id,
                p.invoice_id
            ),
        },
        _ => None,
    })
}

/// The queue handler of `events:invoice`.
pub type Consumer = StagedConsumer<Effects>;

pub fn consumer(state: &AppState) -> Consumer {
    StagedConsumer::new(
        state.db.clone(),
        Effects {
            clock: state.clock.clone(),
            state: state.clone(),
        },
        state.clock.clone(),
    )
}

pub async fn spawn(state: &AppState, stop: CancellationToken) -> anyhow::Result<JoinHandle<()>> {
    consumer(state)
        .spawn(
            &state.config.base.redis_url,
            &state.redis,
            state.keys.events(Service::Invoice),
            stop,
        )
        .await
}
