//! The consumer loop: take, handle, acknowledge or retry; heartbeats, reaper and delayed
//! retries alongside.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::{ClientLike, ListInterface};
use fred::types::lists::LMoveDirection;
use futures::FutureExt;
use rand::Rng;
use tokio::time::{MissedTickBehavior, interval, interval_at};

use super::{DEAD_LETTERS_KEPT, Job, QueueError, QueueName, reap, reap_worker, scripts};
use crate::redis::{Client, Pool, RedisError};
use crate::shutdown::CancellationToken;

/// Longest error text kept in a job record.
const MAX_ERROR_LEN: usize = 2_000;
/// Most delayed jobs moved back per queue per poll.
const PROMOTE_BATCH: usize = 500;

/// Handles one job. `Ok` acknowledges it; `Err` (or a panic) schedules a retry, or
/// dead-letters it after [`WorkerConfig::max_attempts`]. Must be idempotent: a job may be
/// delivered again after a crash.
///
/// A handler may take jobs in batches ([`JobHandler::batch_size`] above 1): the worker
/// then takes up to that many waiting jobs at once and hands them to
/// [`JobHandler::handle_batch`], all or nothing; if the batch fails, each of its jobs is
/// handled alone with [`JobHandler::handle`], so a bad job keeps its own retries and dead
/// letter and the others go through.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    async fn handle(&self, job: &Job) -> anyhow::Result<()>;

    /// The most jobs handled together (1: one at a time, the default).
    fn batch_size(&self) -> usize {
        1
    }

    /// Handles `jobs` together: `Ok` acknowledges them all. The default handles them one
    /// after another.
    async fn handle_batch(&self, jobs: &[Job]) -> anyhow::Result<()> {
        for job in jobs {
            self.handle(job).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl<H: JobHandler + ?Sized> JobHandler for Arc<H> {
    async fn handle(&self, job: &Job) -> anyhow::Result<()> {
        (**self).handle(job).await
    }

    fn batch_size(&self) -> usize {
        (**self).batch_size()
    }

    async fn handle_batch(&self, jobs: &[Job]) -> anyhow::Result<()> {
        (**self).handle_batch(jobs).await
    }
}

/// A [`JobHandler`] made of a closure; see [`handler_fn`].
#[derive(Clone)]
pub struct FnHandler<F>(F);

/// A handler from an async closure taking the job by value:
/// `handler_fn(|job| async move { ... })`.
pub fn handler_fn<F, Fut>(f: F) -> FnHandler<F>
where
    F: Fn(Job) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    FnHandler(f)
}

#[async_trait]
impl<F, Fut> JobHandler for FnHandler<F>
where
    F: Fn(Job) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    async fn handle(&self, job: &Job) -> anyhow::Result<()> {
        (self.0)(job.clone()).await
    }
}

/// How a worker behaves. The defaults suit production; tests shorten the times.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Unique among live workers of a queue; no braces. Default: the supervised task's id
    /// ([`crate::heartbeat::task_id`]), else random. A fixed id (a pod name, a task's id)
    /// lets a restarted worker take back its own in-flight jobs at once.
    pub worker_id: String,
    /// A job is attempted at most this many times, then dead-lettered. Default 5.
    pub max_attempts: u32,
    /// Retry n (from 0) waits a random time in `[d/2, d]`, `d = min(backoff_max,
    /// backoff_base·2^n)` (equal jitter: spread out, and never a retry at once, which
    /// full jitter's `[0, d]` allows). Default 1 s.
    pub backoff_base: Duration,
    /// Default 5 min.
    pub backoff_max: Duration,
    /// Longest `BLMOVE` block; also bounds how long a stop waits for an idle worker and how
    /// long a high-priority job may wait while the worker blocks on the last queue.
    /// Default 1 s.
    pub block_timeout: Duration,
    /// Default 5 s.
    pub heartbeat_interval: Duration,
    /// A worker silent this long is dead and its jobs are returned. Must exceed the
    /// interval. Default 30 s.
    pub heartbeat_ttl: Duration,
    /// How often this worker looks for dead workers. Default 10 s.
    pub reaper_interval: Duration,
    /// How often due retries are moved back to their queue. Default 500 ms.
    pub delayed_poll_interval: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            // Inside a supervised task, its id: a restarted worker takes back its own jobs.
            worker_id: crate::heartbeat::task_id().map_or_else(
                || format!("w{}", uuid::Uuid::new_v4().simple()),
                |id| format!("w{id}"),
            ),
            max_attempts: 5,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            block_timeout: Duration::from_secs(1),
            heartbeat_interval: Duration::from_secs(5),
            heartbeat_ttl: Duration::from_secs(30),
            reaper_interval: Duration::from_secs(10),
            delayed_poll_interval: Duration::from_millis(500),
        }
    }
}

