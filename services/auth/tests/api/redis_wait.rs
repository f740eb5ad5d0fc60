//! Redis loading its dataset (a restart with a large AOF) or not there yet: the service
//! waits instead of dying, answers its probes meanwhile (alive, not ready), refuses
//! requests with a 503 the client may retry, and serves as soon as Redis does. The Redis
//! here is a real one kept in its LOADING phase (testkit's `RedisServer::start_loading`).

use std::time::Duration;

use auth::{Application, AuthConfig};
use common::clock::ManualClock;
use serde_json::{Value, json};
use service_kit::shutdown::CancellationToken;
use testkit::{DbKind, RedisServer, TestDb, wait_until};

use crate::helpers::{PASSWORD, config};

const DEADLINE: Duration = Duration::from_secs(30);

struct Probe {
    client: reqwest::Client,
    address: String,
}

impl Probe {
    fn new(port: u16) -> Self {
        Self {
            client: reqwest::Client::new(),
            address: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn status(&self, path: &str) -> Option<u16> {
        let res = self
            .client
            .get(format!("{}{path}", self.address))
            .send()
            .await;
        res.ok().map(|r| r.status().as_u16())
    }

    async fn readyz(&self) -> (u16, Value) {
        let res = self
            .client
            .get(format!("{}/readyz", self.address))
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }

    async fn register(&self, email: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/api/auth/register", self.address))
            .json(&json!({"email": email, "password": PASSWORD, "role": "seller", "full_name": "Ada Obi"}))
            .send()
            .await
            .unwrap()
    }

    async fn login(&self, email: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/api/auth/login", self.address))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap()
    }

    /// Waits for the service `build` is starting, runs it, and waits until it is ready;
    /// the token stops it.
    async fn serve_once_built(
        &self,
        build: tokio::task::JoinHandle<anyhow::Result<Application>>,
    ) -> CancellationToken {
        let app = tokio::time::timeout(DEADLINE, build)
            .await
            .expect("the service starts once Redis serves")
            .unwrap()
            .expect("build succeeds");
        let stop = CancellationToken::new();
        tokio::spawn(app.run_until_stopped(stop.clone()));
        self.wait_ready().await;
        stop
    }

    /// Until `/readyz` answers 200.
    async fn wait_ready(&self) {
        wait_until(DEADLINE, "/readyz 200", || async {
            self.status("/readyz").await == Some(200)
        })
        .await;
    }
}

/// A 503 problem with `Retry-After`, the answer a client may retry.
async fn assert_retry_later(res: reqwest::Response) {
    assert_eq!(res.status(), 503);
    let retry_after = res
        .headers()
        .get("retry-after")
        .expect("a 503 says when to retry")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(retry_after.parse::<u64>().unwrap() >= 1);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], 503);
}

async fn config_for(db: &TestDb, dir: &std::path::Path, redis: &RedisServer) -> AuthConfig {
    let mut config = config(db, dir);
    config.base.redis_url = redis.url();
    // The test must reach the service before `build` returns, so it chooses the port.
    config.base.port = testkit::spare_port();
    config
}

#[tokio::test]
async fn a_service_started_while_redis_loads_waits_answers_its_probes_and_serves_once_redis_does() {
    let redis = RedisServer::start_loading();
    let db = TestDb::new(DbKind::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(&db, dir.path(), &redis).await;
    let probe = Probe::new(config.base.port);
    let build = tokio::spawn(auth::build(config, ManualClock::starting_now()));

    // Alive, not ready, and saying why.
    wait_until(DEADLINE, "/healthz 200 while Redis loads", || async {
        probe.status("/healthz").await == Some(200)
    })
    .await;
    wait_until(DEADLINE, "/readyz naming Redis's loading", || async {
        probe.readyz().await.1["redis"] == "loading"
    })
    .await;
    let (status, body) = probe.readyz().await;
    assert_eq!(status, 503);
    assert_eq!(body["status"], "starting");
    assert_retry_later(probe.register("early@example.com").await).await;
    // All of the above happened while Redis was still loading, and the service waited.
    assert!(redis.is_loading());
    assert!(!build.is_finished(), "the service must wait, not exit");

    redis.finish_loading();
    let stop = probe.serve_once_built(build).await;
    assert_eq!(probe.register("ada@example.com").await.status(), 201);
    assert_eq!(probe.login("ada@example.com").await.status(), 200);
    stop.cancel();
}

#[tokio::test]
async fn a_service_whose_redis_restarts_and_loads_answers_503_meanwhile_and_recovers() {
    let redis = RedisServer::start_loading();
    redis.finish_loading();
    let db = TestDb::new(DbKind::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&db, dir.path());
    config.base.redis_url = redis.url();
    let app = auth::build(config, ManualClock::starting_now())
        .await
        .unwrap();
    let probe = Probe::new(app.port());
    let stop = CancellationToken::new();
    tokio::spawn(app.run_until_stopped(stop.clone()));
    let mut redis = redis;
    assert_eq!(probe.register("ada@example.com").await.status(), 201);

    redis.restart_loading();
    // The pool reconnects, and its connection set-up is refused while Redis loads: to the
    // service Redis is down (or loading) until the load is done.
    wait_until(DEADLINE, "/readyz 503 naming Redis", || async {
        let (status, body) = probe.readyz().await;
        status == 503 && (body["redis"] == "down" || body["redis"] == "loading")
    })
    .await;
    // A request that needs Redis (the login rate limit) is a 503 to retry, not a 500.
    assert_retry_later(probe.login("ada@example.com").await).await;
    assert!(redis.is_loading());

    redis.finish_loading();
    probe.wait_ready().await;
    wait_until(DEADLINE, "a login once Redis serves", || async {
        probe.login("ada@example.com").await.status() == 200
    })
    .await;
    stop.cancel();
}

#[tokio::test]
async fn a_service_started_before_redis_is_up_waits_and_serves_once_it_is() {
    let mut redis = RedisServer::not_started();
    let db = TestDb::new(DbKind::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(&db, dir.path(), &redis).await;
    let probe = Probe::new(config.base.port);
    let build = tokio::spawn(auth::build(config, ManualClock::starting_now()));

    wait_until(DEADLINE, "/readyz naming Redis down", || async {
        probe.status("/readyz").await == Some(503) && probe.readyz().await.1["redis"] == "down"
    })
    .await;
    assert_eq!(probe.status("/healthz").await, Some(200));
    assert_retry_later(probe.register("early@example.com").await).await;
    assert!(!build.is_finished(), "the service must wait, not exit");

    redis.spawn();
    let stop = probe.serve_once_built(build).await;
    assert_eq!(probe.register("ada@example.com").await.status(), 201);
    stop.cancel();
}
