//! Consumes `events:marketplace` (each event applied once: the inbox claim commits with
//! the effect):
//!
//! - `invoice.listed`: creates or refreshes the listing.
//! - `invoice.cancelled`, or `invoice.status_changed` away from `listed` (other than to
//!   `accepted`, which only this saga causes): delists it and rejects its active offers
//!   with a reason.
//! - `invoice.status_changed` accepted -> listed (funding expired): the accepted offer
//!   lapses and the listing opens again.
//! - `invoice.acceptance_confirmed`: the reserved offer is accepted, the other pending
//!   offers rejected (`offer.accepted`).
//! - `invoice.acceptance_refused`: the reserved offer is released (rejected with the
//!   invoice's status as reason; back to pending if the invoice is still listed, or is
//!   accepted only by a late confirmation being undone) and the listing claim cleared.
//!
//! A reservation the invoice service does not answer in time is released by the sweep
//! ([`crate::jobs::sweep`], `offer.reservation_timed_out`); a confirmation arriving after
//! that is dropped here, and its `invoice.status_changed` to accepted is not mirrored:
//! the invoice service undoes it (accepted -> listed) when it reads the timeout.

use async_trait::async_trait;
use common::events::invoice::{
    AcceptanceConfirmed, AcceptanceRefused, InvoiceChanged, InvoiceStatus,
};
use common::events::{Accepts, Envelope, Event, InvoiceEvent, Service};
use common::ids::{InvoiceId, OfferId};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use service_kit::inbox::StagedHandler;
use uuid::Uuid;

use crate::state::AppState;
use crate::store::entity::listing;
use crate::store::listings::{self, LISTED};
use crate::store::offers::{self, Change, Changed, OfferStatus};

/// What `events:marketplace` accepts: the invoice service's news of listed invoices and
/// its answers to acceptances.
#[derive(Debug)]
pub enum Accepted {
    Listed(InvoiceChanged),
    Cancelled(InvoiceChanged),
    StatusChanged(InvoiceChanged),
    Confirmed(AcceptanceConfirmed),
    Refused(AcceptanceRefused),
}

impl Accepts for Accepted {
    const SERVICE: Service = Service::Marketplace;
    fn accept(event: Event) -> Option<Self> {
        match event {
            Event::Invoice(InvoiceEvent::Listed(t)) => Some(Accepted::Listed(t)),
            Event::Invoice(InvoiceEvent::Cancelled(t)) => Some(Accepted::Cancelled(t)),
            Event::Invoice(InvoiceEvent::StatusChanged(t)) => Some(Accepted::StatusChanged(t)),
            Event::Invoice(InvoiceEvent::AcceptanceConfirmed(a)) => Some(Accepted::Confirmed(a)),
            Event::Invoice(InvoiceEvent::AcceptanceRefused(a)) => Some(Accepted::Refused(a)),
            _ => None,
        }
    }
}

impl Accepted {
    /// The listing the event is about.
    fn invoice_id(&self) -> uuid::Uuid {
        match self {
            Accepted::Listed(t) => t.invoice_id.uuid(),
            Accepted::Cancelled(t) | Accepted::StatusChanged(t) => t.invoice_id.uuid(),
            Accepted::Confirmed(a) => a.invoice_id.uuid(),
            Accepted::Refused(a) => a.invoice_id.uuid(),
        }
    }
}

/// What the transaction did, for the after-commit effects.
pub struct Staged {
    /// The listing the event was about (its cached card and trending are stale).
    touched: uuid::Uuid,
    /// A listing (re)opened: its live counters start.
    listed: Option<InvoiceId>,
    changes: Vec<Changed>,
}

