//! Reliable job queues on Redis lists: at-least-once delivery that survives a worker dying
//! mid-job. Consumers must be idempotent (events are, through [`crate::inbox`]).
//!
//! # Layout
//!
//! For a queue `q` (a [`QueueName`] from [`common::keys`]) every helper structure is named
//! `{q}:<suffix>`, so it shares `q`'s hash slot on Redis Cluster and the scripts below are
//! single-slot:
//!
//! | name | kind | what |
//! | --- | --- | --- |
//! | `q` | list | waiting jobs; producers `LPUSH`, workers take from the right (FIFO) |
//! | `{q}:processing:<worker>` | list | the job a worker holds (at most one) |
//! | `{q}:delayed` | sorted set | failed jobs waiting out their backoff, scored by due time (ms) |
//! | `{q}:dead` | list | jobs that failed [`WorkerConfig::max_attempts`] times, newest first, last [`DEAD_LETTERS_KEPT`] |
//! | `{q}:workers` | set | workers that may hold jobs of `q` |
//! | `{q}:heartbeat:<worker>` | string, TTL | present while the worker is alive |
//!
//! A job is a small JSON record `{id, attempts, payload, last_error?}` ([`Job`]): `id` is a
//! UUIDv7 given at enqueue, `attempts` counts the failed attempts before this delivery,
//! `payload` is the producer's JSON value (or its text as a JSON string when it is not
//! JSON).
//!
//! # Guarantees
//!
//! - **Nothing is lost when a worker dies.** A worker takes a job with `BLMOVE q →
//!   {q}:processing:<worker>` (atomic: the job is always in exactly one list) and removes
//!   it only after the handler returned. A worker refreshes `{q}:heartbeat:<worker>` every
//!   [`WorkerConfig::heartbeat_interval`]; every worker runs the reaper every
//!   [`WorkerConfig::reaper_interval`], a Lua script that moves the processing list of any
//!   registered worker whose heartbeat has expired back to the head of `q` and forgets the
//!   worker. The reaper is atomic, so concurrent reapers return a job once. Heartbeats run
//!   in the same task as the handler: a handler must not block its thread (use
//!   `spawn_blocking` for CPU work), or its worker looks dead and its job runs twice.
//! - **At least once, not exactly once.** A job is handled again when its worker died (or
//!   stalled longer than the heartbeat TTL) after the effect but before the acknowledgement.
//!   Make effects idempotent (for events: [`crate::inbox`]).
//! - **Two live workers never hold the same job**: `BLMOVE`/`LMOVE` hand each element to
//!   one worker; a job is only in two processing lists if it was enqueued twice.
//! - **Failures retry with backoff, then dead-letter.** A failed job is removed from the
//!   processing list and, in the same script, either scheduled in `{q}:delayed` with
//!   `attempts + 1`, its error and a due time of `now + rand(0, min(max, base·2^attempts))`
//!   (exponential backoff with equal jitter, server time), or pushed to `{q}:dead` with its
//!   error once it has failed `max_attempts` times. Due jobs are moved back to the tail of
//!   `q` by a script every worker runs every [`WorkerConfig::delayed_poll_interval`]. A
//!   failure is not rescheduled when the job was meanwhile reaped (it is someone else's).
//!   A handler that panics counts as a failure.
//! - **Graceful stop** ([`Worker::run`] with a cancelled token) finishes the job in hand,
//!   acknowledges it, returns anything left in the worker's processing lists to the queue,
//!   unregisters, and returns. It takes at most the handler's time plus
//!   [`WorkerConfig::block_timeout`] (the `BLMOVE` in flight is allowed to finish, so a job
//!   it delivers is handled rather than stranded).
//! - **Blocking on its own connection.** The `BLMOVE` runs on a dedicated client
//!   ([`crate::redis::dedicated`]), never on the shared pool, where it would stall every
//!   command queued behind it.
//!
//! # Priority
//!
//! A worker may consume several queues in priority order (`[kyc:processing:high,
//! kyc:processing]`): before each job it tries a non-blocking `LMOVE` on every queue but
//! the last, in order, and only then blocks with `BLMOVE` on the last one. (Blocking on
//! several lists at once is only possible with `BLMPOP`, which pops without keeping the
//! job anywhere, so it would lose jobs.) Consequences: priority is strict (a never-empty
//! high queue starves the others); a high-priority job that arrives while the worker is
//! blocked on the last queue waits at most `block_timeout` (1 s by default). Each queue
//! keeps its own processing list, delayed set and dead list, so a retried job returns to
//! the queue it came from.
//!
//! # Crashes in tests
//!
//! Aborting the task that runs [`Worker::run`] is a crash: the handler is dropped
//! mid-job, nothing is acknowledged, heartbeats stop. With a short
//! [`WorkerConfig::heartbeat_ttl`] another worker's reaper (or [`reap`]) returns the job.

