//! `--service admin`: the audit log's ingest rate and its search latency.
//!
//! 1. Ingest: `--events` catalogue events (sign-ups and offers, fresh ids) pushed onto
//!    `events:admin` as producers' relays push them; the rate is events over the time
//!    from the first push to the last one's row being searchable (the consumer applies
//!    them in order). Beside it, `pgbench -c 32` one-row inserts on admin's PostgreSQL
//!    (`--pgbench-url`) in the same run.
//! 2. Search over the log (at least `--rows`, default 1,000,000: seed it first with
//!    `admin seed-audit`): `--connections` clients for `--duration` each, uncached (every
//!    request another page: an action and a random cursor) then cached (twenty queries
//!    asked again and again), latency p50/p90/p99 and rate, beside redis-benchmark GET.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use common::auth::Role;
use common::events::auth::UserRegistered;
use common::events::marketplace::{OfferChange, OfferStatus};
use common::events::{AuthEvent, CATALOGUE, Envelope, Event, OfferEvent, Service};
use common::ids::{OfferId, UserId};
use common::keys::Keys;
use serde_json::Value;
use uuid::Uuid;

use crate::payments::{percentile, pgbench};

pub struct Settings {
    /// The admin service's address (direct or the gateway).
    pub service: String,
    /// The gateway the admin logs in through (ADMIN_EMAIL / ADMIN_PASSWORD).
    pub gateway: String,
    pub redis_url: String,
    pub redis_host: String,
    pub redis_port: u16,
    pub redis_prefix: String,
    pub events: usize,
    pub rows: i64,
    pub connections: usize,
    pub duration: Duration,
    pub pgbench_url: String,
}

