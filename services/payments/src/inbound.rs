//! Consumes `events:payments` (applied once: the inbox claim commits with the effect).
//!
//! - `offer.accepted` ([`OfferChanged`], the figures as marketplace priced them): opens
//!   the offer's financing and its funding payment, pending until the investor pays
//!   (`payment.status_changed` funding/pending tells them).
//! - `invoice.acceptance_confirmed` and `invoice.status_changed`: routed here so that
//!   repayments can follow the invoice (due, overdue, defaulted); nothing to do yet.

use async_trait::async_trait;
use common::events::invoice::{AcceptanceConfirmed, InvoiceChanged};
use common::events::marketplace::OfferChanged;
use common::events::{Accepts, Envelope, Event, InvoiceEvent, OfferEvent, Service};
use sea_orm::DatabaseTransaction;
use service_kit::inbox::StagedHandler;

use crate::state::AppState;
use crate::store::financings;
use crate::store::outcomes::Changed;

/// What `events:payments` accepts.
#[derive(Debug)]
pub enum Accepted {
    /// The seller accepted this offer and the invoice confirmed it: the investor owes
    /// its price.
    OfferAccepted(OfferChanged),
    AcceptanceConfirmed(AcceptanceConfirmed),
    InvoiceChanged(InvoiceChanged),
}

impl Accepts for Accepted {
    const SERVICE: Service = Service::Payments;
    fn accept(event: Event) -> Option<Self> {
        match event {
            Event::Marketplace(OfferEvent::Accepted(o)) => Some(Accepted::OfferAccepted(o)),
            Event::Invoice(InvoiceEvent::AcceptanceConfirmed(a)) => {
                Some(Accepted::AcceptanceConfirmed(a))
            }
            Event::Invoice(InvoiceEvent::StatusChanged(c)) => Some(Accepted::InvoiceChanged(c)),
            _ => None,
        }
    }
}

/// What `events:payments` does (the service's [`StagedHandler`]).
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
    /// The payments the event opened.
    type Staged = Changed;

    async fn stage(&self, txn: &DatabaseTransaction, event: &Envelope) -> anyhow::Result<Changed> {
        match event.accept::<Accepted>()? {
            Accepted::OfferAccepted(o) => {
                let opened = financings::open(
                    txn,
                    self.state.clock.as_ref(),
                    self.state.config.funding_window,
                    self.state.provider.name(),
                    &o,
                )
                .await?;
                Ok(match opened {
                    Some(opened) => {
                        tracing::info!(offer_id = %o.offer_id, financing_id = %opened.financing.id, price_minor = o.price_minor, "Financing opened; funding awaited.");
                        vec![opened.funding]
                    }
                    None => Vec::new(),
                })
            }
            Accepted::AcceptanceConfirmed(_) | Accepted::InvoiceChanged(_) => Ok(Vec::new()),
        }
    }

    async fn after_commit(&self, _event: &Envelope, changed: Changed) {
        crate::outbound::after(&self.state, &changed).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn accepts_exactly_what_the_catalogue_routes_to_payments() {
        common::events::assert_accepts_its_routes::<super::Accepted>();
    }
}