mod cli;
pub(crate) mod scripts;
mod worker;

use std::borrow::Cow;

use fred::prelude::{ListInterface, SortedSetsInterface};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::redis::{Pool, RedisError};
pub use cli::DeadLetters;
pub use common::keys::QueueName;
pub use worker::{FnHandler, JobHandler, Worker, WorkerConfig, handler_fn};

pub use common::events::Unusable;

/// How many dead-lettered jobs a queue keeps (newest first); older ones are dropped.
pub const DEAD_LETTERS_KEPT: usize = 10_000;

/// Errors of the queue.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("redis: {0}")]
    Redis(#[from] RedisError),
    #[error("job payload is neither JSON nor UTF-8 text")]
    Payload,
    #[error("job record does not serialize: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid worker configuration: {0}")]
    Config(String),
}

/// One delivery of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Given at enqueue (UUIDv7); the same on every retry.
    pub id: Uuid,
    /// Failed attempts before this delivery (0 on the first).
    pub attempts: u32,
    /// The producer's payload.
    pub payload: Value,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    /// The queue it was taken from.
    pub queue: QueueName,
    /// The list element exactly as stored (what acknowledging removes).
    raw: String,
}

#[derive(Serialize)]
struct RecordRef<'a> {
    id: Uuid,
    attempts: u32,
    payload: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<&'a str>,
}

#[derive(Deserialize)]
struct Record {
    id: Uuid,
    #[serde(default)]
    attempts: u32,
    payload: Value,
    #[serde(default)]
    last_error: Option<String>,
}

impl Job {
    /// Parses a list element of `queue`.
    pub fn parse(queue: &QueueName, raw: &str) -> Result<Self, serde_json::Error> {
        let r: Record = serde_json::from_str(raw)?;
        Ok(Self {
            id: r.id,
            attempts: r.attempts,
            payload: r.payload,
            last_error: r.last_error,
            queue: queue.clone(),
            raw: raw.to_owned(),
        })
    }

    /// The payload as `T`.
    pub fn payload_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.payload)
    }

    /// The payload as text: a string payload as is, any other JSON value serialized.
    pub fn payload_text(&self) -> Cow<'_, str> {
        match &self.payload {
            Value::String(s) => Cow::Borrowed(s),
            other => Cow::Owned(other.to_string()),
        }
    }

    /// The list element exactly as stored.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The record of the next attempt: one more failure, with its error.
    fn failed(&self, error: &str) -> Result<String, serde_json::Error> {
        encode(
            self.id,
            self.attempts.saturating_add(1),
            &self.payload,
            Some(error),
        )
    }
}

fn encode(
    id: Uuid,
    attempts: u32,
    payload: &Value,
    last_error: Option<&str>,
) -> Result<String, serde_json::Error> {
    serde_json::to_string(&RecordRef {
        id,
        attempts,
        payload,
        last_error,
    })
}

/// The payload bytes as a JSON value: parsed when they are JSON, else their text.
fn payload_value(payload: &[u8]) -> Result<Value, QueueError> {
    if let Ok(v) = serde_json::from_slice::<Value>(payload) {
        return Ok(v);
    }
    std::str::from_utf8(payload)
        .map(|s| Value::String(s.to_owned()))
        .map_err(|_| QueueError::Payload)
}

