//! The notifications service as a real process, killed (`kill -9`) ten times while it
//! consumes events and pushes their notifications through the HTTP provider (a wiremock
//! stand-in): every notification made reaches its device; pushes in flight at a kill are
//! sent again by the next life (the provider sees them twice; counted).

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::events::Service;
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use testkit::api::Backing;
use testkit::{DbKind, TestDb};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const USERS: usize = 10;
const EVENTS_PER_ROUND: usize = 10;
const KILLS: usize = 10;

struct Process {
    child: Child,
}

fn start(db: &TestDb, prefix: &str, port: u16, provider: &str) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_notifications"))
        .arg("serve")
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("NOTIFICATIONS_DATABASE_URL", &db.url)
        .env("REDIS_URL", testkit::redis_url())
        .env("REDIS_PREFIX", prefix)
        .env("DATA_DIR", std::env::temp_dir())
        .env("JWT_ISSUER", testkit::TestKeys::ISSUER)
        .env("JWT_AUDIENCE", testkit::TestKeys::AUDIENCE)
        .env("PUSH_PROVIDER", "http")
        .env("PUSH_HTTP_URL", provider)
        .env("PUSH_BACKOFF_MS", "20")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start notifications");
    Process { child }
}

fn kill9(service: &mut Process) {
    let _ = service.child.kill();
    let _ = service.child.wait();
}

async fn wait_ready(client: &reqwest::Client, port: u16) {
    testkit::wait_until(Duration::from_secs(60), "notifications ready", || async {
        client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
}

/// Pushes the provider received, per notification id.
async fn pushes(server: &MockServer) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for r in server.received_requests().await.unwrap_or_default() {
        let body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
        if let Some(id) = body["message"]["data"]["notification_id"].as_str() {
            *out.entry(id.to_owned()).or_default() += 1;
        }
    }
    out
}

#[tokio::test]
async fn a_service_killed_ten_times_while_pushing_loses_no_push() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/send"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"name": "m/1"}))
                .set_delay(Duration::from_millis(20)),
        )
        .mount(&server)
        .await;
    let provider = format!("{}/v1/send", server.uri());
    let db = TestDb::new(DbKind::Postgres).await;
    let prefix = testkit::unique_prefix();
    let port = testkit::spare_port();
    let backing = Backing::new(&prefix).await;
    let redis = backing.redis.clone();
    let keys = backing.keys.clone();
    let clock = backing.clock.clone();
    let (api, _, _) = backing.client(port);
    let client = reqwest::Client::new();

    let mut service = start(&db, &prefix, port, &provider);
    wait_ready(&client, port).await;
    let users: Vec<_> = (0..USERS).map(|_| api.investor()).collect();
    for (i, user) in users.iter().enumerate() {
        let res = api
            .post(
                "/api/notifications/devices",
                &user.token,
                &json!({"platform": "android", "token": format!("fcm-token-{i}-{}", Uuid::now_v7().simple())}),
            )
            .await;
        assert_eq!(res.status(), 201);
    }

    // Each round: events queued, and as soon as the provider has seen one more push, the
    // service is killed; the next life starts on the same database and queues.
    let started = Instant::now();
    let mut events = 0;
    for _ in 0..KILLS {
        let seen = pushes(&server).await.values().sum::<usize>();
        for n in 0..EVENTS_PER_ROUND {
            let user = &users[n % USERS];
            let event = common::events::Envelope::untyped(
                Service::Kyc,
                "kyc.approved",
                json!({"user_id": user.id, "submission_id": Uuid::now_v7(), "reviewed_by": Uuid::now_v7()}),
                clock.as_ref(),
            )
            .unwrap();
            service_kit::queue::enqueue_json(&redis, &keys.events(Service::Notifications), &event)
                .await
                .unwrap();
            events += 1;
        }
        testkit::wait_until(Duration::from_secs(30), "a push of this round", || async {
            pushes(&server).await.values().sum::<usize>() > seen
        })
        .await;
        kill9(&mut service);
        service = start(&db, &prefix, port, &provider);
        wait_ready(&client, port).await;
    }

    // Every notification made reaches its device (the effects sweep redoes, after its
    // grace period, what a kill between a commit and its push jobs left undone).
    let conn = db.connect().await;
    let made: Vec<String> = testkit::wait_for(
        Duration::from_secs(60),
        "a notification of every event",
        || async {
            let rows = notifications::store::entity::notification::Entity::find()
                .all(&conn)
                .await
                .unwrap();
            (rows.len() == events).then(|| rows.iter().map(|n| n.id.to_string()).collect())
        },
    )
    .await;
    testkit::wait_until(
        Duration::from_secs(60),
        "every notification pushed",
        || async {
            let got = pushes(&server).await;
            made.iter().all(|id| got.contains_key(id))
        },
    )
    .await;
    let got = pushes(&server).await;
    let doubled: usize = got.values().map(|n| n.saturating_sub(1)).sum();
    eprintln!(
        "notifications killed {KILLS} times: {events} notifications, all pushed after {:.1} s; \
         0 lost, {doubled} pushed twice (in flight at a kill)",
        started.elapsed().as_secs_f64()
    );
    kill9(&mut service);
}
