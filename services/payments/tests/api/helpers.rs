use std::ops::Deref;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::events::marketplace::{OfferChange, OfferChanged, OfferStatus};
use common::events::{Envelope, Event, OfferEvent, Service};
use common::ids::{InvoiceId, OfferId, UserId};
use common::keys::Keys;
use fred::prelude::ListInterface;
use payments::{PaymentsConfig, ProviderConfig};
use sandbox_provider::{Sandbox, SandboxConfig};
use secrecy::SecretString;
use serde_json::Value;
use service_kit::queue::Job;
use service_kit::redis::Pool;
use service_kit::webhooks::WebhookSecret;
use testkit::api::{ApiClient, Running, Spawned, User, base_config, spawn_service};
use testkit::{DbKind, TestDb};
use uuid::Uuid;

#[allow(dead_code)]
pub const DEADLINE: Duration = Duration::from_secs(20);

/// docs/pricing.md example 1: F, P and the fee, in kobo.
pub const FACE: i64 = 150_000_000;
pub const PRICE: i64 = 145_561_644;
pub const FEE: i64 = 1_500_000;

#[allow(dead_code)]
pub struct TestApp {
    /// First, so the service is told to stop before anything else is dropped.
    _running: Running,
    pub api: ApiClient,
    pub keys: Keys,
    pub redis: Pool,
    pub config: PaymentsConfig,
    pub db: TestDb,
    pub state: payments::state::AppState,
    pub sandbox: Sandbox,
    /// The sandbox's clock ([`TestApp::advance`] moves it with the service's).
    pub sandbox_clock: Arc<common::clock::ManualClock>,
    /// The secrets the sandbox signs with (the service accepts them all).
    pub secrets: Vec<WebhookSecret>,
}

impl Deref for TestApp {
    type Target = ApiClient;
    fn deref(&self) -> &ApiClient {
        &self.api
    }
}

#[allow(dead_code)]
pub async fn spawn_app() -> TestApp {
    spawn_app_with(DbKind::Postgres, |_| {}).await
}

/// The service on `kind` with a sandbox of its own: the sandbox's webhooks come to this
/// service's port.
pub async fn spawn_app_with(kind: DbKind, tweak: impl FnOnce(&mut PaymentsConfig)) -> TestApp {
    let db = TestDb::new(kind).await;
    let secrets = vec![WebhookSecret::generate()];
    let clock = common::clock::ManualClock::starting_now();
    let sandbox = Sandbox::start(
        SandboxConfig::for_tests(None, secrets.clone()),
        clock.clone(),
    )
    .await
    .expect("start the sandbox");
    let provider = ProviderConfig::Sandbox {
        url: sandbox.url(),
        secret_key: SecretString::from(sandbox.secret_key().to_owned()),
        webhook_secrets: secrets.clone(),
    };
    let mut config = PaymentsConfig::with_base(base_config("payments", &db), provider);
    config.sweep_interval = Duration::from_secs(3600);
    tweak(&mut config);
    let prefix = config.base.redis_prefix.clone();
    let Spawned {
        running,
        api,
        redis,
        keys,
        state,
        port,
        ..
    } = spawn_service(&prefix, |service_clock| {
        payments::build(config.clone(), service_clock)
    })
    .await;
    sandbox.set_webhook_url(Some(format!(
        "http://127.0.0.1:{port}/api/payments/webhooks/sandbox"
    )));
    TestApp {
        _running: running,
        api,
        keys,
        redis,
        config,
        db,
        state,
        sandbox,
        sandbox_clock: clock,
        secrets,
    }
}

/// An accepted offer of `investor` on an invoice of `seller`, priced as docs/pricing.md
/// example 1.
#[allow(dead_code)]
pub fn accepted(seller: &User, investor: &User) -> OfferChanged {
    let mut o = common::events::examples::offer(OfferStatus::Accepted, OfferChange::Accepted, None);
    o.offer_id = OfferId(Uuid::now_v7());
    o.invoice_id = InvoiceId(Uuid::now_v7());
    o.seller_id = UserId(seller.id);
    o.investor_id = UserId(investor.id);
    o.face_minor = FACE;
    o.price_minor = PRICE;
    o.fee_minor = FEE;
    o.net_proceeds_minor = PRICE - FEE;
    o
}

