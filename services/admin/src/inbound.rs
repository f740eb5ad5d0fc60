//! Consumes `events:admin`: every event of the catalogue (all are routed here) becomes
//! one audit row ([`crate::store::audit::append`]) and moves the read models
//! ([`crate::store::models::project`]), once: the inbox claim commits with them, and the
//! row's `event_id` is unique besides.

use async_trait::async_trait;
use common::events::{Accepts, Envelope, Event, Service};
use sea_orm::DatabaseTransaction;
use service_kit::inbox::StagedHandler;

use crate::domain::audit::Entry;
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
            let subject = crate::domain::audit::Subject {
                actor_id: entry.actor_id,
                actor_role: entry.actor_role,
                resource_type: entry.resource_type,
                resource_id: entry.resource_id,
            };
            crate::store::models::project(txn, envelope, &event, &subject).await?;
        }
        Ok(appended)
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
