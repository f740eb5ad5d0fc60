//! What a service's black-box tests share: its base configuration ([`base_config`]), the
//! Redis pool, keys, test signing keys and manual clock set up around it ([`Backing`]),
//! running it until the test app is dropped ([`spawn_until_dropped`]), and a client of it
//! that mints users' tokens at the injected clock's "now" and calls it with them
//! ([`ApiClient`]). A service's `TestApp` holds an [`ApiClient`] and derefs to it, and
//! keeps its own helpers (its bodies, its events) itself.

use std::future::Future;
use std::sync::Arc;

use common::auth::{KycStatus, Role};
use common::clock::{Clock, ManualClock};
use common::keys::Keys;
use serde_json::Value;
use service_kit::config::BaseConfig;
use service_kit::redis::Pool;
use service_kit::shutdown::CancellationToken;
use uuid::Uuid;

use crate::{TestDb, TestKeys};

/// `service`'s base configuration for a test: port 0 on 127.0.0.1, `db`, the test Redis
/// under a unique prefix, the test issuer and audience, the temporary directory as data
/// directory, and 64 KiB bodies.
pub fn base_config(service: &'static str, db: &TestDb) -> BaseConfig {
    BaseConfig {
        service,
        host: "127.0.0.1".into(),
        port: 0,
        database_url: db.url.clone(),
        redis_url: crate::redis_url(),
        redis_prefix: crate::unique_prefix(),
        data_dir: std::env::temp_dir().display().to_string(),
        jwt_issuer: TestKeys::ISSUER.into(),
        jwt_audience: TestKeys::AUDIENCE.into(),
        trusted_proxies: vec![],
        max_body_bytes: 64 * 1024,
        redis_pool_size: 4,
        database_pool_size: None,
        task_stall: std::time::Duration::from_secs(60),
        event_signer: None,
        event_keyring: None,
    }
}

/// Stops what [`spawn_until_dropped`] runs when dropped.
pub struct Running(CancellationToken);

impl Running {
    /// Stops the service now (as SIGTERM would), not waiting for the drop.
    pub fn stop(&self) {
        self.0.cancel();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// Spawns `run(stop)` (a service's `run_until_stopped`), stopped when the returned
/// [`Running`] is dropped.
pub fn spawn_until_dropped<F, Fut>(run: F) -> Running
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    let stop = CancellationToken::new();
    tokio::spawn(run(stop.clone()));
    Running(stop)
}

/// A service built and running for a test, with what the test reaches it by.
pub struct Spawned<S> {
    /// Stops the service when dropped: keep it first in the test app.
    pub running: Running,
    /// Its port on 127.0.0.1.
    pub port: u16,
    pub api: ApiClient,
    pub redis: Pool,
    pub keys: Keys,
    /// The state its handlers use.
    pub state: S,
    /// Its background tasks (a test kills one).
    pub tasks: service_kit::tasks::Supervisor,
}

/// Builds a service with `build(clock)` on the test Redis under `redis_prefix` (with the
/// test's signing key published there and a manual clock starting now) and runs it until
/// the returned [`Spawned::running`] is dropped: every service's test app starts this way.
pub async fn spawn_service<S, F, Fut>(redis_prefix: &str, build: F) -> Spawned<S>
where
    S: Clone + Send + 'static,
    F: FnOnce(Arc<ManualClock>) -> Fut,
    Fut: Future<Output = anyhow::Result<service_kit::Running<S>>>,
{
    spawn_service_on(&crate::redis_url(), redis_prefix, build).await
}

/// [`spawn_service`] with the test's side (signing keys, the pool it hands back) on the
/// Redis at `redis_url` (a [`crate::RedisServer`] of the test's own, say): the service's
/// configuration must name the same.
pub async fn spawn_service_on<S, F, Fut>(
    redis_url: &str,
    redis_prefix: &str,
    build: F,
) -> Spawned<S>
where
    S: Clone + Send + 'static,
    F: FnOnce(Arc<ManualClock>) -> Fut,
    Fut: Future<Output = anyhow::Result<service_kit::Running<S>>>,
{
    let backing = Backing::on(redis_url, redis_prefix).await;
    let app = build(backing.clock.clone())
        .await
        .expect("build the service");
    let state = app.state().clone();
    let tasks = app.tasks().clone();
    let port = app.port();
    let (api, redis, keys) = backing.client(port);
    let running = spawn_until_dropped(|stop| app.run_until_stopped(stop));
    Spawned {
        running,
        port,
        api,
        redis,
        keys,
        state,
        tasks,
    }
}

/// A user of a test: an id, and a token carrying the role and KYC status.
pub struct User {
    pub id: Uuid,
    pub token: String,
    pub role: Role,
    pub kyc: KycStatus,
    /// The token's id (what a log-out blacklists).
    pub jti: Uuid,
}

/// What auth does when it suspends `user` (or logs them out everywhere): every token
/// issued before now is refused (`auth:revoked_before:{userId}`).
pub async fn suspend(redis: &Pool, keys: &Keys, user: &User) {
    use fred::prelude::KeysInterface;
    let () = redis
        .set(
            keys.revoked_before(user.id),
            i64::MAX / 2,
            None,
            None,
            false,
        )
        .await
        .expect("set the revoked-before marker");
}

/// What auth does when `user` logs out: the token's id is blacklisted until it expires.
pub async fn blacklist(redis: &Pool, keys: &Keys, user: &User) {
    use fred::prelude::KeysInterface;
    let () = redis
        .set(
            keys.blacklisted(&user.jti.to_string()),
            "1",
            Some(fred::types::Expiration::EX(900)),
            None,
            false,
        )
        .await
        .expect("blacklist the token");
}

/// What a test app sets up before it builds the service: a Redis pool, the keys under
/// the test's Redis prefix, the test's signing key published there, and a manual clock
/// starting now (to build the service with).
pub struct Backing {
    pub redis: Pool,
    pub keys: Keys,
    pub tokens: TestKeys,
    pub clock: Arc<ManualClock>,
}

impl Backing {
    pub async fn new(redis_prefix: &str) -> Self {
        Self::on(&crate::redis_url(), redis_prefix).await
    }