#[allow(dead_code)]
impl TestApp {
    /// Puts `event` on the payments service's own queue, as marketplace's relay would.
    pub async fn deliver(&self, event: impl Into<Event>) -> Envelope {
        let envelope = Envelope::of(event.into(), self.api.clock.as_ref()).unwrap();
        service_kit::queue::enqueue_json(
            &self.redis,
            &self.keys.events(Service::Payments),
            &envelope,
        )
        .await
        .unwrap();
        envelope
    }

    /// Delivers `o` as `offer.accepted` and waits until its financing is listed for
    /// `investor`; answers the financing.
    pub async fn open(&self, o: &OfferChanged, investor: &User) -> Value {
        self.deliver(OfferEvent::Accepted(o.clone())).await;
        let offer = o.offer_id.to_string();
        testkit::wait_for(DEADLINE, "the financing to open", || async {
            let list: Value = self
                .get("/api/payments/fundings", &investor.token)
                .await
                .json()
                .await
                .unwrap();
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["offer_id"] == offer.as_str())
                .cloned()
        })
        .await
    }

    /// The events waiting on `consumer`'s queue, oldest first.
    pub async fn events_on(&self, consumer: Service) -> Vec<Envelope> {
        let queue = self.keys.events(consumer);
        let raw: Vec<String> = self.redis.lrange(queue.as_str(), 0, -1).await.unwrap();
        raw.iter()
            .rev()
            .map(|r| Job::parse(&queue, r).unwrap().payload_as().unwrap())
            .collect()
    }

    /// The `payment.status_changed` payloads on the invoice service's queue.
    pub async fn payment_events(&self) -> Vec<common::events::payments::PaymentStatusChanged> {
        self.events_on(Service::Invoice)
            .await
            .into_iter()
            .filter_map(|e| match e.decode() {
                Ok(Event::Payments(common::events::PaymentEvent::StatusChanged(p))) => Some(p),
                _ => None,
            })
            .collect()
    }

    /// The financing `id` as `user` sees it (with a token minted now: tests move the
    /// clock past tokens' lives), or null.
    /// The `payment.status_changed` payloads on the invoice service's queue, once `done`
    /// holds for them (the relay sends after the commit: wait, do not assume).
    pub async fn payment_events_when(
        &self,
        what: &str,
        done: impl Fn(&[common::events::payments::PaymentStatusChanged]) -> bool,
    ) -> Vec<common::events::payments::PaymentStatusChanged> {
        testkit::wait_for(DEADLINE, what, || async {
            let events = self.payment_events().await;
            done(&events).then_some(events)
        })
        .await
    }

    /// The payloads of the `event_type` events on the invoice service's queue, once there
    /// are `n`.
    pub async fn invoice_events(&self, event_type: &str, n: usize) -> Vec<Value> {
        testkit::wait_for(DEADLINE, &format!("{n} {event_type}"), || async {
            let found: Vec<Value> = self
                .events_on(Service::Invoice)
                .await
                .into_iter()
                .filter(|e| e.event_type == event_type)
                .map(|e| e.payload)
                .collect();
            (found.len() >= n).then_some(found)
        })
        .await
    }

    pub async fn financing(&self, id: &str, user: &User) -> Value {
        let user = self.refreshed(user);
        let list: Value = self
            .get("/api/payments/fundings", &user.token)
            .await
            .json()
            .await
            .unwrap();
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    }

    pub async fn checkout(&self, financing: &str, investor: &User) -> reqwest::Response {
        let investor = self.refreshed(investor);
        self.api
            .client
            .post(self.url(&format!("/api/payments/fundings/{financing}/checkout")))
            .bearer_auth(&investor.token)
            .send()
            .await
            .unwrap()
    }

    /// Pays the sandbox checkout `reference` (its Pay button), `amount` or the whole.
    pub async fn pay(&self, reference: &str, amount: Option<i64>) {
        let body = match amount {
            Some(a) => serde_json::json!({ "amount": a }),
            None => serde_json::json!({}),
        };
        let res = reqwest::Client::new()
            .post(format!("{}/checkout/{reference}/pay", self.sandbox.url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "pay: {}", res.status());
    }

    /// Moves the service's and the sandbox's clocks on by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        self.api.clock.advance(by);
        self.sandbox_clock.advance(by);
    }

    /// A financing of `seller`'s accepted by a new investor and paid at the sandbox:
    /// (its id, the investor). The sandbox's webhook comes unless it is held back.
    pub async fn paid(&self, seller: &User) -> (String, User) {
        let investor = self.investor();
        let f = self.open(&accepted(seller, &investor), &investor).await;
        let id = f["id"].as_str().unwrap().to_owned();
        let checkout: Value = self.checkout(&id, &investor).await.json().await.unwrap();
        self.pay(checkout["reference"].as_str().unwrap(), None)
            .await;
        (id, investor)
    }

    /// `PUT /api/payments/payout-account` as `user` with `body`.
    pub async fn set_payout_account(&self, user: &User, body: &Value) -> reqwest::Response {
        self.api
            .put("/api/payments/payout-account", &user.token, body)
            .await
    }

    /// The admin's reconciliation report.
    pub async fn reconciliation(&self) -> Value {
        let admin = self.refreshed(&self.admin());
        self.get("/api/payments/reconciliation", &admin.token)
            .await
            .json()
            .await
            .unwrap()
    }

    pub async fn trial_balance(&self) -> Value {
        let admin = self.admin();
        self.get("/api/payments/ledger/trial-balance", &admin.token)
            .await
            .json()
            .await
            .unwrap()
    }

    /// The payout of financing `id` as `seller` sees it, once it exists.
    pub async fn payout(&self, id: &str, seller: &User) -> Option<Value> {
        let d: Value = self
            .get(
                &format!("/api/payments/fundings/{id}"),
                &self.refreshed(seller).token,
            )
            .await
            .json()
            .await
            .ok()?;
        d["payments"]
            .as_array()?
            .iter()
            .find(|p| p["kind"] == "payout")
            .cloned()
    }

    pub async fn wait_for_financing_status(
        &self,
        id: &str,
        investor: &User,
        status: &str,
    ) -> Value {
        testkit::wait_for(
            DEADLINE,
            &format!("financing {id} to be {status}"),
            || async {
                let f = self.financing(id, investor).await;
                (f["status"] == status).then_some(f)
            },
        )
        .await
    }
}

