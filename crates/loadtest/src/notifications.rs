//! WebSocket fan-out of the notifications service (`--service notifications-ws`), outside
//! goose.
//!
//! 1. Signs up `--clients` users through auth (16 at a time: each costs an Argon2 hash)
//!    and logs each in: one user, so one channel, per client.
//! 2. Connects one WebSocket per user: `POST /api/notifications/ws-ticket` with its token
//!    (a ticket is single-use and lives 30 s, so it is fetched right before), then
//!    `GET ws://<host>/api/notifications/ws?ticket=..`, through the gateway or directly.
//! 3. Warm-up: publishes a frame on each client's channel `user:{userId}:notifications`
//!    (again every 200 ms) until every client has received one, so every subscription is
//!    live before anything is timed.
//! 4. Load: publishes `--rate` notification frames a second for `--duration` straight on
//!    Redis, as the service's own delivery does, each to a random client's channel, with
//!    `"kind": "loadtest"` and `data: {"seq": n, "sent_at_us": <unix µs at publish>}`.
//!    Each client stamps every notification frame on arrival: latency = arrival -
//!    `sent_at_us` (one machine, one clock), Redis and the service's forwarding included.
//! 5. Waits, up to a grace period, until as many frames arrived as were published, then
//!    closes the connections.
//!
//! Reports connections, published / received / lost / misdelivered, latency percentiles,
//! the achieved rate and the service's resident memory (make run's pid file or `--pid`)
//! before connecting, with every client connected and after the load, hence the memory
//! per connection. It passes (exit 0) when every client connected and received its
//! frames, nothing was lost and p99 <= 5 ms: the target is 1,000 clients at 1,000
//! notifications/s.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use common::keys::Keys;
use futures::{StreamExt as _, stream};
use serde::Deserialize;
use serde_json::json;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::auth::{self, TokenPair};
use crate::rss;

mod client;
mod publish;
mod report;

use client::{Frame, Ws};
pub use report::Report;
use report::{Memory, Tally};

/// Registrations (and logins) in flight at once.
const SIGNUPS_AT_ONCE: usize = 16;
/// Ticket + WebSocket handshakes in flight at once.
const CONNECTS_AT_ONCE: usize = 32;
/// How long every client may take to receive its warm-up frame.
const WARMUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long after the last publish the frames still on their way may take.
const GRACE: Duration = Duration::from_secs(5);
/// The target for p99, in milliseconds.
pub const P99_TARGET_MS: f64 = 5.0;

pub struct Settings {
    /// Base URL of notifications (the gateway or its own port), http://.
    pub service: String,
    /// Base URL of auth.
    pub auth: String,
    /// The stack's Redis, redis://host:port.
    pub redis_url: String,
    /// The stack's Redis key prefix (make run: none).
    pub redis_prefix: String,
    /// The notifications service's pid, for its memory.
    pub pid: Option<u32>,
    pub clients: usize,
    /// Notifications published per second, over every client.
    pub rate: u64,
    pub duration: Duration,
    /// `gateway` or `direct`, for the report.
    pub target: &'static str,
}

struct User {
    id: Uuid,
    token: String,
}

#[derive(Deserialize)]
struct Registered {
    id: Uuid,
}

#[derive(Deserialize)]
struct Ticket {
    ticket: String,
}

/// What the clients' reader tasks share with the publisher.
struct Shared {
    /// Load frames received, every client together.
    received: AtomicU64,
    /// Per client: its warm-up frame has arrived.
    ready: Vec<AtomicBool>,
}

