//! Consumes `events:notifications` in batches: each event applied once (the inbox claims
//! commit with the notifications and channel members the batch makes,
//! [`crate::domain::compose`], written a few multi-row statements for all); after the
//! commit the notifications are counted, fed and published live in one pipeline
//! ([`store::deliver`]) and queued for push to the recipients' devices
//! ([`crate::jobs::push`]). Order per user holds: a batch's notifications are made, fed
//! and published in the order of its events.

use std::collections::HashMap;

use async_trait::async_trait;
use common::events::Envelope;
use sea_orm::DatabaseTransaction;
use service_kit::inbox::StagedHandler;
use uuid::Uuid;

use crate::state::AppState;
use crate::store::entity::notification;
use crate::store::{self, Delivery};

/// What one event made, for its after-commit effects: its notifications (each with its
/// recipient's count after the batch) and their recipients' devices.
pub struct Made {
    notifications: Vec<(notification::Model, store::Unread)>,
    devices: HashMap<Uuid, Vec<Uuid>>,
}

/// What `events:notifications` does (the service's [`StagedHandler`]).
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
    type Staged = Made;

    async fn stage(&self, txn: &DatabaseTransaction, event: &Envelope) -> anyhow::Result<Made> {
        let mut made = self.stage_batch(txn, &[event]).await?;
        made.pop()
            .ok_or_else(|| anyhow::anyhow!("nothing staged for {}", event.id))
    }

    async fn stage_batch(
        &self,
        txn: &DatabaseTransaction,
        events: &[&Envelope],
    ) -> anyhow::Result<Vec<Made>> {
        // Only what the catalogue routes here, decoded: anything else goes to the dead
        // letters with the reason, rather than being acknowledged unread or guessed at.
        let mut composed = Vec::with_capacity(events.len());
        for event in events {
            let told = event
                .accept::<crate::domain::compose::Told>()
                .map_err(|e| {
                    anyhow::Error::new(e).context(format!("{} {}", event.event_type, event.id))
                })?;
            composed.push((event.id, crate::domain::compose::compose(&told)));
        }
        let refs: Vec<(Uuid, &crate::domain::compose::Composed)> =
            composed.iter().map(|(id, c)| (*id, c)).collect();
        let made = store::record_all(txn, self.state.clock.now(), &refs).await?;
        let mut users: Vec<Uuid> = made.iter().flatten().map(|(n, _)| n.user_id).collect();
        users.sort_unstable();
        users.dedup();
        let devices = store::devices_of(txn, &users).await?;
        Ok(made
            .into_iter()
            .map(|notifications| {
                let devices = notifications
                    .iter()
                    .filter_map(|(n, _)| devices.get(&n.user_id).map(|d| (n.user_id, d.clone())))
                    .collect();
                Made {
                    notifications,
                    devices,
                }
            })
            .collect())
    }

    async fn after_commit(&self, event: &Envelope, made: Made) {
        self.after_commit_batch(vec![(event, made)]).await;
    }

    async fn after_commit_batch(&self, done: Vec<(&Envelope, Made)>) {
        let mut notifications = Vec::new();
        let mut traces = Vec::new();
        let mut devices: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for (event, made) in done {
            tracing::debug!(event = %event.id, event_type = event.event_type, made = made.notifications.len(), "Notifications made.");
            traces.extend(
                made.notifications
                    .iter()
                    .map(|_| event.traceparent.as_deref()),
            );
            notifications.extend(made.notifications);
            devices.extend(made.devices);
        }
        if notifications.is_empty() {
            return;
        }
        let fed = store::deliver(&self.state, &notifications, &traces, Delivery::First).await;
        let made_now: Vec<notification::Model> =
            notifications.into_iter().map(|(n, _)| n).collect();
        let queued =
            crate::jobs::push::enqueue(&self.state, &made_now, &devices, Delivery::First).await;
        // Done: the sweep leaves them alone. Not done (Redis away, or this process dies
        // before this line): the sweep does it again after its grace period.
        if fed && queued {
            let ids: Vec<Uuid> = made_now.iter().map(|n| n.id).collect();
            if let Err(error) = store::effects_done(&self.state.db, &ids).await {
                tracing::warn!(%error, "Effects done but not marked; the sweep checks them again.");
            }
        }
    }
}