/// What `events:marketplace` does (the service's [`StagedHandler`]).
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
    type Staged = Staged;

    async fn stage(&self, txn: &DatabaseTransaction, event: &Envelope) -> anyhow::Result<Staged> {
        let mut listed = None;
        let accepted = event.accept::<Accepted>()?;
        let touched = accepted.invoice_id();
        let changes = match accepted {
            Accepted::Listed(t) => {
                listings::listed(txn, self.state.clock.now(), &t).await?;
                listed = Some(t.invoice_id);
                Vec::new()
            }
            Accepted::Cancelled(t) => {
                listings::delist(
                    txn,
                    self.state.clock.as_ref(),
                    t.invoice_id.uuid(),
                    t.to,
                    "the invoice was cancelled by its seller",
                )
                .await?
            }
            Accepted::StatusChanged(t) => self.status_changed(txn, t).await?,
            Accepted::Confirmed(a) => self.confirmed(txn, event, a).await?,
            Accepted::Refused(a) => self.refused(txn, a).await?,
        };
        Ok(Staged {
            touched,
            listed,
            changes,
        })
    }

    /// Publishes the offer changes and moves the counters.
    async fn after_commit(&self, _event: &Envelope, staged: Staged) {
        if let Some(id) = staged.listed {
            crate::store::live::init_counters(&self.state, id.uuid()).await;
        }
        if staged.changes.is_empty() {
            crate::store::live::changed(&self.state, [staged.touched]).await;
        }
        // (Offer changes mark their listings stale there.)
        crate::outbound::after(&self.state, &staged.changes).await;
    }
}

impl Effects {
    async fn status_changed(
        &self,
        txn: &DatabaseTransaction,
        t: InvoiceChanged,
    ) -> anyhow::Result<Vec<Changed>> {
        use InvoiceStatus as S;
        let clock = self.state.clock.as_ref();
        let id = t.invoice_id.uuid();
        let Some(current) = listings::find(txn, t.invoice_id).await? else {
            return Ok(Vec::new());
        };
        match (t.from, t.to) {
            // A confirmation of a reservation this service already timed out (no claim,
            // nothing accepted): the invoice service releases it when it reads the
            // timeout, which follows; the listing stays open meanwhile.
            (_, S::Accepted)
                if current.reserved_offer_id.is_none() && current.accepted_offer_id.is_none() =>
            {
                tracing::info!(invoice_id = %id, "Late confirmation of a timed-out reservation; the invoice service undoes it.");
                Ok(Vec::new())
            }
            // This saga's own confirmation; `invoice.acceptance_confirmed` finishes it.
            (_, S::Accepted) => {
                listings::mirror(txn, clock.now(), id, S::Accepted).await?;
                Ok(Vec::new())
            }
            (S::Accepted, S::Listed) => listings::reopen(txn, clock, id).await,
            (_, to) if current.status == LISTED && to != S::Listed => {
                let reason = match &t.reason {
                    Some(r) => format!("the invoice is {to}: {r}"),
                    None => format!("the invoice is {to}"),
                };
                listings::delist(txn, clock, id, to, &reason).await
            }
            (_, to) => {
                listings::mirror(txn, clock.now(), id, to).await?;
                Ok(Vec::new())
            }
        }
    }

    async fn confirmed(
        &self,
        txn: &DatabaseTransaction,
        event: &Envelope,
        a: AcceptanceConfirmed,
    ) -> anyhow::Result<Vec<Changed>> {
        let clock = self.state.clock.as_ref();
        let invoice_id = a.invoice_id.uuid();
        let Some(o) = offers::find(txn, a.offer_id).await? else {
            service_kit::inbox::refused(
                Service::Marketplace,
                event,
                &format!("no offer {}", a.offer_id),
            );
            return Ok(Vec::new());
        };
        if offers::status_of(&o)? != OfferStatus::Reserved {
            service_kit::inbox::refused(
                Service::Marketplace,
                event,
                &format!("offer {} is {}, not reserved", o.id, o.status),
            );
            return Ok(Vec::new());
        }
        let mut changes = offers::reject_all(
            txn,
            clock,
            invoice_id,
            &[OfferStatus::Pending],
            Some(o.id),
            "another offer on this invoice was accepted",
        )
        .await?;
        let Some(mut accepted) = offers::move_status(
            txn,
            clock,
            &o,
            offers::From::any(&[OfferStatus::Reserved]),
            OfferStatus::Accepted,
            None,
        )
        .await?
        else {
            return Ok(changes);
        };
        accepted.change = Change::Accepted;
        let mut event =
            crate::store::offers::events::offer_changed(&accepted.offer, Change::Accepted)?;
        event.rejected_offer_ids = changes.iter().map(|c| OfferId(c.offer.id)).collect();
        crate::store::offers::events::add(txn, clock, event).await?;
        listing::Entity::update_many()
            .col_expr(listing::Column::Status, Expr::value("accepted"))
            .col_expr(listing::Column::ReservedOfferId, Expr::value(o.id))
            .col_expr(listing::Column::AcceptedOfferId, Expr::value(o.id))
            .col_expr(listing::Column::ActiveOffers, Expr::value(0i64))
            .col_expr(listing::Column::UpdatedAt, Expr::value(clock.now()))
            .filter(listing::Column::Id.eq(invoice_id))
            .exec(txn)
            .await?;
        tracing::info!(offer_id = %o.id, %invoice_id, rejected = changes.len(), "Offer accepted.");
        changes.push(accepted);
        Ok(changes)
    }

