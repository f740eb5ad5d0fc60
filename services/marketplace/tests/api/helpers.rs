use std::ops::Deref;
use std::time::Duration;

use common::clock::Clock;
use common::events::{Envelope, Service};
use common::keys::Keys;
use fred::prelude::ListInterface;
use marketplace::MarketplaceConfig;
use marketplace::domain::pricing::Rate;
use serde_json::{Value, json};
use service_kit::queue::Job;
use service_kit::redis::Pool;
use testkit::api::{ApiClient, Running, Spawned, base_config, spawn_service, spawn_until_dropped};
use testkit::{DbKind, TestDb};
use uuid::Uuid;

pub use testkit::api::User;

pub const DEADLINE: Duration = Duration::from_secs(20);

#[allow(dead_code)]
pub struct TestApp {
    /// First, so the service is told to stop before anything else is dropped.
    _running: Running,
    /// The address, HTTP client, signing keys and clock, and users and calls with them.
    pub api: ApiClient,
    pub keys: Keys,
    pub redis: Pool,
    pub config: MarketplaceConfig,
    pub db: TestDb,
    pub state: marketplace::state::AppState,
}

impl Deref for TestApp {
    type Target = ApiClient;

    fn deref(&self) -> &ApiClient {
        &self.api
    }
}

pub fn config(db: &TestDb) -> MarketplaceConfig {
    MarketplaceConfig {
        base: base_config("marketplace", db),
        max_rate: Rate::from_millionths(60 * 10_000),
        min_rate: None,
        min_days_to_due: 7,
        fee_bps: 100,
        max_active_offers: 20,
        default_offer_hours: 72,
        max_offer_hours: 168,
        sweep_interval: Duration::from_secs(3600),
        reservation_timeout: Duration::from_secs(300),
        offer_batch: 64,
        offer_writers: 4,
    }
}

#[allow(dead_code)]
pub async fn spawn_app() -> TestApp {
    spawn_app_with(DbKind::Postgres, |_| {}).await
}

pub async fn spawn_app_with(kind: DbKind, tweak: impl FnOnce(&mut MarketplaceConfig)) -> TestApp {
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
        ..
    } = spawn_service(&prefix, |clock| marketplace::build(config.clone(), clock)).await;
    TestApp {
        _running: running,
        api,
        keys,
        redis,
        config,
        db,
        state,
    }
}

/// A second instance of the service on the same database, Redis prefix and clock.
pub struct Instance {
    pub address: String,
    _running: Running,
}

#[allow(dead_code)]
impl TestApp {
    pub async fn another_instance(&self) -> Instance {
        let app = marketplace::build(self.config.clone(), self.clock.clone())
            .await
            .expect("build second instance");
        let address = format!("http://127.0.0.1:{}", app.port());
        let running = spawn_until_dropped(|stop| app.run_until_stopped(stop));
        Instance {
            address,
            _running: running,
        }
    }

    /// Puts `event` on marketplace's own queue, as a producer's relay would.
    pub async fn deliver(&self, event: &Envelope) {
        service_kit::queue::enqueue_json(
            &self.redis,
            &self.keys.events(Service::Marketplace),
            event,
        )
        .await
        .unwrap();
    }

    /// An invoice event with its terms, as the invoice service writes it.
    pub fn invoice_event(
        &self,
        event_type: &str,
        invoice: &Invoice,
        from: &str,
        to: &str,
    ) -> Envelope {
        Envelope::untyped(
            Service::Invoice,
            event_type,
            json!({
                "invoice_id": invoice.id,
                "seller_id": invoice.seller_id,
                "invoice_number": "INV-0001",
                "debtor_name": "Dangote Cement Plc",
                "amount": invoice.amount,
                "amount_minor": invoice.amount_minor,
                "currency": "NGN",
                "due_date": invoice.due_date,
                "from": from,
                "to": to,
                "reason": null,
                "actor": "admin",
                "actor_id": null,
            }),
            self.clock.as_ref(),
        )
        .unwrap()
    }