/// A new job record for `payload`, with its id.
fn new_job(payload: Value) -> Result<(Uuid, String), QueueError> {
    let id = Uuid::now_v7();
    Ok((id, encode(id, 0, &payload, None)?))
}

/// Appends a job to `queue`. `payload` is JSON (kept as its value) or UTF-8 text (kept as
/// a string). Returns the job id.
pub async fn enqueue(
    redis: &Pool,
    queue: &QueueName,
    payload: impl AsRef<[u8]>,
) -> Result<Uuid, QueueError> {
    let (id, raw) = new_job(payload_value(payload.as_ref())?)?;
    let _: i64 = redis.lpush(queue.as_str(), raw).await?;
    Ok(id)
}

/// Appends a job whose payload is `payload` serialized.
pub async fn enqueue_json<T: Serialize + ?Sized>(
    redis: &Pool,
    queue: &QueueName,
    payload: &T,
) -> Result<Uuid, QueueError> {
    let (id, raw) = new_job(serde_json::to_value(payload)?)?;
    let _: i64 = redis.lpush(queue.as_str(), raw).await?;
    Ok(id)
}

/// Appends one job to each named queue in one round trip (a pipeline, not MULTI: the
/// queues may live in different cluster slots, so a failure can leave some pushed; callers
/// retry and consumers are idempotent). Returns the job ids in order.
pub async fn enqueue_many<P: AsRef<[u8]>>(
    redis: &Pool,
    jobs: &[(QueueName, P)],
) -> Result<Vec<Uuid>, QueueError> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let pipeline = redis.next().pipeline();
    let mut ids = Vec::with_capacity(jobs.len());
    for (queue, payload) in jobs {
        ids.push(queue_job(&pipeline, queue, payload.as_ref()).await?);
    }
    let _: Vec<fred::prelude::Value> = pipeline.all().await?;
    Ok(ids)
}

/// Adds a job with `payload` (JSON) to `queue` on `pipeline`, beside the caller's own
/// commands: it is queued when the pipeline is sent. Answers the job's id.
pub async fn queue_job(
    pipeline: &fred::clients::Pipeline<fred::clients::Client>,
    queue: &QueueName,
    payload: &[u8],
) -> Result<Uuid, QueueError> {
    let (id, raw) = new_job(payload_value(payload)?)?;
    let () = pipeline.lpush(queue.as_str(), raw).await?;
    Ok(id)
}

/// Jobs waiting in `queue` (not counting delayed, in-flight or dead ones).
pub async fn len(redis: &Pool, queue: &QueueName) -> Result<usize, QueueError> {
    Ok(redis.llen(queue.as_str()).await?)
}

/// Jobs of `queue` waiting out a retry backoff.
pub async fn delayed_len(redis: &Pool, queue: &QueueName) -> Result<usize, QueueError> {
    Ok(redis.zcard(queue.delayed()).await?)
}

/// The jobs a worker holds on `queue` (normally zero or one).
pub async fn in_flight(
    redis: &Pool,
    queue: &QueueName,
    worker: &str,
) -> Result<Vec<Job>, QueueError> {
    let raw: Vec<String> = redis.lrange(queue.processing(worker), 0, -1).await?;
    Ok(parse_all(queue, raw))
}

/// The newest `limit` dead-lettered jobs of `queue`, newest first, each with its
/// `last_error` and `attempts`.
pub async fn dead_letters(
    redis: &Pool,
    queue: &QueueName,
    limit: usize,
) -> Result<Vec<Job>, QueueError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let stop = i64::try_from(limit).unwrap_or(i64::MAX) - 1;
    let raw: Vec<String> = redis.lrange(queue.dead(), 0, stop).await?;
    Ok(parse_all(queue, raw))
}

