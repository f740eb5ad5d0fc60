//! Consumes `events:invoice`: the invoice service is the authority on its invoices, so
//! marketplace's reserved offers and payments' results become transitions here (applied
//! once: the inbox claim commits with the effect).
//!
//! - `offer.reserved` {offer_id, invoice_id, investor_id}: listed -> accepted, answered with
//!   `invoice.acceptance_confirmed`, or `invoice.acceptance_refused` {status} when the
//!   invoice is no longer listed (cancelled meanwhile, say).
//! - `payment.status_changed` {invoice_id, kind, status}: `funding`/`succeeded` funds it,
//!   `funding`/`expired` releases the acceptance (back to listed), `repayment`/`succeeded`
//!   records the repayment, `settlement`/`succeeded` settles it (as does
//!   `settlement.completed` {invoice_id, kind: "investor"}). A transition the machine
//!   does not allow is logged and dropped (retrying would not change the answer).
//! - `offer.placed` {invoice_id}: counts towards the invoice's place in
//!   `GET /api/invoices/popular`.

use async_trait::async_trait;
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

#[derive(Debug, Deserialize)]
struct PaymentChanged {
    invoice_id: Uuid,
    kind: String,
    status: String,
}

#[derive(Debug, Deserialize)]
struct SettlementCompleted {
    invoice_id: Uuid,
    /// `investor` (principal + return paid out: the invoice is settled) or `seller`.
    kind: String,
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
            "payment.status_changed" => self.payment_changed(txn, event.payload_as()?).await,
            "offer.placed" => {
                let placed: OfferPlaced = event.payload_as()?;
                crate::popular::count_offer(txn, placed.invoice_id).await?;
                Ok(())
            }
            "settlement.completed" => {
                let s: SettlementCompleted = event.payload_as()?;
                if s.kind != "investor" {
                    return Ok(());
                }
                let p = PaymentChanged {
                    invoice_id: s.invoice_id,
                    kind: "settlement".into(),
                    status: "succeeded".into(),
                };
                self.payment_changed(txn, p).await
            }
            _ => Ok(()),
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

    async fn payment_changed(
        &self,
        txn: &DatabaseTransaction,
        p: PaymentChanged,
    ) -> anyhow::Result<()> {
        let action = match (p.kind.as_str(), p.status.as_str()) {
            ("funding", "succeeded") => Action::Fund,
            ("funding", "expired") => Action::ReleaseAcceptance,
            ("repayment", "succeeded") => Action::Repay,
            ("settlement", "succeeded") => Action::Settle,
            _ => return Ok(()),
        };
        let Some(current) = invoice::Entity::find_by_id(p.invoice_id).one(txn).await? else {
            tracing::warn!(invoice_id = %p.invoice_id, "Payment event for an unknown invoice dropped.");
            return Ok(());
        };
        match invoices::transition_in(txn, self.clock.as_ref(), &current, action, PAYMENTS, None)
            .await
        {
            Ok(_) => Ok(()),
            Err(TransitionError::NotAllowed(n)) => {
                tracing::warn!(invoice_id = %p.invoice_id, refused = %n, "Payment event not applicable; dropped.");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
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
