use std::ops::Deref;
use std::time::Duration;

use common::events::{Envelope, Service};
use common::ids::{InvoiceId, OfferId, PaymentId, UserId};
use common::keys::Keys;
use fred::prelude::{KeysInterface, ListInterface};
use invoice::InvoiceConfig;
use serde_json::{Value, json};
use service_kit::queue::Job;
use service_kit::redis::Pool;
use testkit::api::{ApiClient, Running, Spawned, base_config, spawn_service};
use testkit::{DbKind, TestDb};
use uuid::Uuid;

pub use testkit::api::User;

#[allow(dead_code)]
pub const DEADLINE: Duration = Duration::from_secs(20);

#[allow(dead_code)]
pub struct TestApp {
    /// First, so the service is told to stop before anything else is dropped.
    _running: Running,
    /// The address, HTTP client, signing keys and clock, and users and calls with them.
    pub api: ApiClient,
    pub keys: Keys,
    pub redis: Pool,
    pub config: InvoiceConfig,
    pub db: TestDb,
    pub state: invoice::state::AppState,
    /// The service's background tasks (a test kills one).
    pub tasks: service_kit::tasks::Supervisor,
}

impl Deref for TestApp {
    type Target = ApiClient;

    fn deref(&self) -> &ApiClient {
        &self.api
    }
}