impl WorkerConfig {
    fn validate(&self) -> Result<(), QueueError> {
        let err = |m: &str| Err(QueueError::Config(m.to_owned()));
        if self.worker_id.is_empty() || self.worker_id.contains(['{', '}']) {
            return err("worker_id must be non-empty and contain no braces");
        }
        if self.max_attempts == 0 {
            return err("max_attempts must be at least 1");
        }
        if self.heartbeat_ttl <= self.heartbeat_interval {
            return err("heartbeat_ttl must exceed heartbeat_interval");
        }
        if self.block_timeout.is_zero()
            || self.heartbeat_interval.is_zero()
            || self.reaper_interval.is_zero()
            || self.delayed_poll_interval.is_zero()
        {
            return err("timeouts and intervals must be positive");
        }
        Ok(())
    }

    /// The delay before retry number `attempt` (0-based): exponential, equal jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        let base = millis(self.backoff_base);
        let cap = millis(self.backoff_max);
        let exp = base.saturating_mul(1u64.checked_shl(attempt.min(63)).unwrap_or(u64::MAX));
        let ceiling = exp.min(cap);
        Duration::from_millis(rand::thread_rng().gen_range(ceiling / 2..=ceiling))
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// One consumer: one job at a time, on a Redis connection of its own. Run several for
/// parallelism.
pub struct Worker {
    queues: Vec<QueueName>,
    config: WorkerConfig,
    pool: Pool,
    client: Client,
}

enum Outcome {
    Ack,
    /// The error, and whether retrying is pointless ([`super::Unusable`]).
    Fail(String, bool),
}

impl Worker {
    /// A worker consuming `queues` in priority order (first = highest). Opens its own
    /// connection to `redis_url` for the blocking `BLMOVE`; `pool` serves heartbeats, the
    /// reaper and delayed retries.
    pub async fn connect(
        redis_url: &str,
        pool: &Pool,
        queues: impl IntoIterator<Item = QueueName>,
        config: WorkerConfig,
    ) -> Result<Self, QueueError> {
        config.validate()?;
        let queues: Vec<QueueName> = queues.into_iter().collect();
        if queues.is_empty() {
            return Err(QueueError::Config("a worker needs a queue".into()));
        }
        let client = crate::redis::dedicated(redis_url, config.block_timeout).await?;
        Ok(Self {
            queues,
            config,
            pool: pool.clone(),
            client,
        })
    }

    pub fn id(&self) -> &str {
        &self.config.worker_id
    }

    pub fn queues(&self) -> &[QueueName] {
        &self.queues
    }

    /// Consumes until `shutdown` is cancelled, then finishes the job in hand and returns.
    /// Fails only if the worker cannot register at start.
    pub async fn run<H: JobHandler>(
        self,
        handler: H,
        shutdown: CancellationToken,
    ) -> Result<(), QueueError> {
        // Jobs left in our lists by a previous life under the same id go back first.
        for queue in &self.queues {
            reap_worker(&self.client, queue, self.id(), true).await?;
        }
        self.beat().await?;
        tracing::info!(worker = self.id(), queues = ?self.queue_names(), "Worker started.");
        tokio::select! {
            () = self.maintain() => {}
            () = self.consume(&handler, &shutdown) => {}
        }
        // On the consuming connection, so it runs after any command still in flight there.
        for queue in &self.queues {
            if let Err(e) = reap_worker(&self.client, queue, self.id(), true).await {
                tracing::warn!(worker = self.id(), error = %e, "Could not unregister; the reaper will.");
            }
        }
        let _ = self.client.quit().await;
        tracing::info!(worker = self.id(), "Worker stopped.");
        Ok(())
    }

    fn queue_names(&self) -> Vec<&str> {
        self.queues.iter().map(QueueName::as_str).collect()
    }

    async fn beat(&self) -> Result<(), RedisError> {
        let ttl = millis(self.config.heartbeat_ttl).to_string();
        for queue in &self.queues {
            let _: i64 = scripts::HEARTBEAT
                .call(
                    &self.pool,
                    vec![queue.workers(), queue.heartbeat(self.id())],
                    vec![self.id().to_owned(), ttl.clone()],
                )
                .await?;
        }
        Ok(())
    }