    async fn refused(
        &self,
        txn: &DatabaseTransaction,
        a: AcceptanceRefused,
    ) -> anyhow::Result<Vec<Changed>> {
        let clock = self.state.clock.as_ref();
        let (invoice_id, offer_id) = (a.invoice_id.uuid(), a.offer_id.uuid());
        let mut changes = Vec::new();
        // The invoice is accepted but not for an offer this service accepted: a late
        // confirmation of a timed-out reservation, which the invoice service is undoing.
        // The listing as it was, read once and only when the invoice is no longer listed
        // (the changes below touch neither its status nor its accepted offer).
        let listing = match a.status {
            Some(status) if status != InvoiceStatus::Listed => {
                listings::find(txn, a.invoice_id).await?
            }
            _ => None,
        };
        let undoing = a.status == Some(InvoiceStatus::Accepted)
            && listing
                .as_ref()
                .is_some_and(|l| l.accepted_offer_id.is_none());
        if let Some(o) = offers::find(txn, a.offer_id).await? {
            let (to, reason) = match a.status {
                _ if undoing => (
                    OfferStatus::Pending,
                    "the invoice service was undoing an earlier acceptance; the offer is open again"
                        .to_owned(),
                ),
                Some(InvoiceStatus::Listed) => (
                    OfferStatus::Pending,
                    "the invoice service did not confirm the acceptance; the offer is open again"
                        .to_owned(),
                ),
                Some(status) => (
                    OfferStatus::Rejected,
                    format!("the invoice is {status}; the acceptance was refused"),
                ),
                None => (
                    OfferStatus::Rejected,
                    "the invoice does not exist; the acceptance was refused".to_owned(),
                ),
            };
            if let Some(c) = offers::set_status(
                txn,
                clock,
                &o,
                offers::From::any(&[OfferStatus::Reserved]),
                to,
                Change::Released,
                Some(&reason),
            )
            .await?
            {
                changes.push(c);
            }
        }
        listing::Entity::update_many()
            .col_expr(
                listing::Column::ReservedOfferId,
                Expr::value(Option::<Uuid>::None),
            )
            .col_expr(listing::Column::UpdatedAt, Expr::value(clock.now()))
            .filter(listing::Column::Id.eq(invoice_id))
            .filter(listing::Column::ReservedOfferId.eq(offer_id))
            .exec(txn)
            .await?;
        if let Some(status) = a.status
            && status != InvoiceStatus::Listed
            && !undoing
            && listing.as_ref().is_some_and(|l| l.status == LISTED)
        {
            let reason = format!("the invoice is {status}");
            changes.extend(listings::delist(txn, clock, invoice_id, status, &reason).await?);
        }
        tracing::info!(%offer_id, %invoice_id, status = ?a.status, "Acceptance refused; offer released.");
        Ok(changes)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn accepts_exactly_what_the_catalogue_routes_to_marketplace() {
        common::events::assert_accepts_its_routes::<super::Accepted>();
    }
}
