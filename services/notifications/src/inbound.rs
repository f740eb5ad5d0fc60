//! Consumes `events:notifications`: each event applied once (the inbox claim commits with
//! the notifications and channel members it makes, [`crate::domain::compose`]); after the commit
//! the notifications are counted, fed, published live ([`store::deliver`]) and queued for
//! push to the recipients' devices ([`crate::jobs::push`]).

use std::collections::HashMap;

use async_trait::async_trait;
use common::events::Envelope;
use sea_orm::DatabaseTransaction;
use service_kit::inbox::StagedHandler;
use uuid::Uuid;

use crate::state::AppState;
use crate::store;
use crate::store::entity::notification;

/// What one event made, for its after-commit effects.
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
        // Only what the catalogue routes here, decoded: anything else goes to the dead
        // letters with the reason, rather than being acknowledged unread or guessed at.
        let told = event.accept::<crate::domain::compose::Told>()?;
        let composed = crate::domain::compose::compose(&told);
        let notifications = store::record(txn, self.state.clock.now(), event.id, &composed).await?;
        let users: Vec<Uuid> = notifications.iter().map(|(n, _)| n.user_id).collect();
        let devices = store::devices_of(txn, &users).await?;
        Ok(Made {
            notifications,
            devices,
        })
    }

    async fn after_commit(&self, event: &Envelope, made: Made) {
        if made.notifications.is_empty() {
            return;
        }
        store::deliver(&self.state, &made.notifications).await;
        let made_now: Vec<notification::Model> =
            made.notifications.into_iter().map(|(n, _)| n).collect();
        crate::jobs::push::enqueue(&self.state, &made_now, &made.devices).await;
        tracing::debug!(event = %event.id, event_type = event.event_type, made = made_now.len(), "Notifications made.");
    }
}