/// The newest row's seq and event id.
async fn newest(
    client: &reqwest::Client,
    s: &Settings,
    token: &str,
) -> anyhow::Result<(i64, String)> {
    let page: Value = client
        .get(format!("{}/api/admin/audit?limit=1", s.service))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok((
        page["items"][0]["seq"].as_i64().unwrap_or(0),
        page["items"][0]["event_id"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
    ))
}

fn event(n: usize) -> Event {
    if n.is_multiple_of(2) {
        AuthEvent::UserRegistered(UserRegistered {
            user_id: UserId(Uuid::now_v7()),
            email: format!("load-{n}@example.com"),
            role: Role::Investor,
            full_name: "Load Test".into(),
        })
        .into()
    } else {
        let mut o =
            common::events::examples::offer(OfferStatus::Pending, OfferChange::Placed, None);
        o.offer_id = OfferId(Uuid::now_v7());
        OfferEvent::Placed(o).into()
    }
}

/// Latencies of `connections` clients asking `path_of(i)` for `duration`.
async fn hammer(
    client: &reqwest::Client,
    token: &str,
    connections: usize,
    duration: Duration,
    path_of: Arc<dyn Fn(u64) -> String + Send + Sync>,
) -> anyhow::Result<(Vec<Duration>, f64, u64)> {
    let counter = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let (client, token, counter, failures, path_of) = (
            client.clone(),
            token.to_owned(),
            counter.clone(),
            failures.clone(),
            path_of.clone(),
        );
        set.spawn(async move {
            let mut took = Vec::new();
            while started.elapsed() < duration {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                let ok = client
                    .get(path_of(i))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .map(|r| r.status().is_success());
                match ok {
                    Ok(true) => took.push(t.elapsed()),
                    _ => {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            took
        });
    }
    let mut all = Vec::new();
    while let Some(done) = set.join_next().await {
        all.extend(done?);
    }
    let rate = all.len() as f64 / started.elapsed().as_secs_f64();
    all.sort();
    Ok((all, rate, failures.load(Ordering::Relaxed)))
}

fn line(name: &str, took: &[Duration], rate: f64, failures: u64) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "{name}: {rate:.0} req/s, p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms ({} answered, {failures} failed)",
        ms(percentile(took, 0.50)),
        ms(percentile(took, 0.90)),
        ms(percentile(took, 0.99)),
        took.len()
    )
}

pub async fn run(s: Settings) -> anyhow::Result<bool> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(256)
        .build()?;
    let admin = crate::invoice::admin(&s.gateway).await?;
    let token = admin.access.clone();

    // 1. Ingest.
    let pool = service_kit::redis::pool(&s.redis_url, 4).await?;
    let keys = Keys::new(&s.redis_prefix);
    let clock = common::clock::system();
    let envelopes: Vec<Envelope> = (0..s.events)
        .map(|n| Envelope::of(event(n), clock.as_ref()))
        .collect::<Result<_, _>>()?;
    let last = envelopes
        .last()
        .map(|e| e.id.to_string())
        .context("--events is 0")?;
    let (before, _) = newest(&client, &s, &token).await?;
    let started = Instant::now();
    crate::consumer::push_events(&pool, &keys.events(Service::Admin), &envelopes).await?;
    let pushed = started.elapsed();
    loop {
        let (_, id) = newest(&client, &s, &token).await?;
        if id == last {
            break;
        }
        ensure!(
            started.elapsed() < Duration::from_secs(1800),
            "the events were not all recorded in 30 minutes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = started.elapsed();
    let (after, _) = newest(&client, &s, &token).await?;
    let ingest = s.events as f64 / took.as_secs_f64();
    ensure!(
        after - before == s.events as i64,
        "{} rows appended for {} events",
        after - before,
        s.events
    );
    let tps = pgbench(&s.pgbench_url)?;
    println!(
        "admin ingest: {} events (pushed in {:.2} s) recorded in {:.2} s: {ingest:.0} events/s; pgbench -c 32 one-row insert {tps:.0} tps (same run): {:.3} x",
        s.events,
        pushed.as_secs_f64(),
        took.as_secs_f64(),
        ingest / tps
    );

    // 2. Search over the log.
    let (rows, _) = newest(&client, &s, &token).await?;
    ensure!(
        rows >= s.rows,
        "the audit log holds {rows} rows; seed at least {}: ADMIN_DATABASE_URL=<admin's> AUDIT_CHAIN_KEY=$(cat data/audit-chain-key) target/release/admin seed-audit --rows {}",
        s.rows,
        s.rows - rows
    );
    let actions: Vec<&'static str> = CATALOGUE.iter().map(|e| e.name).collect();
    let base = s.service.clone();
    let uncached: Arc<dyn Fn(u64) -> String + Send + Sync> = {
        let (base, actions) = (base.clone(), actions.clone());
        Arc::new(move |i| {
            let m = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let cursor = 1 + (m >> 8) % u64::try_from(rows).unwrap_or(1);
            format!(
                "{base}/api/admin/audit?action={}&cursor={cursor}&limit=50",
                actions[usize::try_from(m % actions.len() as u64).unwrap_or(0)]
            )
        })
    };
    let cached: Arc<dyn Fn(u64) -> String + Send + Sync> = {
        let (base, actions) = (base.clone(), actions.clone());
        Arc::new(move |i| {
            let n = usize::try_from(i % 20).unwrap_or(0);
            format!(
                "{base}/api/admin/audit?action={}&limit=50",
                actions[n % actions.len()]
            )
        })
    };
    println!(
        "admin search over {rows} rows, {} clients, {} s each:",
        s.connections,
        s.duration.as_secs()
    );
    let (t, rate, failed) = hammer(&client, &token, s.connections, s.duration, uncached).await?;
    println!(
        "  {}",
        line("uncached (a new page each time)", &t, rate, failed)
    );
    // Warm the twenty, then ask them again and again.
    for i in 0..20 {
        client.get(cached(i)).bearer_auth(&token).send().await?;
    }
    let (t, cached_rate, failed2) =
        hammer(&client, &token, s.connections, s.duration, cached).await?;
    println!(
        "  {}",
        line("cached (twenty queries)", &t, cached_rate, failed2)
    );
    let (redis_rps, _) = crate::invoice::redis_get_rps(&s.redis_host, s.redis_port, s.connections)?;
    println!(
        "  cached search {cached_rate:.0} req/s = {:.3} x redis-benchmark GET ({redis_rps:.0}/s, same run); uncached {rate:.0} req/s = {:.3} x",
        cached_rate / redis_rps,
        rate / redis_rps
    );
    Ok(failed == 0 && failed2 == 0)
}