pub async fn run(s: Settings) -> anyhow::Result<Report> {
    anyhow::ensure!(s.clients > 0, "--clients must be at least 1");
    anyhow::ensure!(s.rate > 0, "--rate must be at least 1");
    let ws_base = client::base_url(&s.service)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let redis = service_kit::redis::pool(&s.redis_url, 4)
        .await
        .with_context(|| format!("connecting to Redis at {} (--redis)", s.redis_url))?;
    let keys = Keys::new(&s.redis_prefix);
    println!(
        "notifications-ws: {} clients via {} at {}, {} notifications/s for {} s, published on {}",
        s.clients,
        s.target,
        s.service,
        s.rate,
        s.duration.as_secs(),
        s.redis_url
    );

    let started = Instant::now();
    println!(
        "signing up {} users through {} ({SIGNUPS_AT_ONCE} at a time)...",
        s.clients, s.auth
    );
    let run = Uuid::now_v7().simple().to_string();
    let users: Vec<User> = stream::iter(0..s.clients)
        .map(|n| sign_up(&http, &s.auth, format!("ws-load-{run}-{n}@example.com"), n))
        .buffer_unordered(SIGNUPS_AT_ONCE)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    println!("  {} users in {:.1} s", users.len(), secs(started));

    let rss_before = s.pid.and_then(rss::rss_kb);
    let started = Instant::now();
    println!(
        "connecting {} WebSockets ({CONNECTS_AT_ONCE} at a time)...",
        s.clients
    );
    let connections: Vec<(usize, anyhow::Result<Ws>)> = stream::iter(users.iter().enumerate())
        .map(|(i, user)| {
            let (http, service, ws_base) = (&http, &s.service, &ws_base);
            async move { (i, connect(http, service, ws_base, user).await) }
        })
        .buffer_unordered(CONNECTS_AT_ONCE)
        .collect()
        .await;
    let shared = Arc::new(Shared {
        received: AtomicU64::new(0),
        ready: (0..s.clients).map(|_| AtomicBool::new(false)).collect(),
    });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut readers = JoinSet::new();
    let (mut failed, mut first_error) = (0usize, None);
    let mut open = vec![false; s.clients];
    for (i, connection) in connections {
        match connection {
            Ok(socket) => {
                open[i] = true;
                let (shared, stopped) = (shared.clone(), stopped.clone());
                readers.spawn(client::read(i, socket, stopped, move |frame| match frame {
                    Frame::Warmup => shared.ready[i].store(true, Ordering::Relaxed),
                    Frame::Load { .. } => {
                        shared.received.fetch_add(1, Ordering::Relaxed);
                    }
                    Frame::Other => {}
                }));
            }
            Err(e) => {
                failed += 1;
                first_error.get_or_insert(format!("{e:#}"));
            }
        }
    }
    let connected = s.clients - failed;
    println!(
        "  {connected} of {} connected in {:.1} s{}",
        s.clients,
        secs(started),
        first_error
            .as_deref()
            .map(|e| format!(" ({failed} failed; first: {e})"))
            .unwrap_or_default()
    );
    let channels: Vec<String> = users
        .iter()
        .map(|u| keys.user_notifications_channel(u.id))
        .collect();

    let started = Instant::now();
    publish::warm_up(&redis, &channels, WARMUP_TIMEOUT, |i| {
        open[i] && !shared.ready[i].load(Ordering::Relaxed)
    })
    .await;
    let ready: Vec<usize> = (0..s.clients)
        .filter(|&i| shared.ready[i].load(Ordering::Relaxed))
        .collect();
    println!(
        "warm-up: {} of {connected} connected clients received a frame within {:.1} s",
        ready.len(),
        secs(started)
    );
    let rss_connected = s.pid.and_then(rss::rss_kb);

    let load = if ready.is_empty() {
        None
    } else {
        println!(
            "load: {} notifications over {} s...",
            s.rate * s.duration.as_secs(),
            s.duration.as_secs()
        );
        let load = publish::load(&redis, &channels, &ready, s.rate, s.duration).await;
        let deadline = Instant::now() + GRACE;
        while shared.received.load(Ordering::Relaxed) < load.published && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Some(load)
    };
    let rss_loaded = s.pid.and_then(rss::rss_kb);

    let _ = stop.send(true);
    let mut outcomes = Vec::with_capacity(connected);
    while let Some(joined) = readers.join_next().await {
        outcomes.push(joined?);
    }
    let tally = Tally::of(&outcomes, load.as_ref());
    let memory = Memory {
        pid: s.pid,
        before: rss_before,
        connected: rss_connected,
        loaded: rss_loaded,
        connections: connected,
    };
    let report = Report {
        clients: s.clients,
        connected,
        failed,
        first_error,
        ready: ready.len(),
        load,
        tally,
        memory,
    };
    println!();
    print!("{}", report.text());
    Ok(report)
}

/// Registers user `n` (sellers and investors alternately) and logs it in.
async fn sign_up(
    http: &reqwest::Client,
    auth: &str,
    email: String,
    n: usize,
) -> anyhow::Result<User> {
    let role = if n.is_multiple_of(2) {
        "seller"
    } else {
        "investor"
    };
    let res = http
        .post(format!("{auth}/api/auth/register"))
        .json(
            &json!({"email": email, "password": auth::PASSWORD, "role": role,
                      "full_name": "WebSocket Load"}),
        )
        .send()
        .await?;
    if res.status() != 201 {
        bail!("register answered {}: {}", res.status(), res.text().await?);
    }
    let id = res.json::<Registered>().await?.id;
    let pair: TokenPair = http
        .post(format!("{auth}/api/auth/login"))
        .json(&json!({"email": email, "password": auth::PASSWORD}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(User {
        id,
        token: pair.access_token,
    })
}

/// A fresh ticket, then the WebSocket handshake with it.
async fn connect(
    http: &reqwest::Client,
    service: &str,
    ws_base: &str,
    user: &User,
) -> anyhow::Result<Ws> {
    let res = http
        .post(format!("{service}/api/notifications/ws-ticket"))
        .bearer_auth(&user.token)
        .send()
        .await
        .context("POST /api/notifications/ws-ticket")?;
    if res.status() != 201 {
        bail!("ws-ticket answered {}: {}", res.status(), res.text().await?);
    }
    let ticket = res.json::<Ticket>().await?.ticket;
    client::connect(ws_base, &ticket).await
}

fn secs(since: Instant) -> f64 {
    since.elapsed().as_secs_f64()
}
