use std::sync::Arc;

use auth::AuthConfig;
use common::clock::ManualClock;
use common::keys::Keys;
use serde_json::{Value, json};
use service_kit::config::BaseConfig;
use service_kit::ratelimit::Quota;
use service_kit::redis::Pool;
use testkit::{DbKind, TestDb};

pub struct TestApp {
    /// Stops the service when dropped.
    _running: testkit::api::Running,
    pub address: String,
    pub client: reqwest::Client,
    pub keys: Keys,
    pub redis: Pool,
    pub clock: Arc<ManualClock>,
    pub config: AuthConfig,
    /// Kept for the test's length: the database goes with it.
    pub _db: TestDb,
    _dir: tempfile::TempDir,
}

/// Auth's configuration for a test: the shared test base (its own keys in `data_dir`,
/// generated at start: auth is the issuer, so it does not take the test signing key).
pub fn config(db: &TestDb, data_dir: &std::path::Path) -> AuthConfig {
    let base = BaseConfig {
        data_dir: data_dir.display().to_string(),
        max_body_bytes: 16 * 1024,
        ..testkit::api::base_config("auth", db)
    };
    AuthConfig {
        keys_dir: data_dir.join("keys"),
        generate_key: true,
        totp_key: None,
        totp_key_file: data_dir.join("keys").join("totp.key"),
        access_ttl_secs: 900,
        refresh_ttl_days: 30,
        login_failures: Quota {
            burst: 5,
            period: std::time::Duration::from_secs(900),
        },
        requests_per_ip: Quota {
            burst: 10_000,
            period: std::time::Duration::from_secs(60),
        },
        base,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(DbKind::Postgres, |_| {}).await
}

pub async fn spawn_app_with(kind: DbKind, tweak: impl FnOnce(&mut AuthConfig)) -> TestApp {
    let db = TestDb::new(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&db, dir.path());
    tweak(&mut config);
    let clock = ManualClock::starting_now();
    let app = auth::build(config.clone(), clock.clone())
        .await
        .expect("build app");
    let address = format!("http://127.0.0.1:{}", app.port());
    let running = testkit::api::spawn_until_dropped(|stop| app.run_until_stopped(stop));
    TestApp {
        _running: running,
        address,
        client: reqwest::Client::new(),
        keys: Keys::new(&config.base.redis_prefix),
        redis: testkit::redis_pool().await,
        clock,
        config,
        _db: db,
        _dir: dir,
    }
}

pub const PASSWORD: &str = "correct horse 42";

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_auth(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_auth(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Registers a user and returns its JSON.
    pub async fn register(&self, email: &str, role: &str) -> Value {
        let res = self
            .post(
                "/api/auth/register",
                &json!({"email": email, "password": PASSWORD, "role": role, "full_name": "Ada Obi"}),
            )
            .await;
        assert_eq!(res.status(), 201, "register {email}");
        res.json().await.unwrap()
    }

    /// Logs in and returns the token pair.
    pub async fn login(&self, email: &str) -> Value {
        let res = self
            .post(
                "/api/auth/login",
                &json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(res.status(), 200, "login {email}");
        res.json().await.unwrap()
    }

    /// A registered and logged-in user: (user, access token, refresh token).
    pub async fn user(&self, role: &str) -> (Value, String, String) {
        let email = format!("{}@example.com", uuid::Uuid::new_v4().simple());
        let user = self.register(&email, role).await;
        let tokens = self.login(&email).await;
        (
            user,
            tokens["access_token"].as_str().unwrap().to_owned(),
            tokens["refresh_token"].as_str().unwrap().to_owned(),
        )
    }

    /// An admin (created the way an operator does) and its access token.
    pub async fn admin(&self) -> (String, String) {
        let email = format!("admin-{}@example.com", uuid::Uuid::new_v4().simple());
        auth::cli::create_admin(&self.config, self.clock.clone(), &email, PASSWORD, "Root")
            .await
            .unwrap();
        let tokens = self.login(&email).await;
        (email, tokens["access_token"].as_str().unwrap().to_owned())
    }
}

pub use testkit::assert_problem;
