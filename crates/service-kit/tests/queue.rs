//! The reliable queue against a real Redis (REDIS_URL). Every test has its own prefix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Keys;
use common::events::Service;
use fred::prelude::{KeysInterface, ListInterface, SetsInterface};
use service_kit::queue::{self, Job, JobHandler, QueueName, Worker, WorkerConfig, handler_fn};
use service_kit::redis::Pool;
use service_kit::shutdown::CancellationToken;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use uuid::Uuid;

const DEADLINE: Duration = Duration::from_secs(15);

/// Short times so that retries, heartbeats and the reaper happen within a test.
fn fast() -> WorkerConfig {
    WorkerConfig {
        max_attempts: 3,
        backoff_base: Duration::from_millis(2),
        backoff_max: Duration::from_millis(10),
        block_timeout: Duration::from_millis(200),
        heartbeat_interval: Duration::from_millis(100),
        heartbeat_ttl: Duration::from_millis(1_000),
        reaper_interval: Duration::from_millis(100),
        delayed_poll_interval: Duration::from_millis(20),
        ..WorkerConfig::default()
    }
}

async fn setup() -> (Keys, Pool) {
    (
        Keys::new(&testkit::unique_prefix()),
        testkit::redis_pool().await,
    )
}

async fn worker(pool: &Pool, queues: &[QueueName], config: WorkerConfig) -> Worker {
    Worker::connect(&testkit::redis_url(), pool, queues.to_vec(), config)
        .await
        .unwrap()
}

struct Running {
    stop: CancellationToken,
    task: JoinHandle<Result<(), queue::QueueError>>,
}

impl Running {
    fn start<H: JobHandler>(worker: Worker, handler: H) -> Self {
        let stop = CancellationToken::new();
        let task = tokio::spawn(worker.run(handler, stop.clone()));
        Self { stop, task }
    }

    async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(DEADLINE, self.task)
            .await
            .expect("worker stops")
            .unwrap()
            .unwrap();
    }
}

async fn members(pool: &Pool, key: String) -> Vec<String> {
    pool.smembers(key).await.unwrap()
}

#[tokio::test]
async fn a_worker_killed_mid_job_loses_nothing_and_another_worker_gets_the_job() {
    let (keys, pool) = setup().await;
    let q = keys.push_queue();
    let id = queue::enqueue(&pool, &q, r#"{"user":"u1"}"#).await.unwrap();

    // Worker A takes the job and never finishes it.
    let started = Arc::new(Notify::new());
    let a = worker(&pool, std::slice::from_ref(&q), fast()).await;
    let a_id = a.id().to_owned();
    let signal = started.clone();
    let a = tokio::spawn(a.run(
        handler_fn(move |_job| {
            let signal = signal.clone();
            async move {
                signal.notify_one();
                std::future::pending::<anyhow::Result<()>>().await
            }
        }),
        CancellationToken::new(),
    ));
    tokio::time::timeout(DEADLINE, started.notified())
        .await
        .expect("worker A starts the job");
    let held = queue::in_flight(&pool, &q, &a_id).await.unwrap();
    assert_eq!(held.iter().map(|j| j.id).collect::<Vec<_>>(), vec![id]);

    // Crash: the task dies mid-job, without acknowledging, and stops beating.
    a.abort();
    assert!(a.await.unwrap_err().is_cancelled());

    // Worker B's reaper returns the job once A's heartbeat expires, and B handles it.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let b = worker(&pool, std::slice::from_ref(&q), fast()).await;
    let b = Running::start(
        b,
        handler_fn(move |job: Job| {
            let tx = tx.clone();
            async move {
                tx.send(job).unwrap();
                Ok(())
            }
        }),
    );
    let job = tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .expect("the job is redelivered")
        .unwrap();
    assert_eq!(job.id, id);
    assert_eq!(job.payload, serde_json::json!({"user": "u1"}));
    assert_eq!(job.attempts, 0, "a crash is not a failed attempt");
    b.stop().await;

    assert!(queue::in_flight(&pool, &q, &a_id).await.unwrap().is_empty());
    assert!(!members(&pool, q.workers()).await.contains(&a_id));
    assert_eq!(queue::len(&pool, &q).await.unwrap(), 0);
    assert!(rx.try_recv().is_err(), "handled once");
}

#[tokio::test]
async fn the_reaper_leaves_the_jobs_of_live_workers_alone() {
    let (keys, pool) = setup().await;
    let q = keys.push_queue();
    queue::enqueue(&pool, &q, "hello").await.unwrap();
    let started = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let w = worker(&pool, std::slice::from_ref(&q), fast()).await;
    let w_id = w.id().to_owned();
    let (s, r) = (started.clone(), release.clone());
    let w = Running::start(
        w,
        handler_fn(move |_job| {
            let (s, r) = (s.clone(), r.clone());
            async move {
                s.notify_one();
                r.notified().await;
                Ok(())
            }
        }),
    );
    tokio::time::timeout(DEADLINE, started.notified())
        .await
        .unwrap();
    assert_eq!(queue::reap(&pool, &q).await.unwrap(), 0);
    assert_eq!(queue::in_flight(&pool, &q, &w_id).await.unwrap().len(), 1);
    release.notify_one();
    testkit::wait_until(DEADLINE, "the job is acknowledged", || async {
        queue::in_flight(&pool, &q, &w_id).await.unwrap().is_empty()
    })
    .await;
    w.stop().await;
    assert_eq!(queue::len(&pool, &q).await.unwrap(), 0);
}

#[tokio::test]
async fn a_job_failing_every_attempt_lands_in_the_dead_letter_list_with_its_error() {
    let (keys, pool) = setup().await;
    let q = keys.kyc_processing();
    let id = queue::enqueue_json(&pool, &q, &serde_json::json!({"doc": 7}))
        .await
        .unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let w = Running::start(
        worker(&pool, std::slice::from_ref(&q), fast()).await,
        handler_fn(move |_job| {
            let n = c.fetch_add(1, Ordering::SeqCst) + 1;
            async move { Err(anyhow::anyhow!("scanner unavailable (call {n})")) }
        }),
    );
    let dead = testkit::wait_for(DEADLINE, "the job is dead-lettered", || async {
        let dead = queue::dead_letters(&pool, &q, 10).await.unwrap();
        (!dead.is_empty()).then_some(dead)
    })
    .await;
    w.stop().await;

    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, id);
    assert_eq!(dead[0].attempts, 3);
    assert_eq!(
        dead[0].last_error.as_deref(),
        Some("scanner unavailable (call 3)")
    );
    assert_eq!(dead[0].payload, serde_json::json!({"doc": 7}));
    assert_eq!(calls.load(Ordering::SeqCst), 3, "tried max_attempts times");
    assert_eq!(queue::len(&pool, &q).await.unwrap(), 0);
    assert_eq!(queue::delayed_len(&pool, &q).await.unwrap(), 0);
}

