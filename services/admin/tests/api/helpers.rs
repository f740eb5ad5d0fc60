use std::ops::Deref;
use std::time::Duration;

use admin::AdminConfig;
use common::events::{Envelope, Event, Service};
use common::keys::Keys;
use secrecy::SecretString;
use serde_json::Value;
use service_kit::redis::Pool;
use testkit::api::{ApiClient, Running, Spawned, base_config, spawn_service};
use testkit::{DbKind, TestDb};

pub const DEADLINE: Duration = Duration::from_secs(20);

/// The chain key of every test app (at least 32 bytes).
pub const CHAIN_KEY: &str = "test chain key, not for production use";

#[allow(dead_code)]
pub struct TestApp {
    /// First, so the service is told to stop before anything else is dropped.
    _running: Running,
    pub api: ApiClient,
    pub keys: Keys,
    pub redis: Pool,
    pub db: TestDb,
    pub state: admin::state::AppState,
    pub admin: testkit::api::User,
}

impl Deref for TestApp {
    type Target = ApiClient;
    fn deref(&self) -> &ApiClient {
        &self.api
    }
}

pub async fn spawn_app(kind: DbKind) -> TestApp {
    let db = TestDb::new(kind).await;
    let mut config =
        AdminConfig::with_base(base_config("admin", &db), SecretString::from(CHAIN_KEY));
    // The tests copy the head themselves.
    config.head_copy_interval = Duration::from_secs(3600);
    let prefix = config.base.redis_prefix.clone();
    let Spawned {
        running,
        api,
        redis,
        keys,
        state,
        ..
    } = spawn_service(&prefix, |clock| admin::build(config.clone(), clock)).await;
    let admin = api.admin();
    TestApp {
        _running: running,
        api,
        keys,
        redis,
        db,
        state,
        admin,
    }
}

#[allow(dead_code)]
impl TestApp {
    /// The envelope of `event`, stamped now.
    pub fn envelope(&self, event: impl Into<Event>) -> Envelope {
        Envelope::of(event.into(), self.api.clock.as_ref()).unwrap()
    }

    /// Puts `envelope` on the admin service's queue, as a producer's relay would.
    pub async fn deliver(&self, envelope: &Envelope) {
        service_kit::queue::enqueue_json(&self.redis, &self.keys.events(Service::Admin), envelope)
            .await
            .unwrap();
    }

    /// Applies `envelope` as the consumer does, returning once it is committed and its
    /// after-commit work done (what "recorded" means to a reader).
    pub async fn apply(&self, envelope: &Envelope) -> service_kit::inbox::Handled {
        service_kit::inbox::StagedConsumer::new(
            self.state.db.clone(),
            admin::inbound::Effects::new(&self.state),
            self.state.clock.clone(),
        )
        .apply(envelope)
        .await
        .unwrap()
    }

    /// `GET /api/admin/audit?{query}` as the admin: the page.
    pub async fn search(&self, query: &str) -> Value {
        let r = self
            .get(&format!("/api/admin/audit?{query}"), &self.admin.token)
            .await;
        assert_eq!(r.status(), 200, "search {query}");
        r.json().await.unwrap()
    }

    /// The rows about `resource`, oldest first, once there are `n`.
    pub async fn rows_about(&self, resource: impl std::fmt::Display, n: usize) -> Vec<Value> {
        let query = format!("resource_id={resource}&limit=200");
        testkit::wait_for(DEADLINE, "the audit rows", || async {
            let page = self.search(&query).await;
            let mut items = page["items"].as_array().unwrap().clone();
            items.reverse();
            (items.len() >= n).then_some(items)
        })
        .await
    }

    /// `GET /api/admin/audit/verify` as the admin.
    pub async fn verify(&self) -> Value {
        let r = self.get("/api/admin/audit/verify", &self.admin.token).await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// Rows in the log (read from the database).
    pub async fn count(&self) -> u64 {
        use sea_orm::{EntityTrait, PaginatorTrait};
        admin::store::entity::audit_entry::Entity::find()
            .count(&self.state.db)
            .await
            .unwrap()
    }
}
