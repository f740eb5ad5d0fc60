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
//! - `offer.reservation_timed_out` {offer_id, invoice_id}: marketplace gave up waiting for
//!   the answer to that reservation (the invoice service was away). If the invoice was
//!   confirmed for that offer (a late confirmation, which marketplace dropped), the
//!   acceptance is released (accepted -> listed, `invoice.status_changed`); otherwise
//!   nothing changes. The offer confirmed is recorded with the confirmation
//!   (`invoice_acceptances`), so only that acceptance is released. Marketplace's outbox
//!   sends the timeout after the reservation, so a confirmation always comes first.
//! - `offer.placed` {invoice_id}: counts towards the invoice's place in
//!   `GET /api/invoices/popular`.

use anyhow::Context as _;
use async_trait::async_trait;
use common::events::invoice::{AcceptanceConfirmed, AcceptanceRefused};
use common::events::marketplace::OfferChanged;
use common::events::payments::{
    PaymentKind, PaymentStatus, PaymentStatusChanged, SettlementCompleted, SettlementKind,
};
use common::events::{Accepts, Envelope, Event, InvoiceEvent, OfferEvent, PaymentEvent, Service};
use common::ids::{InvoiceId, UserId};
use sea_orm::{DatabaseTransaction, EntityTrait};
use service_kit::inbox::StagedHandler;

use crate::domain::Action;
use crate::domain::{Actor, InvoiceError, InvoiceView};
use crate::state::AppState;
use crate::store::entity::invoice;
use crate::store::{acceptances, invoices};

/// What `events:invoice` accepts.
#[derive(Debug)]
pub enum Accepted {
    /// A seller accepted this offer: confirm it (listed -> accepted) or refuse.
    OfferReserved(OfferChanged),
    /// An offer was made: it counts towards the invoice's popularity.
    OfferPlaced(OfferChanged),
    /// Marketplace gave up on a reservation: release the acceptance if it was confirmed.
    ReservationTimedOut(OfferChanged),
    Payment(PaymentStatusChanged),
    Settlement(SettlementCompleted),
}

impl Accepts for Accepted {
    const SERVICE: Service = Service::Invoice;
    fn accept(event: Event) -> Option<Self> {
        match event {
            Event::Marketplace(OfferEvent::Reserved(o)) => Some(Accepted::OfferReserved(o)),
            Event::Marketplace(OfferEvent::Placed(o)) => Some(Accepted::OfferPlaced(o)),
            Event::Marketplace(OfferEvent::ReservationTimedOut(o)) => {
                Some(Accepted::ReservationTimedOut(o))
            }
            Event::Payments(PaymentEvent::StatusChanged(p)) => Some(Accepted::Payment(p)),
            Event::Payments(PaymentEvent::SettlementCompleted(s)) => Some(Accepted::Settlement(s)),
            _ => None,
        }
    }
}

/// What `events:invoice` does (the service's [`StagedHandler`]).
#[derive(Clone)]
pub struct Effects {
    state: AppState,
}

impl Effects {
    pub fn new(state: &AppState) -> Self {
        Self {
            state: state.clone(),
        }
    }
}

#[async_trait]
impl StagedHandler for Effects {
    /// The invoice as the transaction left it, if the event changed its status.
    type Staged = Option<InvoiceView>;

    async fn stage(
        &self,
        txn: &DatabaseTransaction,
        event: &Envelope,
    ) -> anyhow::Result<Option<InvoiceView>> {
        self.stage_accepted(txn, event, event.accept::<Accepted>()?)
            .await
    }

    /// The batch's placed offers counted in one statement (counts commute with every
    /// other effect); the other events staged one by one, in order.
    async fn stage_batch(
        &self,
        txn: &DatabaseTransaction,
        events: &[&Envelope],
    ) -> anyhow::Result<Vec<Option<InvoiceView>>> {
        let mut staged = Vec::with_capacity(events.len());
        let mut placed = Vec::new();
        for event in events {
            match event.accept::<Accepted>()? {
                Accepted::OfferPlaced(o) => {
                    placed.push(o.invoice_id.uuid());
                    staged.push(None);
                }
                accepted => staged.push(
                    self.stage_accepted(txn, event, accepted)
                        .await
                        .with_context(|| format!("handling {} {}", event.event_type, event.id))?,
                ),
            }
        }
        crate::store::popular::count_offers(txn, &placed).await?;
        Ok(staged)
    }

    /// Publishes the invoice's new state and bumps the search cache generation.
    async fn after_commit(&self, _event: &Envelope, invoice: Option<InvoiceView>) {
        if let Some(invoice) = invoice {
            crate::outbound::after_change(&self.state, &invoice).await;
        }
    }

    async fn after_commit_batch(&self, done: Vec<(&Envelope, Option<InvoiceView>)>) {
        let invoices: Vec<InvoiceView> = done.into_iter().filter_map(|(_, i)| i).collect();
        crate::outbound::after_changes(&self.state, &invoices).await;
    }
}