    /// Heartbeats, reaper and delayed retries, forever (dropped when consuming ends).
    async fn maintain(&self) {
        let c = &self.config;
        let mut beat = interval_at(
            tokio::time::Instant::now() + c.heartbeat_interval,
            c.heartbeat_interval,
        );
        let mut reaper = interval(c.reaper_interval);
        let mut delayed = interval(c.delayed_poll_interval);
        for t in [&mut beat, &mut reaper, &mut delayed] {
            t.set_missed_tick_behavior(MissedTickBehavior::Delay);
        }
        loop {
            tokio::select! {
                _ = beat.tick() => {
                    if let Err(e) = self.beat().await {
                        tracing::warn!(worker = self.id(), error = %e, "Heartbeat failed.");
                    }
                }
                _ = reaper.tick() => {
                    for queue in &self.queues {
                        if let Err(e) = reap(&self.pool, queue).await {
                            tracing::warn!(queue = %queue, error = %e, "Reaper failed.");
                        }
                    }
                }
                _ = delayed.tick() => {
                    for queue in &self.queues {
                        if let Err(e) = super::promote_due(&self.pool, queue, PROMOTE_BATCH).await {
                            tracing::warn!(queue = %queue, error = %e, "Moving due retries failed.");
                        }
                    }
                }
            }
        }
    }

    async fn consume<H: JobHandler>(&self, handler: &H, shutdown: &CancellationToken) {
        let mut errors = 0u32;
        while !shutdown.is_cancelled() {
            // Alive for the task's supervisor: a take blocks at most `block_timeout`.
            crate::heartbeat::beat();
            match self.fetch().await {
                Ok(Some((queue, raw))) => {
                    errors = 0;
                    let more = handler.batch_size().saturating_sub(1);
                    if more == 0 {
                        self.process(handler, &queue, raw, shutdown).await;
                    } else {
                        let mut raws = vec![raw];
                        match self.take_more(&queue, more).await {
                            Ok(taken) => raws.extend(taken),
                            // What was taken is in our processing list: the reaper or
                            // our exit returns it.
                            Err(e) => {
                                tracing::warn!(worker = self.id(), error = %e, "Taking more jobs for a batch failed.")
                            }
                        }
                        self.process_batch(handler, &queue, raws, shutdown).await;
                    }
                }
                Ok(None) => errors = 0,
                Err(e) => {
                    errors = errors.saturating_add(1);
                    tracing::warn!(worker = self.id(), error = %e, "Taking a job failed.");
                    pause(self.error_pause(errors), shutdown).await;
                }
            }
        }
    }

    fn error_pause(&self, errors: u32) -> Duration {
        let exp = 50u64.saturating_mul(1u64 << errors.min(7));
        Duration::from_millis(exp).min(self.config.block_timeout.max(Duration::from_secs(1)))
    }