#[tokio::test]
async fn a_job_that_fails_or_panics_is_retried_with_its_last_error() {
    let (keys, pool) = setup().await;
    let q = keys.push_queue();
    let id = queue::enqueue(&pool, &q, "push me").await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let w = worker(&pool, std::slice::from_ref(&q), fast()).await;
    let w_id = w.id().to_owned();
    let w = Running::start(
        w,
        handler_fn(move |job: Job| {
            let tx = tx.clone();
            async move {
                tx.send(job.clone()).unwrap();
                match job.attempts {
                    0 => anyhow::bail!("provider timeout"),
                    1 => panic!("bug in handler"),
                    _ => Ok(()),
                }
            }
        }),
    );
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let job = tokio::time::timeout(DEADLINE, rx.recv())
            .await
            .expect("a delivery")
            .unwrap();
        seen.push(job);
    }
    testkit::wait_until(DEADLINE, "the last delivery is acknowledged", || async {
        queue::in_flight(&pool, &q, &w_id).await.unwrap().is_empty()
    })
    .await;
    w.stop().await;

    assert!(
        seen.iter()
            .all(|j| j.id == id && j.payload_text() == "push me")
    );
    assert_eq!(seen[1].last_error.as_deref(), Some("provider timeout"));
    assert!(
        seen[2]
            .last_error
            .as_deref()
            .unwrap()
            .contains("bug in handler")
    );
    assert!(rx.try_recv().is_err(), "no delivery after success");
    assert!(queue::dead_letters(&pool, &q, 10).await.unwrap().is_empty());
    assert_eq!(queue::delayed_len(&pool, &q).await.unwrap(), 0);
    assert_eq!(queue::len(&pool, &q).await.unwrap(), 0);
}