    /// [`Backing::new`] on the Redis at `redis_url`.
    pub async fn on(redis_url: &str, redis_prefix: &str) -> Self {
        let clock = ManualClock::starting_now();
        let redis = service_kit::redis::pool(redis_url, 2)
            .await
            .expect("connect to the test's Redis");
        let keys = Keys::new(redis_prefix);
        let tokens = TestKeys::publish(&redis, &keys).await;
        Self {
            redis,
            keys,
            tokens,
            clock,
        }
    }

    /// The client of the service listening on `port` of 127.0.0.1, signing with these
    /// keys at this clock; the Redis pool and keys go back to the test app.
    pub fn client(self, port: u16) -> (ApiClient, Pool, Keys) {
        let api = ApiClient::new(format!("http://127.0.0.1:{port}"), self.tokens, self.clock);
        (api, self.redis, self.keys)
    }
}

/// A client of the service under test: its address, an HTTP client, the test's signing
/// keys and the clock the service was built with.
pub struct ApiClient {
    pub address: String,
    pub client: reqwest::Client,
    pub tokens: TestKeys,
    pub clock: Arc<ManualClock>,
    /// The KYC status of [`seller`](Self::seller)'s and [`investor`](Self::investor)'s
    /// users.
    kyc: KycStatus,
}

impl ApiClient {
    /// A client whose sellers and investors have approved KYC.
    pub fn new(address: String, tokens: TestKeys, clock: Arc<ManualClock>) -> Self {
        Self {
            address,
            client: reqwest::Client::new(),
            tokens,
            clock,
            kyc: KycStatus::Approved,
        }
    }

    /// The KYC status [`seller`](Self::seller) and [`investor`](Self::investor) give
    /// their users (the KYC service's tests start from users without KYC).
    #[must_use]
    pub fn with_kyc(mut self, kyc: KycStatus) -> Self {
        self.kyc = kyc;
        self
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The service's `/metrics` (Prometheus text).
    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// A new user, with a token issued at the injected clock's "now" (the service checks
    /// expiry by that clock).
    pub fn user(&self, role: Role, kyc: KycStatus) -> User {
        self.token_for(Uuid::now_v7(), role, kyc)
    }

    /// A fresh token for `user` (after the clock moved past the old one's expiry).
    pub fn refreshed(&self, user: &User) -> User {
        self.token_for(user.id, user.role, user.kyc)
    }

    fn token_for(&self, id: Uuid, role: Role, kyc: KycStatus) -> User {
        let claims = self
            .tokens
            .signer
            .claims(id, role, kyc, Uuid::now_v7(), self.clock.now());
        User {
            id,
            token: self.tokens.sign(&claims),
            role,
            kyc,
            jti: claims.jti,
        }
    }

    /// A seller (with approved KYC unless [`with_kyc`](Self::with_kyc) said otherwise).
    pub fn seller(&self) -> User {
        self.user(Role::Seller, self.kyc)
    }

    /// An investor (with approved KYC unless [`with_kyc`](Self::with_kyc) said otherwise).
    pub fn investor(&self) -> User {
        self.user(Role::Investor, self.kyc)
    }

    pub fn admin(&self) -> User {
        self.user(Role::Admin, KycStatus::None)
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        send(self.client.get(self.url(path)), token, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        send(self.client.post(self.url(path)), token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        send(self.client.put(self.url(path)), token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        send(self.client.patch(self.url(path)), token, Some(body)).await
    }

    /// POST with `If-Match: "<version>"`: a decision on the version the test read.
    pub async fn post_at(
        &self,
        path: &str,
        token: &str,
        version: i64,
        body: &Value,
    ) -> reqwest::Response {
        self.at(reqwest::Method::POST, path, token, version, body)
            .await
    }

    /// PATCH with `If-Match: "<version>"`.
    pub async fn patch_at(
        &self,
        path: &str,
        token: &str,
        version: i64,
        body: &Value,
    ) -> reqwest::Response {
        self.at(reqwest::Method::PATCH, path, token, version, body)
            .await
    }

    async fn at(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        version: i64,
        body: &Value,
    ) -> reqwest::Response {
        let request = self
            .client
            .request(method, self.url(path))
            .header("if-match", service_kit::http::version::etag(version));
        send(request, token, Some(body)).await
    }
}

/// The `version` of a resource as the API showed it.
pub fn version_of(resource: &Value) -> i64 {
    resource["version"]
        .as_i64()
        .unwrap_or_else(|| panic!("no version in {resource}"))
}

/// Sends `request` with `token` as its bearer token and `body` (if any) as JSON.
async fn send(
    request: reqwest::RequestBuilder,
    token: &str,
    body: Option<&Value>,
) -> reqwest::Response {
    let request = request.bearer_auth(token);
    let request = match body {
        Some(body) => request.json(body),
        None => request,
    };
    request.send().await.unwrap()
}