/// Puts the dead letters of `queue` back on it after a fix: those whose id is in `ids`, or
/// every one when `ids` is empty. Each goes back with its id and payload, no attempts and
/// no error, at the end consumers take next; one that is no longer dead (requeued by
/// someone else meanwhile) is skipped. Returns how many were requeued.
pub async fn requeue_dead(
    redis: &Pool,
    queue: &QueueName,
    ids: &[Uuid],
) -> Result<usize, QueueError> {
    let dead: Vec<String> = redis.lrange(queue.dead(), 0, -1).await?;
    let mut requeued = 0;
    for raw in dead {
        let Ok(job) = Job::parse(queue, &raw) else {
            continue;
        };
        if !ids.is_empty() && !ids.contains(&job.id) {
            continue;
        }
        let fresh = encode(job.id, 0, &job.payload, None)?;
        let moved: i64 = scripts::REQUEUE
            .call(
                redis,
                vec![queue.dead(), queue.as_str().to_owned()],
                vec![raw, fresh],
            )
            .await?;
        requeued += usize::try_from(moved).unwrap_or(0);
    }
    Ok(requeued)
}

fn parse_all(queue: &QueueName, raw: Vec<String>) -> Vec<Job> {
    raw.iter()
        .filter_map(|r| Job::parse(queue, r).ok())
        .collect()
}

/// Returns to `queue` the in-flight jobs of every registered worker whose heartbeat has
/// expired, and forgets those workers. Safe to run concurrently from anywhere. Returns
/// how many jobs went back.
pub async fn reap(redis: &Pool, queue: &QueueName) -> Result<usize, QueueError> {
    use fred::prelude::SetsInterface;
    let workers: Vec<String> = redis.smembers(queue.workers()).await?;
    let mut returned = 0;
    for worker in workers {
        let n = reap_worker(redis, queue, &worker, false).await?;
        if n > 0 {
            tracing::warn!(queue = %queue, worker, jobs = n, "Returned the jobs of a dead worker.");
        }
        returned += n;
    }
    Ok(returned)
}

/// Runs the reap script for one worker: `force` returns its jobs even if it is alive.
async fn reap_worker<C>(
    client: &C,
    queue: &QueueName,
    worker: &str,
    force: bool,
) -> Result<usize, QueueError>
where
    C: fred::interfaces::LuaInterface + Send + Sync,
{
    let n: i64 = scripts::REAP
        .call(
            client,
            vec![
                queue.as_str().to_owned(),
                queue.processing(worker),
                queue.heartbeat(worker),
                queue.workers(),
            ],
            vec![worker.to_owned(), if force { "1" } else { "0" }.to_owned()],
        )
        .await?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Moves the jobs of `queue` whose retry is due back onto it (at most `limit`). Returns how
/// many.
pub async fn promote_due(
    redis: &Pool,
    queue: &QueueName,
    limit: usize,
) -> Result<usize, QueueError> {
    let n: i64 = scripts::PROMOTE
        .call(
            redis,
            vec![queue.delayed(), queue.as_str().to_owned()],
            vec![limit.to_string()],
        )
        .await?;
    Ok(usize::try_from(n).unwrap_or(0))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn json_payloads_are_kept_as_values_and_text_as_strings() {
        assert_eq!(
            payload_value(br#"{"a":1}"#).unwrap(),
            serde_json::json!({"a": 1})
        );
        assert_eq!(
            payload_value(b"hello world").unwrap(),
            Value::String("hello world".into())
        );
        assert!(matches!(
            payload_value(&[0xff, 0xfe]),
            Err(QueueError::Payload)
        ));
    }

    #[test]
    fn a_failed_job_keeps_its_id_and_counts_the_attempt() {
        let q = common::Keys::new("t").push_queue();
        let (id, raw) = new_job(serde_json::json!({"x": 1})).unwrap();
        let job = Job::parse(&q, &raw).unwrap();
        assert_eq!(
            (job.id, job.attempts, job.last_error.clone()),
            (id, 0, None)
        );
        let next = Job::parse(&q, &job.failed("boom").unwrap()).unwrap();
        assert_eq!(next.id, id);
        assert_eq!(next.attempts, 1);
        assert_eq!(next.last_error.as_deref(), Some("boom"));
        assert_eq!(next.payload, job.payload);
        assert_eq!(next.payload_text(), r#"{"x":1}"#);
    }
}