    /// Lists an invoice of `seller`'s (₦1,500,000.00) due in `days` days, and waits until
    /// the listing exists.
    pub async fn listed_in(&self, seller: &User, days: u64) -> Invoice {
        let invoice = Invoice {
            id: Uuid::now_v7(),
            seller_id: seller.id,
            amount: "1500000.00".into(),
            amount_minor: 150_000_000,
            due_date: self.clock.now().date_naive() + chrono::Days::new(days),
        };
        let listed = self.invoice_event("invoice.listed", &invoice, "submitted", "listed");
        self.deliver(&listed).await;
        self.wait_for_listing(invoice.id, "listed").await;
        invoice
    }

    pub async fn listed(&self, seller: &User) -> Invoice {
        self.listed_in(seller, 60).await
    }

    /// The listing as an admin sees it.
    pub async fn listing(&self, id: Uuid) -> Option<Value> {
        let res = self
            .get(
                &format!("/api/marketplace/invoices/{id}"),
                &self.admin().token,
            )
            .await;
        if res.status() == 404 {
            return None;
        }
        assert_eq!(res.status(), 200);
        Some(res.json().await.unwrap())
    }

    pub async fn wait_for_listing(&self, id: Uuid, status: &str) {
        testkit::wait_until(DEADLINE, &format!("listing {id} {status}"), || async {
            self.listing(id)
                .await
                .is_some_and(|l| l["status"] == status)
        })
        .await;
    }

    /// Makes an offer (asserting 201) and returns it.
    pub async fn offer(&self, investor: &User, invoice: &Invoice, rate: &str) -> Value {
        let res = self
            .post(
                "/api/marketplace/offers",
                &investor.token,
                &json!({"invoice_id": invoice.id, "discount_rate": rate}),
            )
            .await;
        assert_eq!(res.status(), 201, "offer at {rate}");
        res.json().await.unwrap()
    }

    /// The offer as an admin sees it.
    pub async fn offer_now(&self, id: &Value) -> Value {
        let id = id.as_str().unwrap();
        let res = self
            .get(
                &format!("/api/marketplace/offers/{id}"),
                &self.admin().token,
            )
            .await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    pub async fn wait_for_offer(&self, id: &Value, status: &str) -> Value {
        testkit::wait_for(DEADLINE, &format!("offer {id} {status}"), || async {
            let o = self.offer_now(id).await;
            (o["status"] == status).then_some(o)
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

    /// The events of `event_type` about `offer_id` on `consumer`'s queue.
    pub async fn events_about(
        &self,
        consumer: Service,
        event_type: &str,
        offer_id: &Value,
    ) -> Vec<Envelope> {
        self.events_on(consumer)
            .await
            .into_iter()
            .filter(|e| e.event_type == event_type && &e.payload["offer_id"] == offer_id)
            .collect()
    }

    pub async fn wait_for_event(
        &self,
        consumer: Service,
        event_type: &str,
        offer_id: &Value,
    ) -> Envelope {
        testkit::wait_for(
            DEADLINE,
            &format!("{event_type} for {offer_id} on events:{consumer}"),
            || async {
                self.events_about(consumer, event_type, offer_id)
                    .await
                    .into_iter()
                    .next()
            },
        )
        .await
    }

    /// The invoice service's answer to `offer.reserved`.
    pub fn answer(&self, event_type: &str, offer: &Value, status: Option<&str>) -> Envelope {
        let mut payload = json!({
            "offer_id": offer["id"],
            "invoice_id": offer["invoice_id"],
            "investor_id": offer["investor_id"],
            "seller_id": offer["seller_id"],
        });
        if let Some(s) = status {
            payload["status"] = json!(s);
        }
        Envelope::untyped(Service::Invoice, event_type, payload, self.clock.as_ref()).unwrap()
    }

    /// Accepts `offer` as `seller` (asserting 202).
    pub async fn accept(&self, seller: &User, offer: &Value) -> Value {
        let id = offer["id"].as_str().unwrap();
        let res = self
            .post_at(
                &format!("/api/marketplace/offers/{id}/accept"),
                &seller.token,
                testkit::api::version_of(offer),
                &json!({}),
            )
            .await;
        assert_eq!(res.status(), 202, "accept");
        res.json().await.unwrap()
    }
}

/// An invoice as the tests' stand-in invoice service describes it.
#[derive(Debug, Clone)]
pub struct Invoice {
    pub id: Uuid,
    pub seller_id: Uuid,
    pub amount: String,
    pub amount_minor: i64,
    pub due_date: chrono::NaiveDate,
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
