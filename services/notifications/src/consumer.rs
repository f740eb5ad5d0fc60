//! Consumes `events:notifications`: each event applied once (the inbox claim commits with
//! the notifications and channel members it makes, [`crate::compose`]); after the commit
//! the notifications are counted, fed, published live ([`store::deliver`]) and queued for
//! push to the recipients' devices ([`crate::push`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::events::{Envelope, Service};
use common::inbox::{EventConsumer, EventHandler, Handled};
use common::queue::{Job, JobHandler, Worker, WorkerConfig};
use common::shutdown::CancellationToken;
use sea_orm::DatabaseTransaction;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::entity::notification;
use crate::state::AppState;
use crate::store;

/// What one event made, kept for its after-commit effects.
#[derive(Default)]
struct Made {
    notifications: Vec<(notification::Model, store::Unread)>,
    devices: HashMap<Uuid, Vec<Uuid>>,
}

struct Effects {
    clock: common::clock::SharedClock,
    made: Mutex<HashMap<Uuid, Made>>,
}

#[async_trait]
impl EventHandler for Effects {
    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope) -> anyhow::Result<()> {
        let composed = crate::compose::compose(event);
        let notifications = store::record(txn, self.clock.now(), event.id, &composed).await?;
        let users: Vec<Uuid> = notifications.iter().map(|(n, _)| n.user_id).collect();
        let devices = store::devices_of(txn, &users).await?;
        self.made.lock().unwrap_or_else(|e| e.into_inner()).insert(
            event.id,
            Made {
                notifications,
                devices,
            },
        );
        Ok(())
    }
}

/// The queue handler: applies an event once, then delivers what it made.
pub struct Consumer {
    inner: EventConsumer<Arc<Effects>>,
    effects: Arc<Effects>,
    state: AppState,
}

impl Consumer {
    pub fn new(state: AppState) -> Self {
        let effects = Arc::new(Effects {
            clock: state.clock.clone(),
            made: Mutex::new(HashMap::new()),
        });
        Self {
            inner: EventConsumer::new(state.db.clone(), effects.clone())
                .with_clock(state.clock.clone()),
            effects,
            state,
        }
    }

    /// Applies one event (what the queue worker does with each job).
    pub async fn apply(&self, event: &Envelope) -> anyhow::Result<Handled> {
        let result = self.inner.consume(event).await;
        let made = self
            .effects
            .made
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&event.id)
            .unwrap_or_default();
        let handled = result?;
        if handled == Handled::Applied && !made.notifications.is_empty() {
            store::deliver(&self.state, &made.notifications).await;
            let made_now: Vec<notification::Model> =
                made.notifications.into_iter().map(|(n, _)| n).collect();
            crate::push::enqueue(&self.state, &made_now, &made.devices).await;
            tracing::debug!(event = %event.id, event_type = event.event_type, made = made_now.len(), "Notifications made.");
        }
        Ok(handled)
    }
}

#[async_trait]
impl JobHandler for Consumer {
    async fn handle(&self, job: &Job) -> anyhow::Result<()> {
        let event: Envelope = job.payload_as()?;
        self.apply(&event).await.map(|_| ())
    }
}

pub async fn spawn(state: &AppState, stop: CancellationToken) -> anyhow::Result<JoinHandle<()>> {
    let worker = Worker::connect(
        &state.config.base.redis_url,
        &state.redis,
        [state.keys.events(Service::Notifications)],
        WorkerConfig::default(),
    )
    .await?;
    let consumer = Consumer::new(state.clone());
    Ok(tokio::spawn(async move {
        if let Err(error) = worker.run(consumer, stop).await {
            tracing::error!(%error, "Notifications event consumer stopped.");
        }
    }))
}
