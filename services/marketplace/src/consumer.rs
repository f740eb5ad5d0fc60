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
//!   invoice's status as reason; back to pending if the invoice is still listed) and the
//!   listing claim cleared.

use async_trait::async_trait;
use common::events::{Envelope, Service};
use common::inbox::{StagedConsumer, StagedHandler};
use common::shutdown::CancellationToken;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use serde::Deserialize;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::entity::listing;
use crate::events::OfferEvent;
use crate::listings::{self, InvoiceTerms, LISTED};
use crate::offers::{self, Change, Changed, OfferStatus};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
struct AcceptanceAnswer {
    offer_id: Uuid,
    invoice_id: Uuid,
    /// The invoice's status, when refused.
    status: Option<String>,
}

pub struct Effects {
    clock: common::clock::SharedClock,
    state: AppState,
}

#[async_trait]
impl StagedHandler for Effects {
    /// The offer changes the event made, for the after-commit effects.
    type Staged = Vec<Changed>;

    async fn stage(
        &self,
        txn: &DatabaseTransaction,
        event: &Envelope,
    ) -> anyhow::Result<Vec<Changed>> {
        let changes = match event.event_type.as_str() {
            "invoice.listed" => {
                listings::listed(txn, self.clock.now(), &event.payload_as()?).await?;
                Vec::new()
            }
            "invoice.cancelled" => {
                let t: InvoiceTerms = event.payload_as()?;
                listings::delist(
                    txn,
                    self.clock.as_ref(),
                    t.invoice_id,
                    &t.to,
                    "the invoice was cancelled by its seller",
                )
                .await?
            }
            "invoice.status_changed" => self.status_changed(txn, event.payload_as()?).await?,
            "invoice.acceptance_confirmed" => self.confirmed(txn, event.payload_as()?).await?,
            "invoice.acceptance_refused" => self.refused(txn, event.payload_as()?).await?,
            other => {
                return Err(common::queue::Unusable(format!(
                    "events:marketplace does not accept {other}"
                ))
                .into());
            }
        };
        Ok(changes)
    }

    /// Publishes the offer changes and moves the counters.
    async fn after_commit(&self, event: &Envelope, changes: Vec<Changed>) {
        if event.event_type == "invoice.listed"
            && let Some(id) = event
                .payload
                .get("invoice_id")
                .and_then(|v| v.as_str())
                .and_then(|s| s.parse().ok())
        {
            crate::live::init_counters(&self.state, id).await;
        }
        offers::after(&self.state, &changes).await;
    }
}

impl Effects {
    async fn status_changed(
        &self,
        txn: &DatabaseTransaction,
        t: InvoiceTerms,
    ) -> anyhow::Result<Vec<Changed>> {
        let clock = self.clock.as_ref();
        let Some(current) = listings::find(txn, t.invoice_id).await? else {
            return Ok(Vec::new());
        };
        match (t.from.as_str(), t.to.as_str()) {
            // This saga's own confirmation; `invoice.acceptance_confirmed` finishes it.
            (_, "accepted") => {
                listings::mirror(txn, clock.now(), t.invoice_id, "accepted").await?;
                Ok(Vec::new())
            }
            ("accepted", LISTED) => listings::reopen(txn, clock, t.invoice_id).await,
            (_, to) if current.status == LISTED && to != LISTED => {
                let reason = match &t.reason {
                    Some(r) => format!("the invoice is {to}: {r}"),
                    None => format!("the invoice is {to}"),
                };
                listings::delist(txn, clock, t.invoice_id, to, &reason).await
            }
            (_, to) => {
                listings::mirror(txn, clock.now(), t.invoice_id, to).await?;
                Ok(Vec::new())
            }
        }
    }

    async fn confirmed(
        &self,
        txn: &DatabaseTransaction,
        a: AcceptanceAnswer,
    ) -> anyhow::Result<Vec<Changed>> {
        let clock = self.clock.as_ref();
        let Some(o) = offers::find(txn, a.offer_id).await? else {
            tracing::warn!(offer_id = %a.offer_id, "Confirmation of an unknown offer dropped.");
            return Ok(Vec::new());
        };
        if offers::status_of(&o) != OfferStatus::Reserved {
            tracing::warn!(offer_id = %o.id, status = %o.status, "Confirmation of an offer that is not reserved dropped.");
            return Ok(Vec::new());
        }
        let mut changes = offers::reject_all(
            txn,
            clock,
            a.invoice_id,
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
        let mut event = OfferEvent::of(&accepted.offer, Change::Accepted);
        event.rejected_offer_ids = changes.iter().map(|c| c.offer.id).collect();
        crate::events::add(txn, clock, &event).await?;
        listing::Entity::update_many()
            .col_expr(listing::Column::Status, Expr::value("accepted"))
            .col_expr(listing::Column::ReservedOfferId, Expr::value(o.id))
            .col_expr(listing::Column::AcceptedOfferId, Expr::value(o.id))
            .col_expr(listing::Column::ActiveOffers, Expr::value(0i64))
            .col_expr(listing::Column::UpdatedAt, Expr::value(clock.now()))
            .filter(listing::Column::Id.eq(a.invoice_id))
            .exec(txn)
            .await?;
        tracing::info!(offer_id = %o.id, invoice_id = %a.invoice_id, rejected = changes.len(), "Offer accepted.");
        changes.push(accepted);
        Ok(changes)
    }

    async fn refused(
        &self,
        txn: &DatabaseTransaction,
        a: AcceptanceAnswer,
    ) -> anyhow::Result<Vec<Changed>> {
        let clock = self.clock.as_ref();
        let status = a.status.unwrap_or_else(|| "unknown".to_owned());
        let mut changes = Vec::new();
        if let Some(o) = offers::find(txn, a.offer_id).await? {
            let (to, reason) = if status == LISTED {
                (
                    OfferStatus::Pending,
                    "the invoice service did not confirm the acceptance; the offer is open again"
                        .to_owned(),
                )
            } else {
                (
                    OfferStatus::Rejected,
                    format!("the invoice is {status}; the acceptance was refused"),
                )
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
            .filter(listing::Column::Id.eq(a.invoice_id))
            .filter(listing::Column::ReservedOfferId.eq(a.offer_id))
            .exec(txn)
            .await?;
        if status != LISTED
            && listings::find(txn, a.invoice_id)
                .await?
                .is_some_and(|l| l.status == LISTED)
        {
            let reason = format!("the invoice is {status}");
            changes.extend(listings::delist(txn, clock, a.invoice_id, &status, &reason).await?);
        }
        tracing::info!(offer_id = %a.offer_id, invoice_id = %a.invoice_id, %status, "Acceptance refused; offer released.");
        Ok(changes)
    }
}

/// The queue handler of `events:marketplace`.
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
            state.keys.events(Service::Marketplace),
            stop,
        )
        .await
}
