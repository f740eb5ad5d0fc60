//! Redis restarted (`SHUTDOWN`, then the same server on its append-only file) while
//! notifications stream to twenty connected WebSocket clients: the events queued before
//! the restart are kept and consumed, the service is ready again shortly after Redis
//! answers, and every client, still on its first connection, is told to resume and ends
//! with every notification made for it exactly once.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use testkit::{DbKind, RedisServer};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::helpers::{TestApp, Ws, send, spawn_app_at};

const USERS: usize = 20;
/// Notifications per user before the restart, queued just as it happens, and after it.
const BEFORE: usize = 3;
const AT: usize = 3;
const AFTER: usize = 3;

/// What one client saw, on its one connection.
#[derive(Default)]
struct Seen {
    ids: Vec<Uuid>,
    resyncs: usize,
}

/// Reads `ws` until it has `want` distinct notifications: on `resync` it resumes after
/// the newest it has. Counts into `total` as notifications arrive.
async fn client(mut ws: Ws, want: usize, total: Arc<AtomicUsize>) -> Seen {
    let mut seen = Seen::default();
    let mut distinct = BTreeSet::new();
    while distinct.len() < want {
        let frame = match ws.next().await {
            Some(Ok(Message::Text(t))) => serde_json::from_str::<Value>(&t).unwrap(),
            Some(Ok(Message::Close(c))) => panic!("the connection was closed: {c:?}"),
            Some(Ok(_)) => continue,
            other => panic!("the connection ended: {other:?}"),
        };
        match frame["type"].as_str() {
            Some("notification") => {
                let id: Uuid = frame["id"].as_str().unwrap().parse().unwrap();
                seen.ids.push(id);
                if distinct.insert(id) {
                    total.fetch_add(1, Ordering::Relaxed);
                }
            }
            Some("resync") => {
                seen.resyncs += 1;
                let after = distinct.last().copied().unwrap_or(Uuid::nil());
                send(&mut ws, json!({"type": "resume", "after": after})).await;
            }
            Some("resumed") => {}
            other => panic!("unexpected frame {other:?}: {frame}"),
        }
    }
    seen
}

async fn ready(app: &TestApp) -> bool {
    app.client
        .get(app.url("/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
}

#[tokio::test]
async fn a_redis_restart_keeps_queued_events_and_connected_clients_miss_nothing() {
    let mut server = RedisServer::start_durable();
    let app = spawn_app_at(
        &server.url(),
        DbKind::Postgres,
        |_| {},
        Arc::new(notifications::jobs::push::LogProvider),
    )
    .await;
    let users: Vec<_> = (0..USERS).map(|_| app.investor()).collect();
    let total = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for user in &users {
        let ws = app.connect(user).await;
        clients.push(tokio::spawn(client(ws, BEFORE + AT + AFTER, total.clone())));
    }
    app.wait_connections(USERS).await;

    for _ in 0..BEFORE {
        for user in &users {
            app.deliver(&app.kyc_approved(user.id)).await;
        }
    }
    testkit::wait_until(
        Duration::from_secs(20),
        "the first notifications live",
        || async { total.load(Ordering::Relaxed) == USERS * BEFORE },
    )
    .await;

    // Events queued as Redis goes down: some consumed before, the rest after.
    for _ in 0..AT {
        for user in &users {
            app.deliver(&app.kyc_approved(user.id)).await;
        }
    }
    server.restart_keeping_data();
    let answering = Instant::now();
    testkit::wait_until(Duration::from_secs(20), "ready again", || ready(&app)).await;
    let ready_after = answering.elapsed();

    for _ in 0..AFTER {
        for user in &users {
            app.deliver(&app.kyc_approved(user.id)).await;
        }
    }
    let want = USERS * (BEFORE + AT + AFTER);
    testkit::wait_until(
        Duration::from_secs(30),
        "every notification at its client",
        || async { total.load(Ordering::Relaxed) == want },
    )
    .await;
    let delivered_after = answering.elapsed();

    let mut doubled = 0;
    let mut resyncs = 0;
    let mut by_user: HashMap<Uuid, Seen> = HashMap::new();
    for (user, task) in users.iter().zip(clients) {
        let seen = task.await.unwrap();
        doubled += seen.ids.len() - seen.ids.iter().collect::<BTreeSet<_>>().len();
        resyncs += seen.resyncs;
        assert!(
            seen.resyncs >= 1,
            "client of {} was not told to resume",
            user.id
        );
        by_user.insert(user.id, seen);
    }
    // What each client has is what the service made for its user, no more, no less.
    for user in &users {
        let page = app.list(user).await;
        let made: BTreeSet<Uuid> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap().parse().unwrap())
            .collect();
        assert_eq!(made.len(), BEFORE + AT + AFTER, "made for {}", user.id);
        let got: BTreeSet<Uuid> = by_user[&user.id].ids.iter().copied().collect();
        assert_eq!(got, made, "what the client of {} has", user.id);
    }
    eprintln!(
        "redis restart: ready {:.2} s after Redis answered, every notification delivered \
         {:.2} s after; {USERS} clients on their first connection, {resyncs} resyncs, \
         {} notifications, 0 lost, {doubled} doubled",
        ready_after.as_secs_f64(),
        delivered_after.as_secs_f64(),
        want
    );
    assert_eq!(doubled, 0, "notifications delivered twice");
}
