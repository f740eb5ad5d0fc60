//! Faults under load, on the whole stack as a client meets it (the built binaries behind
//! real nginx, every service on a PostgreSQL database of its own and on a Redis of the
//! test's own): a Redis restart (SHUTDOWN, then the same append-only file), a Redis
//! killed (-9) and started on the same files, and every
//! service's PostgreSQL sessions ended (`pg_terminate_backend`), five times. Each service
//! answers a reading request in a loop throughout; what is counted: every answer is a 200
//! or a 503 with `Retry-After` (never a 500, never a dropped connection), and how long
//! after the fault each service served again (printed; docs/reliability.md keeps them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{Options, Stack};

/// One answer of the load.
struct Answer {
    probe: usize,
    at: Instant,
    /// The status, or `None` when no answer came (connection refused or reset, timeout).
    status: Option<u16>,
    retry_after: bool,
}

type Answers = Arc<Mutex<Vec<Answer>>>;

/// How long a fault may take to clear before the test gives up (the figures printed are
/// what it took; this only bounds a hang).
const RECOVERY_DEADLINE: Duration = Duration::from_secs(30);

/// Waits until every probe has had a 200 after `since`; answers each probe's first.
async fn all_serving(answers: &Answers, probes: usize, since: Instant) -> Vec<Duration> {
    testkit::wait_for(RECOVERY_DEADLINE, "every service serving again", || async {
        let answers = answers.lock().unwrap();
        let firsts: Vec<Option<Duration>> = (0..probes)
            .map(|p| {
                answers
                    .iter()
                    .filter(|a| a.probe == p && a.at > since && a.status == Some(200))
                    .map(|a| a.at - since)
                    .min()
            })
            .collect();
        firsts.into_iter().collect::<Option<Vec<_>>>()
    })
    .await
}

#[tokio::test]
async fn every_service_serves_again_after_a_redis_restart_and_ended_database_sessions() {
    let mut redis = testkit::RedisServer::start_durable();
    let stack = Stack::start_with(Options {
        redis_url: Some(redis.url()),
        postgres_everywhere: true,
        env: vec![("AUTH_RATE_BURST", "1000000".into())],
    })
    .await;
    let base = stack.base.clone();
    let admin = demo::login(&base, &stack.admin_email, stack.admin_password)
        .await
        .unwrap();
    let (seller, invoice) = demo::submitted_invoice(&base, &admin, "FAULT-1")
        .await
        .unwrap_or_else(|e| panic!("seed failed: {e:#}\n{}", stack.logs()));
    // One reading request per service, each reaching its database and Redis.
    let probes: Vec<(&str, String, String)> = vec![
        ("auth", "/api/auth/me".into(), seller.access.clone()),
        ("kyc", "/api/kyc/status".into(), seller.access.clone()),
        (
            "invoice",
            format!("/api/invoices/{invoice}"),
            seller.access.clone(),
        ),
        (
            "marketplace",
            "/api/marketplace/offers".into(),
            seller.access.clone(),
        ),
        (
            "payments",
            "/api/payments/fundings".into(),
            seller.access.clone(),
        ),
        (
            "notifications",
            "/api/notifications".into(),
            seller.access.clone(),
        ),
        ("admin", "/api/admin/reviews".into(), admin.access.clone()),
    ];
    let answers: Answers = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut load = Vec::new();
    for (i, (_, path, token)) in probes.iter().enumerate() {
        let (client, answers, stop) = (client.clone(), answers.clone(), stop.clone());
        let url = format!("{base}{path}");
        let token = token.clone();
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let res = client.get(&url).bearer_auth(&token).send().await;
                let (status, retry_after) = match &res {
                    Ok(r) => (
                        Some(r.status().as_u16()),
                        r.headers().contains_key("retry-after"),
                    ),
                    Err(_) => (None, false),
                };
                answers.lock().unwrap().push(Answer {
                    probe: i,
                    at: Instant::now(),
                    status,
                    retry_after,
                });
                if res.is_err() {
                    // Not a fault of the services: the gateway is never touched. Count it
                    // and go on without spinning.
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    let started = Instant::now();
    all_serving(&answers, probes.len(), started).await;

    // Fault 1: Redis restarted with its data (SHUTDOWN syncs the append-only file).
    let before_restart = Instant::now();
    let mut redis = tokio::task::spawn_blocking(move || {
        redis.restart_keeping_data();
        redis
    })
    .await
    .unwrap();
    let answering = Instant::now();
    let after_redis = all_serving(&answers, probes.len(), answering).await;
    let restart_took = answering - before_restart;
    // And killed (-9), then started on the same files.
    let mut redis = tokio::task::spawn_blocking(move || {
        redis.crash_and_restart();
        redis
    })
    .await
    .unwrap();
    let answering = Instant::now();
    let after_crash = all_serving(&answers, probes.len(), answering).await;

    // Fault 2: every service's PostgreSQL sessions ended, five times, each once every
    // service has served again.
    let mut ended = 0;
    let mut after_pg = vec![Duration::ZERO; probes.len()];
    for _ in 0..5 {
        let mark = Instant::now();
        for (_, db) in &stack.databases {
            ended += db.kill_connections().await;
        }
        let took = all_serving(&answers, probes.len(), mark).await;
        for (worst, t) in after_pg.iter_mut().zip(took) {
            *worst = (*worst).max(t);
        }
    }
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    redis.stop();

    let answers = std::mem::take(&mut *answers.lock().unwrap());
    let mut table = String::from(
        "service | answers | 503 | served again after Redis answered: restart, kill -9 | after PostgreSQL sessions ended (worst of 5)\n",
    );
    for (i, (name, _, _)) in probes.iter().enumerate() {
        let mine: Vec<&Answer> = answers.iter().filter(|a| a.probe == i).collect();
        let unavailable = mine.iter().filter(|a| a.status == Some(503)).count();
        table.push_str(&format!(
            "{name} | {} | {unavailable} | {:.2} s, {:.2} s | {:.2} s\n",
            mine.len(),
            after_redis[i].as_secs_f64(),
            after_crash[i].as_secs_f64(),
            after_pg[i].as_secs_f64()
        ));
    }
    println!(
        "Redis restart took {:.2} s; {ended} PostgreSQL sessions ended.\n{table}",
        restart_took.as_secs_f64()
    );
    assert!(ended > 0, "no PostgreSQL session was ended");
    let wrong: Vec<String> = answers
        .iter()
        .filter(|a| match a.status {
            Some(200) => false,
            Some(503) => !a.retry_after,
            _ => true,
        })
        .map(|a| format!("{}: {:?}", probes[a.probe].0, a.status))
        .collect();
    assert!(
        wrong.is_empty(),
        "answers other than 200 or 503 with Retry-After ({} of {}): {:?}\n{table}\n{}",
        wrong.len(),
        answers.len(),
        &wrong[..wrong.len().min(20)],
        stack.logs()
    );
    stack.stop().await;
}
