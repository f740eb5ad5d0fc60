//! The relay: outbox rows to consumers' event queues.

use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use fred::prelude::{Expiration, KeysInterface, SetOptions};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use super::entity;
use crate::queue::{self, QueueError, scripts::Lua};
use crate::redis::{Pool, RedisError};
use crate::shutdown::CancellationToken;
use common::clock::SharedClock;
use common::events::{Service, consumers_of};
use common::keys::{Keys, QueueName};

/// Deletes the lease only if we still hold it (it may have expired and been taken).
static RELEASE: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
",
    )
});

/// How often the relay deletes old sent rows.
const PURGE_EVERY: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("database: {0}")]
    Db(#[from] DbErr),
    #[error("redis: {0}")]
    Redis(#[from] RedisError),
    #[error("queue: {0}")]
    Queue(#[from] QueueError),
}

/// The Redis server the relay last saw: its `run_id`, and when (the relay's clock, and the
/// process's monotonic time of the check).
#[derive(Debug, Clone)]
struct Seen {
    run_id: String,
    at: DateTime<Utc>,
    checked: Instant,
}

/// Wakes the relay (after a commit that wrote outbox rows): a [`crate::wake::Wake`].
pub type RelayHandle = crate::wake::Wake;

/// Pushes a service's outbox to its consumers' queues. See the [module docs](super).
#[derive(Clone)]
pub struct Relay {
    service: Service,
    db: DatabaseConnection,
    redis: Pool,
    keys: Keys,
    poll_interval: Duration,
    batch_size: u64,
    lease: Duration,
    retention: Duration,
    clock: SharedClock,
    wake: RelayHandle,
    holder: String,
    /// Rows sent this long before the last check of a Redis that has since restarted are
    /// sent again.
    resend_window: Duration,
    /// How often Redis's `run_id` is checked.
    restart_check_every: Duration,
    seen: Arc<Mutex<Option<Seen>>>,
    /// Signs each envelope as it is pushed (`EVENT_SIGNING_KEY`).
    signer: Option<common::events::signing::Signer>,
}

impl Relay {
    /// A relay for `service`'s outbox in `db`, with a poll interval of 1 s, batches of 100,
    /// a lease of 5 s and a retention of sent rows of 7 days.
    pub fn new(service: Service, db: DatabaseConnection, redis: Pool, keys: Keys) -> Self {
        Self {
            service,
            db,
            redis,
            keys,
            poll_interval: Duration::from_secs(1),
            batch_size: 100,
            lease: Duration::from_secs(5),
            retention: Duration::from_secs(7 * 24 * 3600),
            clock: common::clock::system(),
            wake: RelayHandle::default(),
            holder: uuid::Uuid::new_v4().to_string(),
            resend_window: Duration::from_secs(5),
            restart_check_every: Duration::from_secs(1),
            seen: Arc::default(),
            signer: None,
        }
    }

    /// Signs every envelope with `signer` as it is pushed (consumers holding its public
    /// key accept only signed events: [`common::events::signing`]).
    pub fn signer(mut self, signer: Option<common::events::signing::Signer>) -> Self {
        self.signer = signer;
        self
    }

    /// How far back, before its last check of a Redis that has since restarted, the relay
    /// sends rows again (default 5 s; Redis with `appendfsync everysec` loses at most about
    /// the last 2 s of writes in a crash).
    pub fn resend_window(mut self, window: Duration) -> Self {
        self.resend_window = window;
        self
    }

    /// How often the relay asks Redis for its `run_id` (default every second; at most once
    /// a round).
    pub fn restart_check_every(mut self, every: Duration) -> Self {
        self.restart_check_every = every;
        self
    }

    /// How long [`run`](Self::run) waits between rounds when not woken.
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = every;
        self
    }

    /// Most rows pushed per round (one pipeline).
    pub fn batch_size(mut self, rows: u64) -> Self {
        self.batch_size = rows.max(1);
        self
    }

    /// How long one round may hold the lease before another instance may push.
    pub fn lease(mut self, ttl: Duration) -> Self {
        self.lease = ttl.max(Duration::from_millis(1));
        self
    }

    /// How long sent rows are kept.
    pub fn retention(mut self, keep: Duration) -> Self {
        self.retention = keep;
        self
    }

    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The handle that wakes this relay.
    pub fn handle(&self) -> RelayHandle {
        self.wake.clone()
    }

    /// One round: takes the lease, pushes up to a batch of the oldest unsent rows to every
    /// consumer's queue in one pipeline, marks them sent, releases the lease. Returns how
    /// many rows were sent (0 also when another instance holds the lease).
    pub async fn relay_once(&self) -> Result<usize, RelayError> {
        self.resend_after_restart().await?;
        let lease = self.keys.outbox_relay_lease(self.service);
        let ms = i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX);
        let taken: Option<String> = self
            .redis
            .set(
                &lease,
                self.holder.as_str(),
                Some(Expiration::PX(ms)),
                Some(SetOptions::NX),
                false,
            )
            .await?;
        if taken.is_none() {
            return Ok(0);
        }
        let result = self.push_batch().await;
        let released: Result<i64, RedisError> = RELEASE
            .call(&self.redis, vec![lease], vec![self.holder.clone()])
            .await;
        if let Err(e) = released {
            tracing::warn!(error = %e, "Could not release the outbox relay lease; it expires.");
        }
        result
    }

    /// Redis restarted since the last check (its `run_id` changed; on a cluster, any
    /// primary's, which a failover to a replica changes too): what it acknowledged
    /// shortly before may not have reached its AOF (a crash with `appendfsync everysec`
    /// loses up to about two seconds), so the rows sent from `resend_window` before the
    /// last check on are marked unsent and go out again, oldest first. Consumers' inboxes
    /// drop the copies they already had. A relay that starts has no earlier `run_id` and
    /// sends nothing again.
    async fn resend_after_restart(&self) -> Result<(), RelayError> {
        let last = self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if last
            .as_ref()
            .is_some_and(|s| s.checked.elapsed() < self.restart_check_every)
        {
            return Ok(());
        }
        let run_id = crate::redis::server_identity(self.redis.next()).await?;
        let now = self.clock.now();
        if let Some(last) = last
            && last.run_id != run_id
        {
            let window = chrono::Duration::from_std(self.resend_window).unwrap_or_default();
            let since = last.at - window;
            let again = entity::Entity::update_many()
                .col_expr(entity::Column::SentAt, Expr::value(None::<DateTime<Utc>>))
                .filter(entity::Column::SentAt.gte(since))
                .exec(&self.db)
                .await?
                .rows_affected;
            tracing::warn!(
                service = %self.service,
                rows = again,
                since = %since,
                "Redis restarted (its run_id changed): sending again the events sent since, which it may have lost."
            );
        }
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(Seen {
            run_id,
            at: now,
            checked: Instant::now(),
        });
        Ok(())
    }

    async fn push_batch(&self) -> Result<usize, RelayError> {
        let rows = super::unsent(self.batch_size).all(&self.db).await?;
        if rows.is_empty() {
            return Ok(0);
        }
        // Each row's hop, a span in the trace of the change that wrote it (ended when the
        // batch is pushed and marked sent).
        let mut hops: Vec<tracing::Span> = Vec::with_capacity(rows.len());
        // Each envelope signed once (when the relay has a key), for all its consumers.
        let signed: Vec<std::borrow::Cow<'_, str>> = rows
            .iter()
            .map(|row| match &self.signer {
                None => std::borrow::Cow::Borrowed(row.envelope.as_str()),
                Some(signer) => match signer.sign_text(&row.envelope) {
                    Ok(text) => std::borrow::Cow::Owned(text),
                    Err(error) => {
                        // Pushed as stored: a consumer that checks signatures dead-letters
                        // it with the reason.
                        tracing::error!(event = %row.id, %error, "Event not signed.");
                        std::borrow::Cow::Borrowed(row.envelope.as_str())
                    }
                },
            })
            .collect();
        let mut jobs: Vec<(QueueName, &str)> = Vec::new();
        for (row, text) in rows.iter().zip(&signed) {
            let consumers = consumers_of(&row.event_type);
            hops.push(relay_span(row, consumers));
            if consumers.is_empty() {
                tracing::warn!(event = %row.id, event_type = row.event_type, "Event type has no consumers; marked sent.");
            }
            for consumer in consumers {
                jobs.push((self.keys.events(*consumer), text.as_ref()));
            }
        }
        queue::enqueue_many(&self.redis, &jobs).await?;
        let ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.id).collect();
        entity::Entity::update_many()
            .col_expr(entity::Column::SentAt, Expr::value(self.clock.now()))
            .filter(entity::Column::Id.is_in(ids))
            .exec(&self.db)
            .await?;
        tracing::debug!(service = %self.service, events = rows.len(), pushes = jobs.len(), "Outbox relayed.");
        Ok(rows.len())
    }

    /// Relays until `shutdown` is cancelled: a round when woken or every poll interval, and
    /// rounds back to back while full batches come out ([`crate::wake::Rounds`]).
    pub async fn run(self, shutdown: CancellationToken) {
        let mut last_purge: Option<tokio::time::Instant> = None;
        let batch = usize::try_from(self.batch_size).unwrap_or(usize::MAX);
        let rounds = crate::wake::Rounds::new(shutdown, self.wake.clone(), self.poll_interval);
        // The first round at once, as after a full batch.
        let mut more = true;
        while rounds.next(more).await {
            more = match self.relay_once().await {
                Ok(n) => n >= batch,
                Err(e) => {
                    tracing::warn!(service = %self.service, error = %e, "Outbox relay round failed.");
                    false
                }
            };
            if last_purge.is_none_or(|t| t.elapsed() >= PURGE_EVERY) {
                last_purge = Some(tokio::time::Instant::now());
                let keep =
                    chrono::Duration::from_std(self.retention).unwrap_or(chrono::Duration::MAX);
                let before = self.clock.now().checked_sub_signed(keep);
                if let Some(before) = before
                    && let Err(e) = super::purge_sent_before(&self.db, before).await
                {
                    tracing::warn!(error = %e, "Purging sent outbox rows failed.");
                }
            }
        }
    }
}

/// The span of relaying `row` to `consumers`: a producer span in the trace of the change
/// that wrote it (the envelope's `traceparent`), naming the event and the queues it goes
/// to.
fn relay_span(row: &entity::Model, consumers: &[Service]) -> tracing::Span {
    #[derive(serde::Deserialize)]
    struct Traced {
        traceparent: Option<String>,
    }
    let queues: Vec<&str> = consumers.iter().map(|c| c.as_str()).collect();
    let span = tracing::info_span!(
        "outbox_relay",
        event.r#type = %row.event_type,
        event.id = %row.id,
        detail = %format_args!("-> events:{}", queues.join(", events:")),
        otel.kind = "producer",
    );
    if let Ok(Traced {
        traceparent: Some(tp),
    }) = serde_json::from_str::<Traced>(&row.envelope)
    {
        crate::telemetry::set_parent(&span, &tp);
    }
    span
}