    /// The next job, by priority: non-blocking on all queues but the last, then blocking.
    async fn fetch(&self) -> Result<Option<(QueueName, String)>, RedisError> {
        let Some((last, first)) = self.queues.split_last() else {
            return Ok(None);
        };
        for queue in first {
            let raw: Option<String> = self
                .client
                .lmove(
                    queue.as_str(),
                    queue.processing(self.id()),
                    LMoveDirection::Right,
                    LMoveDirection::Left,
                )
                .await?;
            if let Some(raw) = raw {
                return Ok(Some((queue.clone(), raw)));
            }
        }
        let taken: Result<Option<String>, _> = self
            .client
            .blmove(
                last.as_str(),
                last.processing(self.id()),
                LMoveDirection::Right,
                LMoveDirection::Left,
                self.config.block_timeout.as_secs_f64(),
            )
            .await;
        match taken {
            Ok(raw) => Ok(raw.map(|r| (last.clone(), r))),
            // fred reports a BLMOVE that waited out its block time with no job (a null
            // reply) as a timeout error: that is an empty queue, not a failure.
            Err(e) if *e.kind() == fred::error::ErrorKind::Timeout => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Up to `n` more waiting jobs of `queue` (not blocking), into our processing list in
    /// one round trip.
    async fn take_more(&self, queue: &QueueName, n: usize) -> Result<Vec<String>, RedisError> {
        let pipeline = self.client.pipeline();
        for _ in 0..n {
            let _: () = pipeline
                .lmove(
                    queue.as_str(),
                    queue.processing(self.id()),
                    LMoveDirection::Right,
                    LMoveDirection::Left,
                )
                .await?;
        }
        let taken: Vec<Option<String>> = pipeline.all().await?;
        Ok(taken.into_iter().flatten().collect())
    }

    /// Handles `raws` as one batch (see [`JobHandler`]); a failed batch is handled one
    /// job at a time.
    async fn process_batch<H: JobHandler>(
        &self,
        handler: &H,
        queue: &QueueName,
        raws: Vec<String>,
        shutdown: &CancellationToken,
    ) {
        let mut jobs = Vec::with_capacity(raws.len());
        for raw in raws {
            match Job::parse(queue, &raw) {
                Ok(job) => jobs.push(job),
                // Dead-lettered with the reason, alone.
                Err(_) => self.process(handler, queue, raw, shutdown).await,
            }
        }
        if jobs.len() <= 1 {
            for job in jobs {
                self.process_job(handler, job, shutdown).await;
            }
            return;
        }
        match AssertUnwindSafe(handler.handle_batch(&jobs))
            .catch_unwind()
            .await
        {
            Ok(Ok(())) => {
                self.settle_retrying(|| self.ack_all(&jobs), shutdown).await;
            }
            failed => {
                let why = match failed {
                    Ok(Err(e)) => format!("{e:#}"),
                    Err(panic) => format!("handler panicked: {}", panic_text(&panic)),
                    Ok(Ok(())) => String::new(),
                };
                tracing::info!(worker = self.id(), jobs = jobs.len(), error = %truncate(why), "A batch failed; handling its jobs one at a time.");
                for job in jobs {
                    self.process_job(handler, job, shutdown).await;
                }
            }
        }
    }

    async fn process<H: JobHandler>(
        &self,
        handler: &H,
        queue: &QueueName,
        raw: String,
        shutdown: &CancellationToken,
    ) {
        let job = match Job::parse(queue, &raw) {
            Ok(job) => job,
            Err(e) => {
                // Not one of our records: keep it, with why, among the dead.
                let record = super::encode(
                    uuid::Uuid::now_v7(),
                    self.config.max_attempts,
                    &serde_json::Value::String(raw.clone()),
                    Some(&format!("malformed job record: {e}")),
                );
                if let Ok(record) = record {
                    self.settle_retrying(|| self.dead_letter(queue, &raw, &record), shutdown)
                        .await;
                }
                return;
            }
        };
        self.process_job(handler, job, shutdown).await;
    }

    async fn process_job<H: JobHandler>(
        &self,
        handler: &H,
        job: Job,
        shutdown: &CancellationToken,
    ) {
        let outcome = match AssertUnwindSafe(handler.handle(&job)).catch_unwind().await {
            Ok(Ok(())) => Outcome::Ack,
            Ok(Err(e)) => {
                let unusable = e.chain().any(|c| c.is::<super::Unusable>());
                Outcome::Fail(format!("{e:#}"), unusable)
            }
            Err(panic) => Outcome::Fail(format!("handler panicked: {}", panic_text(&panic)), false),
        };
        match outcome {
            Outcome::Ack => {
                self.settle_retrying(|| self.ack(&job), shutdown).await;
            }
            Outcome::Fail(error, unusable) => {
                let error = truncate(error);
                self.settle_retrying(|| self.fail(&job, &error, unusable), shutdown)
                    .await;
            }
        }
    }

    /// Runs `op` until it succeeds, or stops trying once shut down (the job then stays in
    /// our processing list, and the exit or the reaper returns it: at least once).
    async fn settle_retrying<F, Fut>(&self, op: F, shutdown: &CancellationToken)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<(), QueueError>>,
    {
        let mut tries = 0u32;
        loop {
            match op().await {
                Ok(()) => return,
                Err(e) => {
                    tries = tries.saturating_add(1);
                    tracing::warn!(worker = self.id(), error = %e, "Settling a job failed; retrying.");
                    if shutdown.is_cancelled() && tries >= 3 {
                        return;
                    }
                    pause(self.error_pause(tries), &CancellationToken::new()).await;
                }
            }
        }
    }

    async fn ack(&self, job: &Job) -> Result<(), QueueError> {
        self.ack_all(std::slice::from_ref(job)).await
    }

    /// Removes `jobs` from our processing list, in one round trip (a job no longer there
    /// was returned to the queue while in hand, and will run again).
    async fn ack_all(&self, jobs: &[Job]) -> Result<(), QueueError> {
        let pipeline = self.client.pipeline();
        for job in jobs {
            let () = pipeline
                .lrem(job.queue.processing(self.id()), 1, job.raw())
                .await?;
        }
        let removed: Vec<i64> = pipeline.all().await?;
        for (job, removed) in jobs.iter().zip(removed) {
            if removed == 0 {
                tracing::warn!(queue = %job.queue, job = %job.id, "Job was returned to the queue while in hand (heartbeat lost); it will run again.");
            }
        }
        Ok(())
    }

    async fn fail(&self, job: &Job, error: &str, unusable: bool) -> Result<(), QueueError> {
        let attempts = job.attempts.saturating_add(1);
        let next = job.failed(error)?;
        let delay: i64 = if unusable || attempts >= self.config.max_attempts {
            -1
        } else {
            i64::try_from(millis(self.config.backoff(job.attempts))).unwrap_or(i64::MAX)
        };
        let status = self.run_fail(&job.queue, job.raw(), &next, delay).await?;
        match status {
            1 => {
                tracing::warn!(queue = %job.queue, job = %job.id, attempts, error, "Job failed; will retry.")
            }
            2 => {
                tracing::error!(queue = %job.queue, job = %job.id, attempts, error, "Job failed too often; dead-lettered.")
            }
            _ => {
                tracing::warn!(queue = %job.queue, job = %job.id, "Job failed after it was returned to the queue; not rescheduled.")
            }
        }
        Ok(())
    }

    async fn dead_letter(
        &self,
        queue: &QueueName,
        raw: &str,
        record: &str,
    ) -> Result<(), QueueError> {
        self.run_fail(queue, raw, record, -1).await?;
        tracing::error!(queue = %queue, job = raw, "Malformed job dead-lettered.");
        Ok(())
    }

    async fn run_fail(
        &self,
        queue: &QueueName,
        raw: &str,
        next: &str,
        delay_ms: i64,
    ) -> Result<i64, QueueError> {
        Ok(scripts::FAIL
            .call(
                &self.client,
                vec![queue.processing(self.id()), queue.delayed(), queue.dead()],
                vec![
                    raw.to_owned(),
                    next.to_owned(),
                    delay_ms.to_string(),
                    DEAD_LETTERS_KEPT.to_string(),
                ],
            )
            .await?)
    }
}

async fn pause(d: Duration, shutdown: &CancellationToken) {
    tokio::select! {
        () = tokio::time::sleep(d) => {}
        () = shutdown.cancelled() => {}
    }
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_ERROR_LEN {
        let mut end = MAX_ERROR_LEN;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic".to_owned()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_equal_jitter_between_half_and_all_of_an_exponential_cap() {
        let c = WorkerConfig {
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(1_000),
            ..WorkerConfig::default()
        };
        let ms = Duration::from_millis;
        for (attempt, low, high) in [
            (0, 50, 100),
            (1, 100, 200),
            (2, 200, 400),
            (10, 500, 1_000),
            (200, 500, 1_000),
        ] {
            let delays: Vec<Duration> = (0..500).map(|_| c.backoff(attempt)).collect();
            for d in &delays {
                assert!(
                    (ms(low)..=ms(high)).contains(d),
                    "retry {attempt}: {d:?} not in {low}..={high} ms"
                );
            }
            // Jittered: spread over the range, not one value.
            let (min, max) = (delays.iter().min().unwrap(), delays.iter().max().unwrap());
            assert!(
                *max - *min >= ms(high - low) / 2,
                "retry {attempt}: {min:?}..{max:?}"
            );
        }
    }

    #[test]
    fn configs_that_would_reap_live_workers_are_refused() {
        let c = WorkerConfig {
            heartbeat_interval: Duration::from_secs(5),
            heartbeat_ttl: Duration::from_secs(5),
            ..WorkerConfig::default()
        };
        assert!(c.validate().is_err());
        let c = WorkerConfig {
            worker_id: "a{b}".into(),
            ..WorkerConfig::default()
        };
        assert!(c.validate().is_err());
        assert!(WorkerConfig::default().validate().is_ok());
    }

    #[test]
    fn long_errors_are_cut_on_a_char_boundary() {
        let s = truncate("é".repeat(MAX_ERROR_LEN));
        assert!(s.len() <= MAX_ERROR_LEN + '…'.len_utf8());
    }
}
