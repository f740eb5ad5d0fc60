//! Running a service's event handler exactly once in effect.

use anyhow::Context;
use async_trait::async_trait;
use futures::future::BoxFuture;
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use tracing::Instrument as _;

use crate::queue::{Job, JobHandler, QueueName, Unusable, Worker, WorkerConfig};
use crate::shutdown::CancellationToken;
use common::clock::SharedClock;
use common::events::Envelope;
use common::events::signing::Keyring;
use std::sync::Arc;

/// A service's effect of an event, applied inside `txn` (which also holds the inbox
/// claim). An error rolls both back and the event is retried.
#[async_trait]
pub trait EventHandler: Send + Sync + 'static {
    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope) -> anyhow::Result<()>;
}

/// An [`EventHandler`] made of a closure; see [`event_handler_fn`].
#[derive(Clone)]
pub struct FnEventHandler<F>(F);

/// A handler from a closure returning a boxed future:
/// `event_handler_fn(|txn, event| Box::pin(async move { ... }))`.
pub fn event_handler_fn<F>(f: F) -> FnEventHandler<F>
where
    F: for<'a> Fn(&'a DatabaseTransaction, &'a Envelope) -> BoxFuture<'a, anyhow::Result<()>>
        + Send
        + Sync
        + 'static,
{
    FnEventHandler(f)
}

#[async_trait]
impl<F> EventHandler for FnEventHandler<F>
where
    F: for<'a> Fn(&'a DatabaseTransaction, &'a Envelope) -> BoxFuture<'a, anyhow::Result<()>>
        + Send
        + Sync
        + 'static,
{
    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope) -> anyhow::Result<()> {
        (self.0)(txn, event).await
    }
}

#[async_trait]
impl<H: EventHandler + ?Sized> EventHandler for std::sync::Arc<H> {
    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope) -> anyhow::Result<()> {
        (**self).handle(txn, event).await
    }
}

/// What [`consume`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// First delivery: the effect committed with the claim.
    Applied,
    /// Already handled: nothing done.
    Duplicate,
}

/// An event handler whose effect has a part that must wait for the commit (publish live,
/// bump a cache generation, queue a push): [`stage`](Self::stage) runs in the event's
/// transaction and hands what it did to [`after_commit`](Self::after_commit), which runs
/// only once the transaction committed, and only on the first delivery.
#[async_trait]
pub trait StagedHandler: Send + Sync {
    /// What the transaction hands over.
    type Staged: Send;
    async fn stage(
        &self,
        txn: &DatabaseTransaction,
        event: &Envelope,
    ) -> anyhow::Result<Self::Staged>;
    async fn after_commit(&self, event: &Envelope, staged: Self::Staged);

    /// [`stage`](Self::stage) for several events in one transaction, in their order:
    /// one `Staged` for each. The default stages them one by one; a handler whose
    /// per-event work is round trips writes them together here (one multi-row statement
    /// for all).
    async fn stage_batch(
        &self,
        txn: &DatabaseTransaction,
        events: &[&Envelope],
    ) -> anyhow::Result<Vec<Self::Staged>> {
        let mut staged = Vec::with_capacity(events.len());
        for event in events {
            staged.push(
                self.stage(txn, event)
                    .await
                    .with_context(|| format!("handling {} {}", event.event_type, event.id))?,
            );
        }
        Ok(staged)
    }

    /// [`after_commit`](Self::after_commit) for a committed batch, in order. The default
    /// runs them one by one; a handler whose after-commit step is Redis writes sends the
    /// batch's in one pipeline here.
    async fn after_commit_batch(&self, done: Vec<(&Envelope, Self::Staged)>) {
        for (event, staged) in done {
            self.after_commit(event, staged).await;
        }
    }
}

/// An [`EventHandler`] as a [`StagedHandler`] with nothing after the commit.
struct Plain<'h, H: ?Sized>(&'h H);