/// A `payments worker` process of the app's configuration, with a fixed worker id so a
/// replacement takes back the killed one's job at once.
#[allow(dead_code)]
pub fn worker(app: &TestApp) -> Child {
    let payments::ProviderConfig::Sandbox {
        url,
        webhook_secrets,
        ..
    } = &app.config.provider
    else {
        panic!("the tests run on the sandbox");
    };
    let secrets: Vec<String> = webhook_secrets.iter().map(|s| s.encode()).collect();
    Command::new(env!("CARGO_BIN_EXE_payments"))
        .arg("worker")
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("PAYMENTS_DATABASE_URL", &app.config.base.database_url)
        .env("REDIS_URL", &app.config.base.redis_url)
        .env("REDIS_PREFIX", &app.config.base.redis_prefix)
        .env("DATA_DIR", std::env::temp_dir())
        .env("PAYMENTS_PROVIDER", "sandbox")
        .env("SANDBOX_URL", url)
        .env("SANDBOX_SECRET_KEY", app.sandbox.secret_key())
        .env("SANDBOX_WEBHOOK_SECRETS", secrets.join(" "))
        .env("PAYMENTS_WORKER_ID", "settlements-under-test")
        .env(
            "PAYMENTS_SETTLEMENT_BATCH",
            app.config.settlement_batch.to_string(),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start payments worker")
}

/// SIGKILL (std's `Child::kill` on Unix): no chance to finish anything.
#[allow(dead_code)]
pub fn kill9(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}
