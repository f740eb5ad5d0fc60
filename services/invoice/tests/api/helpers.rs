use std::sync::Arc;
use std::time::Duration;

use common::auth::{KycStatus, Role};
use common::clock::ManualClock;
use common::config::BaseConfig;
use common::keys::Keys;
use common::redis::Pool;
use common::shutdown::CancellationToken;
use invoice::{Application, InvoiceConfig};
use serde_json::{Value, json};
use testkit::{DbKind, TestDb, TestKeys};
use uuid::Uuid;

#[allow(dead_code)]
pub const DEADLINE: Duration = Duration::from_secs(20);

#[allow(dead_code)]
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub keys: Keys,
    pub redis: Pool,
    pub clock: Arc<ManualClock>,
    pub config: InvoiceConfig,
    pub db: TestDb,
    pub tokens: TestKeys,
    pub state: invoice::state::AppState,
    stop: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

pub fn config(db: &TestDb) -> InvoiceConfig {
    InvoiceConfig {
        base: BaseConfig {
            service: "invoice",
            host: "127.0.0.1".into(),
            port: 0,
            database_url: db.url.clone(),
            redis_url: testkit::redis_url(),
            redis_prefix: testkit::unique_prefix(),
            data_dir: std::env::temp_dir().display().to_string(),
            jwt_issuer: TestKeys::ISSUER.into(),
            jwt_audience: TestKeys::AUDIENCE.into(),
            trusted_proxies: vec![],
            max_body_bytes: 64 * 1024,
        },
        max_amount_minor: 100_000_000_000,
        min_days_ahead: 7,
        overdue_grace_days: 3,
        default_grace_days: 90,
        sweep_interval: Duration::from_secs(3600),
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(DbKind::Postgres, |_| {}).await
}

pub async fn spawn_app_with(kind: DbKind, tweak: impl FnOnce(&mut InvoiceConfig)) -> TestApp {
    let db = TestDb::new(kind).await;
    let mut config = config(&db);
    tweak(&mut config);
    let clock = ManualClock::starting_now();
    let redis = testkit::redis_pool().await;
    let keys = Keys::new(&config.base.redis_prefix);
    let tokens = TestKeys::publish(&redis, &keys).await;
    let app = Application::build(config.clone(), clock.clone())
        .await
        .expect("build app");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    let stop = CancellationToken::new();
    tokio::spawn(app.run_until_stopped(stop.clone()));
    TestApp {
        address,
        client: reqwest::Client::new(),
        keys,
        redis,
        clock,
        config,
        db,
        tokens,
        state,
        stop,
    }
}

pub struct User {
    pub id: Uuid,
    pub token: String,
}

/// A valid new invoice body; `n` makes the number unique.
pub fn invoice_body(n: u32) -> Value {
    let today = chrono::Utc::now().date_naive();
    json!({
        "invoice_number": format!("INV-{n:04}"),
        "debtor": {"name": "Dangote Cement Plc", "email": "ap@dangote.example"},
        "amount": "1500000.00",
        "issue_date": (today - chrono::Days::new(10)).to_string(),
        "due_date": (today + chrono::Days::new(60)).to_string(),
        "description": "Cement supplied in October",
    })
}

#[allow(dead_code)]
impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn user(&self, role: Role, kyc: KycStatus) -> User {
        let id = Uuid::now_v7();
        User {
            id,
            token: self.tokens.token(id, role, kyc),
        }
    }

    /// A seller with approved KYC.
    pub fn seller(&self) -> User {
        self.user(Role::Seller, KycStatus::Approved)
    }

    pub fn investor(&self) -> User {
        self.user(Role::Investor, KycStatus::Approved)
    }

    pub fn admin(&self) -> User {
        self.user(Role::Admin, KycStatus::None)
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .patch(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Creates a draft and returns its JSON.
    pub async fn draft(&self, seller: &User, n: u32) -> Value {
        let res = self
            .post("/api/invoices", &seller.token, &invoice_body(n))
            .await;
        assert_eq!(res.status(), 201, "create draft");
        res.json().await.unwrap()
    }

    /// Moves an invoice through `path` (`submit`, `verify`, ...) and returns its JSON.
    pub async fn act(&self, id: &str, action: &str, token: &str) -> Value {
        let body = if action == "reject" {
            json!({"reason": "The debtor's tax id does not match."})
        } else {
            json!({})
        };
        let res = self
            .post(&format!("/api/invoices/{id}/{action}"), token, &body)
            .await;
        assert_eq!(res.status(), 200, "{action}");
        res.json().await.unwrap()
    }

    /// A listed invoice of `seller`'s.
    pub async fn listed(&self, seller: &User, n: u32) -> Value {
        let d = self.draft(seller, n).await;
        let id = d["id"].as_str().unwrap().to_owned();
        self.act(&id, "submit", &seller.token).await;
        self.act(&id, "verify", &self.admin().token).await
    }

    pub async fn search(&self, query: &str, token: &str) -> Value {
        let res = self.get(&format!("/api/invoices?{query}"), token).await;
        assert_eq!(res.status(), 200, "search {query}");
        res.json().await.unwrap()
    }
}

/// Asserts a problem+json answer with `status`, and returns its body.
pub async fn assert_problem(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status(), status, "status");
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(
        ct.starts_with("application/problem+json"),
        "content-type {ct:?}"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], status);
    body
}