#[async_trait]
impl<H: EventHandler + ?Sized> StagedHandler for Plain<'_, H> {
    type Staged = ();
    async fn stage(&self, txn: &DatabaseTransaction, event: &Envelope) -> anyhow::Result<()> {
        self.0.handle(txn, event).await
    }
    async fn after_commit(&self, _event: &Envelope, _staged: ()) {}
}

/// Applies `event` once: begins a write transaction, claims the event in the inbox, runs
/// `handler` in the same transaction and commits. A redelivered event is a
/// [`Handled::Duplicate`]; an error rolls everything back.
pub async fn consume<H: EventHandler + ?Sized>(
    db: &DatabaseConnection,
    handler: &H,
    event: &Envelope,
    clock: &SharedClock,
) -> anyhow::Result<Handled> {
    consume_staged(db, &Plain(handler), event, clock).await
}

/// The span of consuming `event`: a child of the change that caused it (the envelope's
/// `traceparent`), so one trace runs from a request through the outbox and the queue to
/// every consumer's effect and what follows it (live messages, pushes).
pub fn event_span(event: &Envelope) -> tracing::Span {
    let span = tracing::info_span!(
        "consume_event",
        event.r#type = %event.event_type,
        event.id = %event.id,
        event.producer = %event.producer,
        otel.kind = "consumer",
    );
    if let Some(tp) = &event.traceparent {
        crate::telemetry::set_parent(&span, tp);
    }
    span
}

/// [`consume`] for a [`StagedHandler`]: after the commit of a first delivery, its
/// `after_commit` runs with what `stage` handed over. It runs in the event's
/// [`event_span`].
pub async fn consume_staged<H: StagedHandler + ?Sized>(
    db: &DatabaseConnection,
    handler: &H,
    event: &Envelope,
    clock: &SharedClock,
) -> anyhow::Result<Handled> {
    consume_staged_in_span(db, handler, event, clock)
        .instrument(event_span(event))
        .await
}

async fn consume_staged_in_span<H: StagedHandler + ?Sized>(
    db: &DatabaseConnection,
    handler: &H,
    event: &Envelope,
    clock: &SharedClock,
) -> anyhow::Result<Handled> {
    let txn = crate::db::begin_write(db)
        .await
        .context("beginning the event's transaction")?;
    if !super::claim_at(&txn, event, clock.now())
        .await
        .context("claiming the event in the inbox")?
    {
        txn.rollback().await.ok();
        tracing::debug!(event = %event.id, event_type = event.event_type, "Event already handled.");
        return Ok(Handled::Duplicate);
    }
    let staged = match handler.stage(&txn, event).await {
        Ok(staged) => staged,
        Err(e) => {
            txn.rollback().await.ok();
            return Err(e.context(format!("handling {} {}", event.event_type, event.id)));
        }
    };
    txn.commit()
        .await
        .context("committing the event's effect")?;
    handler.after_commit(event, staged).await;
    Ok(Handled::Applied)
}

/// Applies `events` once each in ONE write transaction: all claimed in the inbox in one
/// statement (an event already handled, or earlier in `events`, is skipped), the claimed
/// ones staged together ([`StagedHandler::stage_batch`]), one commit for all, then their
/// after-commit step ([`StagedHandler::after_commit_batch`]). Any error rolls the whole
/// batch back (the caller then applies them one at a time). Answers how many were
/// applied.
///
/// Traces: the batch runs in a `consume_events` span linked to each event's
/// [`event_span`] (a child of the event's own trace, lasting as long as the batch), so
/// every event's trace shows its consumption and the batch shows what it took in.
pub async fn consume_staged_batch<H: StagedHandler + ?Sized>(
    db: &DatabaseConnection,
    handler: &H,
    events: &[Envelope],
    clock: &SharedClock,
) -> anyhow::Result<usize> {
    let batch = tracing::info_span!("consume_events", events = events.len());
    let each: Vec<tracing::Span> = events.iter().map(event_span).collect();
    for span in &each {
        batch.follows_from(span);
    }
    let applied = consume_staged_batch_in_span(db, handler, events, clock)
        .instrument(batch)
        .await;
    drop(each);
    applied
}