pub fn config(db: &TestDb) -> InvoiceConfig {
    InvoiceConfig {
        max_amount_minor: 100_000_000_000,
        sweep_interval: Duration::from_secs(3600),
        ..InvoiceConfig::with_base(base_config("invoice", db))
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(DbKind::Postgres, |_| {}).await
}

pub async fn spawn_app_with(kind: DbKind, tweak: impl FnOnce(&mut InvoiceConfig)) -> TestApp {
    let db = TestDb::new(kind).await;
    let mut config = config(&db);
    tweak(&mut config);
    let prefix = config.base.redis_prefix.clone();
    let Spawned {
        running,
        api,
        redis,
        keys,
        state,
        tasks,
        ..
    } = spawn_service(&prefix, |clock| invoice::build(config.clone(), clock)).await;
    TestApp {
        _running: running,
        api,
        keys,
        redis,
        config,
        db,
        state,
        tasks,
    }
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
        // At the version as it is now (what the actor read).
        let version = testkit::api::version_of(&self.invoice(id.parse().unwrap()).await);
        let res = self
            .post_at(
                &format!("/api/invoices/{id}/{action}"),
                token,
                version,
                &body,
            )
            .await;
        assert_eq!(res.status(), 200, "{action}");
        res.json().await.unwrap()
    }

    /// `PATCH /api/invoices/{id}` as `token`'s user, at the version as it is now.
    pub async fn edit(&self, id: &str, token: &str, body: &Value) -> reqwest::Response {
        let version = testkit::api::version_of(&self.invoice(id.parse().unwrap()).await);
        self.patch_at(&format!("/api/invoices/{id}"), token, version, body)
            .await
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

/// [`invoice_body`] with the top-level fields of `changes` replaced.
pub fn invoice_body_with(n: u32, changes: Value) -> Value {
    let mut body = invoice_body(n);
    for (k, v) in changes.as_object().expect("changes is an object") {
        body[k] = v.clone();
    }
    body
}

/// The id of an invoice's JSON.
pub fn id_of(invoice: &Value) -> Uuid {
    invoice["id"].as_str().unwrap().parse().unwrap()
}

/// Marketplace's `offer.reserved` for `invoice_id` (a new offer and investor each time).
pub fn offer_reserved(app: &TestApp, invoice_id: Uuid) -> Envelope {
    use common::events::marketplace::{OfferChange, OfferChanged, OfferStatus};
    let offer = OfferChanged {
        offer_id: OfferId(Uuid::now_v7()),
        invoice_id: InvoiceId(invoice_id),
        investor_id: UserId(Uuid::now_v7()),
        ..common::events::examples::offer(OfferStatus::Reserved, OfferChange::Reserved, None)
    };
    Envelope::of(
        common::events::OfferEvent::Reserved(offer),
        app.clock.as_ref(),
    )
    .unwrap()
}

/// Payments' `payment.status_changed` for `invoice_id`.
/// Payments' `payment.status_changed` of `kind` and `status` (the contract's names) about
/// `invoice_id`; a repayment leaves nothing outstanding.
pub fn payment_changed(app: &TestApp, invoice_id: Uuid, kind: &str, status: &str) -> Envelope {
    payment_with(
        app,
        invoice_id,
        kind,
        status,
        (kind == "repayment").then_some(0),
    )
}

/// [`payment_changed`] saying `outstanding` minor units are still due.
pub fn payment_with(
    app: &TestApp,
    invoice_id: Uuid,
    kind: &str,
    status: &str,
    outstanding: Option<i64>,
) -> Envelope {
    use common::events::payments::PaymentStatusChanged;
    let p = PaymentStatusChanged {
        payment_id: PaymentId(Uuid::now_v7()),
        kind: kind.parse().expect("a payment kind"),
        status: status.parse().expect("a payment status"),
        invoice_id: InvoiceId(invoice_id),
        offer_id: OfferId(Uuid::now_v7()),
        investor_id: UserId(Uuid::now_v7()),
        seller_id: UserId(Uuid::now_v7()),
        amount_minor: 150_000_000,
        currency: common::money::Currency::NGN,
        outstanding_minor: outstanding,
        refund_to: None,
    };
    Envelope::of(
        common::events::PaymentEvent::StatusChanged(p),
        app.clock.as_ref(),
    )
    .unwrap()
}

/// Payments' `settlement.completed` for `kind` (`seller` or `investor`) of `invoice_id`.
pub fn settlement_completed(app: &TestApp, invoice_id: Uuid, kind: &str) -> Envelope {
    use common::events::payments::SettlementCompleted;
    let s = SettlementCompleted {
        invoice_id: InvoiceId(invoice_id),
        offer_id: OfferId(Uuid::now_v7()),
        kind: kind.parse().expect("a settlement kind"),
        amount_minor: 150_000_000,
        currency: common::money::Currency::NGN,
        seller_id: UserId(Uuid::now_v7()),
        investor_id: UserId(Uuid::now_v7()),
    };
    Envelope::of(
        common::events::PaymentEvent::SettlementCompleted(s),
        app.clock.as_ref(),
    )
    .unwrap()
}

#[allow(dead_code)]
impl TestApp {
    /// Creates a draft from `body` and returns its JSON.
    pub async fn draft_from(&self, seller: &User, body: &Value) -> Value {
        let res = self.post("/api/invoices", &seller.token, body).await;
        assert_eq!(res.status(), 201, "create draft {body}");
        res.json().await.unwrap()
    }

    /// The invoice as an admin sees it now (uncached).
    pub async fn invoice(&self, id: Uuid) -> Value {
        let res = self
            .get(&format!("/api/invoices/{id}"), &self.admin().token)
            .await;
        assert_eq!(res.status(), 200, "get invoice {id}");
        res.json().await.unwrap()
    }

    /// The invoice's status history, oldest first, as an admin sees it.
    pub async fn history(&self, id: Uuid) -> Vec<Value> {
        let res = self
            .get(&format!("/api/invoices/{id}/history"), &self.admin().token)
            .await;
        assert_eq!(res.status(), 200, "history of {id}");
        res.json().await.unwrap()
    }

    /// Waits until the invoice is in `status`.
    pub async fn wait_for_status(&self, id: Uuid, status: &str) {
        testkit::wait_until(
            DEADLINE,
            &format!("invoice {id} to be {status}"),
            || async { self.invoice(id).await["status"] == status },
        )
        .await;
    }

    /// Puts `event` on the invoice service's own queue, as a producer's relay would.
    pub async fn deliver(&self, event: &Envelope) {
        service_kit::queue::enqueue_json(&self.redis, &self.keys.events(Service::Invoice), event)
            .await
            .unwrap();
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

    /// Waits until an event of `event_type` about `invoice_id` is on `consumer`'s queue.
    pub async fn wait_for_event(
        &self,
        consumer: Service,
        event_type: &str,
        invoice_id: Uuid,
    ) -> Envelope {
        testkit::wait_for(
            DEADLINE,
            &format!("{event_type} for {invoice_id} on events:{consumer}"),
            || async {
                self.events_on(consumer).await.into_iter().find(|e| {
                    e.event_type == event_type && e.payload["invoice_id"] == invoice_id.to_string()
                })
            },
        )
        .await
    }

    /// A listed invoice with an accepted offer, funded by payments' event.
    pub async fn funded(&self, seller: &User, n: u32) -> Uuid {
        let id = id_of(&self.listed(seller, n).await);
        self.deliver(&offer_reserved(self, id)).await;
        self.wait_for_status(id, "accepted").await;
        self.deliver(&payment_changed(self, id, "funding", "succeeded"))
            .await;
        self.wait_for_status(id, "funded").await;
        id
    }

    /// The cached search results under this app's prefix (`search:invoices:*`).
    pub async fn search_cache_keys(&self) -> Vec<String> {
        testkit::keys_matching(&self.redis, &self.keys.invoice_search("*")).await
    }

    /// A cache scope's generation (`invoice::outbound::CACHE_SCOPE`, `LISTED_SCOPE`,
    /// `seller_scope(id)`).
    pub async fn cache_generation(&self, scope: &str) -> u64 {
        self.state.cache.generation(scope).await.unwrap()
    }

    /// The bytes of a cached entry (tagged `{generation}\n`).
    pub async fn cached(&self, key: &str) -> Option<Vec<u8>> {
        self.redis.get(key).await.unwrap()
    }

    /// A search's body, byte for byte (asserting a 200).
    pub async fn search_bytes(&self, query: &str, token: &str) -> Vec<u8> {
        let res = self.get(&format!("/api/invoices?{query}"), token).await;
        assert_eq!(res.status(), 200, "search {query}");
        res.bytes().await.unwrap().to_vec()
    }

    /// The invoice numbers of a search's items, in order.
    pub async fn search_numbers(&self, query: &str, token: &str) -> Vec<String> {
        numbers(&self.search(query, token).await)
    }
}

/// The history as (from, to, actor) triples.
pub async fn steps(app: &TestApp, id: Uuid) -> Vec<(Value, Value, Value)> {
    app.history(id)
        .await
        .iter()
        .map(|h| (h["from"].clone(), h["to"].clone(), h["actor"].clone()))
        .collect()
}

/// The events on `consumer`'s queue of `event_type` about `invoice_id`.
pub async fn events_about(
    app: &TestApp,
    consumer: Service,
    event_type: &str,
    invoice_id: Uuid,
) -> Vec<Envelope> {
    app.events_on(consumer)
        .await
        .into_iter()
        .filter(|e| e.event_type == event_type && e.payload["invoice_id"] == invoice_id.to_string())
        .collect()
}

/// The invoice numbers of a search page's items, in order.
pub fn numbers(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["invoice_number"].as_str().unwrap().to_owned())
        .collect()
}

/// The fields a 422 names.
pub fn fields_named(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

pub use testkit::assert_problem;
