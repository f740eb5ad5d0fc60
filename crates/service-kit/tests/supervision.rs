//! Supervised background tasks: a task that panics, returns, is killed or hangs is
//! restarted, and `/readyz` answers 503 until it runs (beats) again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use sea_orm_migration::{MigrationTrait, MigratorTrait};
use service_kit::Kit;
use service_kit::heartbeat::{TaskHealth, TaskState};
use service_kit::shutdown::CancellationToken;
use service_kit::tasks::{Policy, Supervisor};
use testkit::{DbKind, TestDb};

const DEADLINE: Duration = Duration::from_secs(20);

/// Quick to notice and to restart.
fn quick() -> Policy {
    Policy {
        stall_after: Duration::from_millis(300),
        backoff_min: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
    }
}

async fn state_is(tasks: &Supervisor, name: &str, want: TaskState) {
    testkit::wait_until(DEADLINE, &format!("{name} {want:?}"), || async {
        tasks.state(name) == Some(want)
    })
    .await;
}

/// A loop that beats every 10 ms until `stop`.
async fn beating(stop: CancellationToken) -> anyhow::Result<()> {
    while service_kit::heartbeat::sleep(Duration::from_millis(10), &stop).await {}
    Ok(())
}

#[tokio::test]
async fn a_task_that_panics_or_returns_is_restarted_and_runs_again() {
    let tasks = Supervisor::new(CancellationToken::new());
    let runs = Arc::new(AtomicU32::new(0));
    let counted = runs.clone();
    tasks.spawn("flaky", quick(), move |stop| {
        let run = counted.fetch_add(1, Ordering::AcqRel);
        async move {
            match run {
                0 => panic!("first run panics"),
                1 => Ok(()),
                2 => Err(anyhow::anyhow!("third run fails")),
                _ => beating(stop).await,
            }
        }
    });
    state_is(&tasks, "flaky", TaskState::Running).await;
    assert_eq!(runs.load(Ordering::Acquire), 4);
    assert_eq!(tasks.restarts("flaky"), Some(3));
    assert_eq!(
        tasks.tasks(),
        vec![("flaky".to_owned(), TaskState::Running)]
    );
    tasks.shutdown().await.unwrap();
    assert_eq!(tasks.state("flaky"), Some(TaskState::Stopped));
}

#[tokio::test]
async fn a_hung_task_is_aborted_and_restarted() {
    let tasks = Supervisor::new(CancellationToken::new());
    let runs = Arc::new(AtomicU32::new(0));
    let counted = runs.clone();
    tasks.spawn("hangs-once", quick(), move |stop| {
        let run = counted.fetch_add(1, Ordering::AcqRel);
        async move {
            if run == 0 {
                service_kit::heartbeat::beat();
                // Alive but stuck: never beats again, ignores stop.
                std::future::pending::<()>().await;
            }
            beating(stop).await
        }
    });
    testkit::wait_until(DEADLINE, "the hung run replaced", || async {
        runs.load(Ordering::Acquire) == 2
    })
    .await;
    state_is(&tasks, "hangs-once", TaskState::Running).await;
    assert_eq!(tasks.restarts("hangs-once"), Some(1));
    tasks.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_names_a_task_that_would_not_stop() {
    let tasks = Supervisor::new(CancellationToken::new());
    tasks.spawn("polite", quick(), beating);
    tasks.spawn("stubborn", quick(), |_stop| async {
        loop {
            // Beats, but never looks at its stop token.
            service_kit::heartbeat::beat();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    tasks.spawn("broken", quick(), |stop| async move {
        while service_kit::heartbeat::sleep(Duration::from_millis(10), &stop).await {}
        Err(anyhow::anyhow!("the disk is full"))
    });
    state_is(&tasks, "polite", TaskState::Running).await;
    state_is(&tasks, "stubborn", TaskState::Running).await;
    let stubborn = tasks.clone();
    // The stubborn task is killed as an operator would (nothing else ends it).
    let killer = tokio::spawn(async move {
        testkit::wait_until(DEADLINE, "stopping begun", || async {
            stubborn.stop_token().is_cancelled()
        })
        .await;
        stubborn.kill("stubborn");
    });
    let err = tasks.shutdown().await.unwrap_err().to_string();
    killer.await.unwrap();
    assert!(!err.contains("polite"), "{err}");
    assert!(err.contains("stubborn was killed"), "{err}");
    assert!(err.contains("broken failed: the disk is full"), "{err}");
}

/// An empty schema.
struct NoMigrations;

impl MigratorTrait for NoMigrations {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        Vec::new()
    }
}

async fn ready(client: &reqwest::Client, port: u16) -> (u16, serde_json::Value) {
    let res = client
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn readyz_is_503_while_a_task_is_hung_or_killed_and_200_once_it_runs_again() {
    let db = TestDb::new(DbKind::Sqlite).await;
    let mut base = testkit::api::base_config("kit", &db);
    base.task_stall = Duration::from_secs(1);
    let kit = Kit::start::<NoMigrations>(&base, common::clock::system())
        .await
        .unwrap();
    // The worker hangs (stops beating) while `hang` is set: a run in progress from its
    // next round, a new run before its first beat.
    let hang = Arc::new(AtomicBool::new(false));
    let flag = hang.clone();
    kit.supervise("worker", move |stop| {
        let hang = flag.clone();
        async move {
            loop {
                if hang.load(Ordering::Acquire) {
                    std::future::pending::<()>().await;
                }
                if !service_kit::heartbeat::sleep(Duration::from_millis(10), &stop).await {
                    return Ok(());
                }
            }
        }
    });
    kit.supervise("relay-like", beating);
    let app = kit.serve_probes(()).await.unwrap();
    let port = app.port();
    let tasks = app.tasks().clone();
    let stop = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(stop.clone()));
    let client = reqwest::Client::new();

    testkit::wait_until(DEADLINE, "ready", || async {
        ready(&client, port).await.0 == 200
    })
    .await;
    let (_, body) = ready(&client, port).await;
    assert_eq!(body["tasks"]["worker"], "running");
    assert_eq!(body["tasks"]["relay-like"], "running");

    // Hung: not ready, and it stays so while every new run hangs too.
    hang.store(true, Ordering::Release);
    let body = testkit::wait_for(DEADLINE, "not ready", || async {
        let (status, body) = ready(&client, port).await;
        (status == 503).then_some(body)
    })
    .await;
    assert_ne!(body["tasks"]["worker"], "running", "{body}");
    assert_eq!(body["tasks"]["relay-like"], "running", "{body}");
    assert_eq!(body["redis"], "ok");
    testkit::wait_until(DEADLINE, "the hung worker restarted", || async {
        tasks.restarts("worker").unwrap_or(0) >= 1
    })
    .await;
    assert_eq!(ready(&client, port).await.0, 503);

    // Unstuck: the next run beats and the service is ready again.
    hang.store(false, Ordering::Release);
    testkit::wait_until(DEADLINE, "ready again", || async {
        ready(&client, port).await.0 == 200
    })
    .await;

    // Killed: restarted, and ready again once it beats.
    let before = tasks.restarts("relay-like").unwrap();
    assert!(tasks.kill("relay-like"));
    testkit::wait_until(DEADLINE, "the killed task restarted", || async {
        tasks.restarts("relay-like").unwrap() == before + 1
    })
    .await;
    testkit::wait_until(DEADLINE, "ready after the kill", || async {
        ready(&client, port).await.0 == 200
    })
    .await;

    stop.cancel();
    running.await.unwrap().unwrap();
    assert_eq!(tasks.state("worker"), Some(TaskState::Stopped));
}