#[tokio::test]
async fn workers_never_hold_the_same_job_and_each_job_is_handled_exactly_once() {
    const JOBS: usize = 300;
    const WORKERS: usize = 4;
    let (keys, pool) = setup().await;
    let q = keys.events(Service::Notifications);
    let jobs: Vec<(QueueName, String)> = (0..JOBS)
        .map(|i| (q.clone(), format!(r#"{{"i":{i}}}"#)))
        .collect();
    let ids = queue::enqueue_many(&pool, &jobs).await.unwrap();

    let handled: Arc<Mutex<HashMap<Uuid, u32>>> = Arc::default();
    let in_hand: Arc<Mutex<HashSet<Uuid>>> = Arc::default();
    let overlap = Arc::new(AtomicBool::new(false));
    let mut running = Vec::new();
    let mut worker_ids = Vec::new();
    for _ in 0..WORKERS {
        let (handled, in_hand, overlap) = (handled.clone(), in_hand.clone(), overlap.clone());
        let w = worker(&pool, std::slice::from_ref(&q), fast()).await;
        worker_ids.push(w.id().to_owned());
        running.push(Running::start(
            w,
            handler_fn(move |job: Job| {
                let (handled, in_hand, overlap) =
                    (handled.clone(), in_hand.clone(), overlap.clone());
                async move {
                    if !in_hand.lock().unwrap().insert(job.id) {
                        overlap.store(true, Ordering::SeqCst);
                    }
                    tokio::task::yield_now().await;
                    *handled.lock().unwrap().entry(job.id).or_default() += 1;
                    in_hand.lock().unwrap().remove(&job.id);
                    Ok(())
                }
            }),
        ));
    }
    testkit::wait_until(DEADLINE, "every job is handled", || async {
        handled.lock().unwrap().len() == JOBS
    })
    .await;
    for r in running {
        r.stop().await;
    }

    let handled = handled.lock().unwrap().clone();
    assert!(!overlap.load(Ordering::SeqCst), "two workers held one job");
    assert_eq!(handled.len(), JOBS);
    assert!(ids.iter().all(|id| handled.get(id) == Some(&1)));
    assert_eq!(queue::len(&pool, &q).await.unwrap(), 0);
    for id in &worker_ids {
        assert!(queue::in_flight(&pool, &q, id).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_graceful_stop_finishes_the_job_in_hand_and_takes_no_other() {
    let (keys, pool) = setup().await;
    let q = keys.push_queue();
    let first = queue::enqueue(&pool, &q, "first").await.unwrap();
    let started = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let finished = Arc::new(Mutex::new(Vec::<Uuid>::new()));
    let w = worker(&pool, std::slice::from_ref(&q), fast()).await;
    let w_id = w.id().to_owned();
    let (s, r, f) = (started.clone(), release.clone(), finished.clone());
    let w = Running::start(
        w,
        handler_fn(move |job: Job| {
            let (s, r, f) = (s.clone(), r.clone(), f.clone());
            async move {
                s.notify_one();
                r.notified().await;
                f.lock().unwrap().push(job.id);
                Ok(())
            }
        }),
    );
    tokio::time::timeout(DEADLINE, started.notified())
        .await
        .unwrap();
    let second = queue::enqueue(&pool, &q, "second").await.unwrap();

    // Stop while the first job is in hand; it can only finish after the release.
    w.stop.cancel();
    assert!(!w.task.is_finished());
    release.notify_one();
    w.stop().await;

    assert_eq!(*finished.lock().unwrap(), vec![first]);
    assert!(queue::in_flight(&pool, &q, &w_id).await.unwrap().is_empty());
    let left: Vec<String> = pool.lrange(q.as_str(), 0, -1).await.unwrap();
    let left: Vec<Uuid> = left
        .iter()
        .map(|raw| Job::parse(&q, raw).unwrap().id)
        .collect();
    assert_eq!(left, vec![second], "the next job waits for the next worker");
    assert!(!members(&pool, q.workers()).await.contains(&w_id));
    let beat: Option<String> = pool.get(q.heartbeat(&w_id)).await.unwrap();
    assert!(beat.is_none(), "a stopped worker unregisters");
}

#[tokio::test]
async fn enqueue_many_reaches_every_queue_in_one_call() {
    let (keys, pool) = setup().await;
    let targets = [
        (keys.events(Service::Admin), r#"{"to":"admin"}"#),
        (
            keys.events(Service::Notifications),
            r#"{"to":"notifications"}"#,
        ),
        (keys.kyc_processing(), "plain text"),
    ];
    let ids = queue::enqueue_many(&pool, &targets).await.unwrap();
    assert_eq!(ids.len(), 3);
    for ((q, payload), id) in targets.iter().zip(&ids) {
        let raw: Vec<String> = pool.lrange(q.as_str(), 0, -1).await.unwrap();
        assert_eq!(raw.len(), 1, "{q}");
        let job = Job::parse(q, &raw[0]).unwrap();
        assert_eq!(job.id, *id);
        assert_eq!(job.attempts, 0);
        match serde_json::from_str::<serde_json::Value>(payload) {
            Ok(v) => assert_eq!(job.payload, v),
            Err(_) => assert_eq!(job.payload_text(), *payload),
        }
    }
}

#[tokio::test]
async fn a_worker_on_several_queues_takes_high_priority_jobs_first() {
    let (keys, pool) = setup().await;
    let (high, normal) = (keys.kyc_processing_high(), keys.kyc_processing());
    for i in 0..3 {
        queue::enqueue(&pool, &normal, format!("normal {i}"))
            .await
            .unwrap();
    }
    for i in 0..3 {
        queue::enqueue(&pool, &high, format!("high {i}"))
            .await
            .unwrap();
    }
    let order = Arc::new(Mutex::new(Vec::<String>::new()));
    let o = order.clone();
    let w = Running::start(
        worker(&pool, &[high.clone(), normal.clone()], fast()).await,
        handler_fn(move |job: Job| {
            let o = o.clone();
            async move {
                o.lock().unwrap().push(job.payload_text().into_owned());
                Ok(())
            }
        }),
    );
    testkit::wait_until(DEADLINE, "all six jobs are handled", || async {
        order.lock().unwrap().len() == 6
    })
    .await;
    w.stop().await;
    assert_eq!(
        *order.lock().unwrap(),
        [
            "high 0", "high 1", "high 2", "normal 0", "normal 1", "normal 2"
        ]
    );
}

#[tokio::test]
async fn an_unusable_job_goes_to_the_dead_letters_at_once_with_its_reason() {
    let (keys, pool) = setup().await;
    let q = keys.kyc_processing();
    let id = queue::enqueue_json(&pool, &q, &serde_json::json!({"doc": 8}))
        .await
        .unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let w = Running::start(
        worker(&pool, std::slice::from_ref(&q), fast()).await,
        handler_fn(move |_job| {
            c.fetch_add(1, Ordering::SeqCst);
            async move {
                Err(
                    anyhow::Error::new(queue::Unusable("a type this handler does not take".into()))
                        .context("handling the job"),
                )
            }
        }),
    );
    let dead = testkit::wait_for(DEADLINE, "the job is dead-lettered", || async {
        let dead = queue::dead_letters(&pool, &q, 10).await.unwrap();
        (!dead.is_empty()).then_some(dead)
    })
    .await;
    w.stop().await;
    assert_eq!((dead.len(), dead[0].id, dead[0].attempts), (1, id, 1));
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("unusable: a type this handler does not take"),
        "{:?}",
        dead[0].last_error
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1, "never retried");
    assert_eq!(queue::delayed_len(&pool, &q).await.unwrap(), 0);
}

/// After a fix, a requeued dead letter runs again, once, as a fresh job (no attempts, no
/// error); a requeue of what is no longer dead does nothing.
#[tokio::test]
async fn a_requeued_dead_letter_runs_again_after_the_fix_exactly_once() {
    let (keys, pool) = setup().await;
    let q = keys.kyc_processing();
    let id = queue::enqueue_json(&pool, &q, &serde_json::json!({"doc": 9}))
        .await
        .unwrap();
    let fixed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let handled = Arc::new(AtomicU32::new(0));
    let (f, h) = (fixed.clone(), handled.clone());
    let w = Running::start(
        worker(&pool, std::slice::from_ref(&q), fast()).await,
        handler_fn(move |_job| {
            let ok = f.load(Ordering::SeqCst);
            if ok {
                h.fetch_add(1, Ordering::SeqCst);
            }
            async move {
                if ok {
                    Ok(())
                } else {
                    Err(anyhow::Error::new(queue::Unusable("needs a fix".into())))
                }
            }
        }),
    );
    testkit::wait_until(DEADLINE, "the job is dead-lettered", || async {
        queue::dead_letters(&pool, &q, 10).await.unwrap().len() == 1
    })
    .await;
    // The fix ships; the operator requeues it (by id), twice by mistake.
    fixed.store(true, Ordering::SeqCst);
    assert_eq!(
        queue::requeue_dead(&pool, &q, &[uuid::Uuid::now_v7()])
            .await
            .unwrap(),
        0
    );
    assert_eq!(queue::requeue_dead(&pool, &q, &[id]).await.unwrap(), 1);
    assert_eq!(queue::requeue_dead(&pool, &q, &[id]).await.unwrap(), 0);
    testkit::wait_until(DEADLINE, "the requeued job is handled", || async {
        handled.load(Ordering::SeqCst) == 1
    })
    .await;
    w.stop().await;
    assert_eq!(handled.load(Ordering::SeqCst), 1, "once");
    assert!(queue::dead_letters(&pool, &q, 10).await.unwrap().is_empty());
    assert_eq!(queue::len(&pool, &q).await.unwrap(), 0);
}
