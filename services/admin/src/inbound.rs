//! Consumes `events:admin`: every event of the catalogue (all are routed here) becomes
//! one audit row ([`crate::store::audit::append`]) and moves the read models
//! ([`crate::store::models::project`]), once: the inbox claim commits with them, and the
//! row's `event_id` is unique besides.

use async_trait::async_trait;
use common::events::{Accepts, Envelope, Event, Service};
use sea_orm::DatabaseTransaction;
use service_kit::inbox::StagedHandler;

use crate::domain::audit::{Entry, Subject};
use crate::state::AppState;

/// What `events:admin` accepts: every event of the platform.
#[derive(Debug)]
pub struct Accepted(pub Event);

impl Accepts for Accepted {
    const SERVICE: Service = Service::Admin;
    fn accept(event: Event) -> Option<Self> {
        event
            .event_type()
            .consumers
            .contains(&Service::Admin)
            .then_some(Accepted(event))
    }
}

/// What `events:admin` does (the service's [`StagedHandler`]).
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
    /// The row appended (none for an event recorded before).
    type Staged = Option<Entry>;

    async fn stage(
        &self,
        txn: &DatabaseTransaction,
        envelope: &Envelope,
    ) -> anyhow::Result<Option<Entry>> {
        let Accepted(event) = envelope.accept::<Accepted>()?;
        let appended = crate::store::audit::append(
            txn,
            self.state.chain_key(),
            envelope,
            &event,
            self.state.clock.now(),
        )
        .await?;
        if let Some(entry) = &appended {
            crate::store::models::project(txn, envelope, &event, &entry.subject()).await?;
        }
        Ok(appended)
    }

    /// The batch's rows appended together ([`crate::store::audit::append_all`]: one head
    /// read, one insert, one head move) and its models moved together
    /// ([`crate::store::models::project_all`]), in the events' order.
    async fn stage_batch(
        &self,
        txn: &DatabaseTransaction,
        envelopes: &[&Envelope],
    ) -> anyhow::Result<Vec<Option<Entry>>> {
        let events = envelopes
            .iter()
            .map(|e| e.accept::<Accepted>().map(|Accepted(event)| event))
            .collect::<Result<Vec<_>, _>>()?;
        let pairs: Vec<(&Envelope, &Event)> = envelopes.iter().copied().zip(&events).collect();
        let entries = crate::store::audit::append_all(
            txn,
            self.state.chain_key(),
            &pairs,
            self.state.clock.now(),
        )
        .await?;
        let subjects: Vec<(&Envelope, &Event, Subject)> = pairs
            .iter()
            .zip(&entries)
            .map(|((envelope, event), entry)| (*envelope, *event, entry.subject()))
            .collect();
        crate::store::models::project_all(txn, &subjects).await?;
        Ok(entries.into_iter().map(Some).collect())
    }

    async fn after_commit(&self, _event: &Envelope, appended: Option<Entry>) {
        if let Some(entry) = appended {
            crate::outbound::recorded(&self.state, &[entry]).await;
        }
    }

    async fn after_commit_batch(&self, done: Vec<(&Envelope, Option<Entry>)>) {
        let entries: Vec<Entry> = done.into_iter().filter_map(|(_, e)| e).collect();
        crate::outbound::recorded(&self.state, &entries).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn accepts_exactly_what_the_catalogue_routes_to_admin() {
        common::events::assert_accepts_its_routes::<super::Accepted>();
    }
}