async fn consume_staged_batch_in_span<H: StagedHandler + ?Sized>(
    db: &DatabaseConnection,
    handler: &H,
    events: &[Envelope],
    clock: &SharedClock,
) -> anyhow::Result<usize> {
    let mut seen = std::collections::HashSet::with_capacity(events.len());
    let distinct: Vec<&Envelope> = events.iter().filter(|e| seen.insert(e.id)).collect();
    let txn = crate::db::begin_write(db)
        .await
        .context("beginning the events' transaction")?;
    let claimed = match super::claim_all_at(&txn, &distinct, clock.now()).await {
        Ok(claimed) => claimed,
        Err(e) => {
            txn.rollback().await.ok();
            return Err(anyhow::Error::new(e).context("claiming the events in the inbox"));
        }
    };
    let fresh: Vec<&Envelope> = distinct
        .into_iter()
        .filter(|e| claimed.contains(&e.id))
        .collect();
    if fresh.is_empty() {
        txn.rollback().await.ok();
        return Ok(0);
    }
    let staged = match handler.stage_batch(&txn, &fresh).await {
        Ok(staged) if staged.len() == fresh.len() => staged,
        Ok(staged) => {
            txn.rollback().await.ok();
            anyhow::bail!(
                "the handler staged {} of {} events",
                staged.len(),
                fresh.len()
            );
        }
        Err(e) => {
            txn.rollback().await.ok();
            return Err(e);
        }
    };
    txn.commit()
        .await
        .context("committing the events' effects")?;
    let applied = fresh.len();
    handler
        .after_commit_batch(fresh.into_iter().zip(staged).collect())
        .await;
    Ok(applied)
}

/// A queue [`JobHandler`] applying each event with [`consume_staged`]: what a service
/// whose events have after-commit effects runs on its `events:{service}` queue. With
/// [`StagedConsumer::in_batches`], up to that many waiting events share one transaction
/// ([`consume_staged_batch`]).
pub struct StagedConsumer<H> {
    db: DatabaseConnection,
    handler: H,
    clock: SharedClock,
    batch: usize,
    keyring: Option<Arc<Keyring>>,
}

impl<H: StagedHandler + 'static> StagedConsumer<H> {
    pub fn new(db: DatabaseConnection, handler: H, clock: SharedClock) -> Self {
        Self {
            db,
            handler,
            clock,
            batch: 1,
            keyring: None,
        }
    }

    /// Accepts only events signed by their type's producer (with `keyring`'s keys; none:
    /// unsigned events are accepted). Anything else dead-letters with the reason.
    pub fn verifying(mut self, keyring: Option<Arc<Keyring>>) -> Self {
        self.keyring = keyring;
        self
    }

    /// Takes up to `batch` waiting events at once, applied in one transaction (a failed
    /// batch is applied one event at a time, so one bad event holds back no other).
    pub fn in_batches(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Applies one event (what the queue worker does with each job).
    pub async fn apply(&self, event: &Envelope) -> anyhow::Result<Handled> {
        consume_staged(&self.db, &self.handler, event, &self.clock).await
    }

    /// Runs this consumer on `queue` with one worker of default [`WorkerConfig`] until
    /// `stop` (`pool` serves the worker's heartbeats; the blocking reads get their own
    /// connection to `redis_url`). Fails if the worker cannot connect or register.
    pub async fn run(
        self,
        redis_url: &str,
        pool: &crate::redis::Pool,
        queue: QueueName,
        stop: CancellationToken,
    ) -> anyhow::Result<()> {
        run_worker(redis_url, pool, queue, self, WorkerConfig::default(), stop).await
    }
}

/// Runs `handler` on `queue` with one worker of `config` until `stop`. Fails if the worker
/// cannot connect or register.
pub async fn run_worker<H: JobHandler>(
    redis_url: &str,
    pool: &crate::redis::Pool,
    queue: QueueName,
    handler: H,
    config: WorkerConfig,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let worker = Worker::connect(redis_url, pool, [queue.clone()], config)
        .await
        .with_context(|| format!("starting the worker on {queue}"))?;
    worker
        .run(handler, stop)
        .await
        .with_context(|| format!("running the worker on {queue}"))
}