impl Effects {
    /// The effect of `event`, accepted as `accepted`; answers the invoice if its status
    /// changed.
    async fn stage_accepted(
        &self,
        txn: &DatabaseTransaction,
        event: &Envelope,
        accepted: Accepted,
    ) -> anyhow::Result<Option<InvoiceView>> {
        match accepted {
            Accepted::OfferReserved(o) => self.offer_reserved(txn, &o).await,
            Accepted::OfferPlaced(o) => {
                // A count changes no status: nothing to publish or invalidate after.
                crate::store::popular::count_offer(txn, o.invoice_id.uuid()).await?;
                Ok(None)
            }
            Accepted::ReservationTimedOut(o) => self.reservation_timed_out(txn, event, &o).await,
            Accepted::Payment(p) => match payment_action(&p)? {
                Some(action) => self.apply(txn, event, p.invoice_id, action).await,
                None => Ok(None),
            },
            Accepted::Settlement(s) => match s.kind {
                SettlementKind::Investor => {
                    self.apply(txn, event, s.invoice_id, Action::Settle).await
                }
                SettlementKind::Seller => Ok(None),
            },
        }
    }

    /// Confirms the reserved offer `o` (listed -> accepted) or refuses it, with the answer's
    /// event in the same transaction; answers the accepted invoice.
    async fn offer_reserved(
        &self,
        txn: &DatabaseTransaction,
        o: &OfferChanged,
    ) -> anyhow::Result<Option<InvoiceView>> {
        let refused = |status| {
            InvoiceEvent::AcceptanceRefused(AcceptanceRefused {
                offer_id: o.offer_id,
                invoice_id: o.invoice_id,
                investor_id: o.investor_id,
                status,
            })
        };
        let mut accepted = None;
        let answer = match invoice::Entity::find_by_id(o.invoice_id.uuid())
            .one(txn)
            .await?
        {
            None => refused(None),
            Some(m) => match invoices::transition_in(
                txn,
                self.state.clock.as_ref(),
                &m,
                Action::ConfirmAcceptance,
                Actor::MARKETPLACE,
                None,
            )
            .await
            {
                Ok(changed) => {
                    acceptances::record(txn, self.state.clock.now(), o).await?;
                    accepted = Some(changed.invoice.view()?);
                    InvoiceEvent::AcceptanceConfirmed(AcceptanceConfirmed {
                        offer_id: o.offer_id,
                        invoice_id: o.invoice_id,
                        investor_id: o.investor_id,
                        seller_id: UserId(m.seller_id),
                    })
                }
                Err(InvoiceError::NotAllowed(n)) => refused(Some(n.from)),
                Err(e) => return Err(e.into()),
            },
        };
        let envelope = Envelope::of(answer, self.state.clock.as_ref())?;
        tracing::info!(invoice_id = %o.invoice_id, offer_id = %o.offer_id, event_type = envelope.event_type, "Acceptance answered.");
        service_kit::outbox::add(txn, &envelope).await?;
        Ok(accepted)
    }

    /// Releases the acceptance of `o`'s invoice if it was confirmed for `o` (and is still
    /// only accepted): marketplace timed the reservation out and dropped the confirmation.
    async fn reservation_timed_out(
        &self,
        txn: &DatabaseTransaction,
        event: &Envelope,
        o: &OfferChanged,
    ) -> anyhow::Result<Option<InvoiceView>> {
        if !acceptances::is_for(txn, o.invoice_id, o.offer_id).await? {
            tracing::info!(invoice_id = %o.invoice_id, offer_id = %o.offer_id, "Reservation timed out before any confirmation; nothing to release.");
            return Ok(None);
        }
        let released = self
            .apply_with(
                txn,
                event,
                o.invoice_id,
                Action::ReleaseAcceptance,
                Actor::MARKETPLACE,
                Some("the acceptance did not complete in time in marketplace"),
            )
            .await?;
        if released.is_some() {
            tracing::info!(invoice_id = %o.invoice_id, offer_id = %o.offer_id, "Late confirmation undone; the invoice is listed again.");
        }
        Ok(released)
    }

    /// A payments-driven transition of `invoice_id`; answers the changed invoice.
    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        event: &Envelope,
        invoice_id: InvoiceId,
        action: Action,
    ) -> anyhow::Result<Option<InvoiceView>> {
        self.apply_with(txn, event, invoice_id, action, Actor::PAYMENTS, None)
            .await
    }

    /// A transition of `invoice_id` caused by another service's `event`; releasing an
    /// acceptance forgets the offer it was for.
    async fn apply_with(
        &self,
        txn: &DatabaseTransaction,
        event: &Envelope,
        invoice_id: InvoiceId,
        action: Action,
        actor: Actor,
        reason: Option<&str>,
    ) -> anyhow::Result<Option<InvoiceView>> {
        let Some(current) = invoice::Entity::find_by_id(invoice_id.uuid())
            .one(txn)
            .await?
        else {
            service_kit::inbox::refused(
                Service::Invoice,
                event,
                &format!("no invoice {invoice_id}"),
            );
            return Ok(None);
        };
        match invoices::transition_in(
            txn,
            self.state.clock.as_ref(),
            &current,
            action,
            actor,
            reason,
        )
        .await
        {
            Ok(changed) => {
                if action == Action::ReleaseAcceptance {
                    acceptances::forget(txn, invoice_id).await?;
                }
                Ok(Some(changed.invoice.view()?))
            }
            Err(InvoiceError::NotAllowed(n)) => {
                service_kit::inbox::refused(
                    Service::Invoice,
                    event,
                    &format!("invoice {invoice_id}: {n}"),
                );
                Ok(None)
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

#[cfg(test)]
mod tests {
    #[test]
    fn accepts_exactly_what_the_catalogue_routes_to_invoice() {
        common::events::assert_accepts_its_routes::<super::Accepted>();
    }
}