#[async_trait]
impl<H: StagedHandler + 'static> JobHandler for StagedConsumer<H> {
    async fn handle(&self, job: &Job) -> anyhow::Result<()> {
        let event = usable_event(job, self.keyring.as_deref())?;
        self.apply(&event)
            .await
            .map(|_| ())
            .map_err(unusable_if_undecodable)
    }

    fn batch_size(&self) -> usize {
        self.batch
    }

    async fn handle_batch(&self, jobs: &[Job]) -> anyhow::Result<()> {
        let events = jobs
            .iter()
            .map(|job| usable_event(job, self.keyring.as_deref()))
            .collect::<anyhow::Result<Vec<_>>>()?;
        consume_staged_batch(&self.db, &self.handler, &events, &self.clock)
            .await
            .map(|_| ())
    }
}

/// The job's event, if this consumer can use it: an envelope, of a catalogue type, at a
/// version no newer than the catalogue's. Anything else is [`Unusable`] (dead letters at
/// once, with the reason), never a default.
fn usable_event(job: &Job, keyring: Option<&Keyring>) -> anyhow::Result<Envelope> {
    if let Some(keyring) = keyring {
        keyring
            .verify(&job.payload)
            .map_err(|e| Unusable(format!("refused: {e}")))?;
    }
    let event: Envelope = job
        .payload_as()
        .map_err(|e| Unusable(format!("the job's payload is not an event envelope: {e}")))?;
    let Some(known) = common::events::event_type(&event.event_type) else {
        return Err(Unusable(format!("{} is not in the catalogue", event.event_type)).into());
    };
    if event.version > known.version {
        return Err(Unusable(format!(
            "{} version {} is newer than the version {} this consumer knows",
            event.event_type, event.version, known.version
        ))
        .into());
    }
    Ok(event)
}

/// A handler's error whose cause is a payload that does not decode (serde) is
/// [`Unusable`]: the same payload will never decode on a retry.
fn unusable_if_undecodable(e: anyhow::Error) -> anyhow::Error {
    if e.chain().any(|c| c.is::<serde_json::Error>()) {
        anyhow::Error::new(Unusable(format!("{e:#}")))
    } else {
        e
    }
}

/// A queue [`JobHandler`] for a service's `events:{service}` queue: each job is an
/// [`Envelope`], applied once with [`consume`]. A job that is not an envelope fails (and is
/// dead-lettered after the worker's attempts).
pub struct EventConsumer<H> {
    db: DatabaseConnection,
    handler: H,
    clock: SharedClock,
    keyring: Option<Arc<Keyring>>,
}

impl<H: EventHandler> EventConsumer<H> {
    pub fn new(db: DatabaseConnection, handler: H) -> Self {
        Self {
            db,
            handler,
            clock: common::clock::system(),
            keyring: None,
        }
    }

    /// As [`StagedConsumer::verifying`].
    pub fn verifying(mut self, keyring: Option<Arc<Keyring>>) -> Self {
        self.keyring = keyring;
        self
    }

    /// Stamps `handled_at` with `clock`.
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Applies one event (see [`consume`]).
    pub async fn consume(&self, event: &Envelope) -> anyhow::Result<Handled> {
        consume(&self.db, &self.handler, event, &self.clock).await
    }

    /// Runs this consumer on `queue` with one worker of default [`WorkerConfig`] until
    /// `stop` (see [`StagedConsumer::run`]).
    pub async fn run(
        self,
        redis_url: &str,
        pool: &crate::redis::Pool,
        queue: QueueName,
        stop: CancellationToken,
    ) -> anyhow::Result<()> {
        run_worker(redis_url, pool, queue, self, WorkerConfig::default(), stop).await
    }
}

#[async_trait]
impl<H: EventHandler> JobHandler for EventConsumer<H> {
    async fn handle(&self, job: &Job) -> anyhow::Result<()> {
        let event = usable_event(job, self.keyring.as_deref())?;
        self.consume(&event)
            .await
            .map(|_| ())
            .map_err(unusable_if_undecodable)
    }
}
