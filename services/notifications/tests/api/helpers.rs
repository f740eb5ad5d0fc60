use std::ops::Deref;
use std::time::Duration;

use common::events::{Envelope, Service};
use common::keys::Keys;
use futures::{SinkExt, StreamExt};
use notifications::NotificationsConfig;
use notifications::jobs::push::Provider;
use serde_json::{Value, json};
use service_kit::config::BaseConfig;
use service_kit::redis::Pool;
use testkit::api::{ApiClient, Running, Spawned, base_config, spawn_service_on};
use testkit::{DbKind, TestDb};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

pub use testkit::api::User;

pub const DEADLINE: Duration = Duration::from_secs(20);

#[allow(dead_code)]
pub struct TestApp {
    /// First, so the service is told to stop before anything else is dropped.
    pub running: Running,
    pub api: ApiClient,
    pub keys: Keys,
    pub redis: Pool,
    pub config: NotificationsConfig,
    pub db: TestDb,
    pub state: notifications::state::AppState,
    pub port: u16,
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

#[allow(dead_code)]
pub async fn spawn_app_with(kind: DbKind, tweak: impl FnOnce(&mut NotificationsConfig)) -> TestApp {
    spawn_app_full(
        kind,
        tweak,
        std::sync::Arc::new(notifications::jobs::push::LogProvider),
    )
    .await
}

pub async fn spawn_app_full(
    kind: DbKind,
    tweak: impl FnOnce(&mut NotificationsConfig),
    provider: std::sync::Arc<dyn Provider>,
) -> TestApp {
    spawn_app_at(&testkit::redis_url(), kind, tweak, provider).await
}

/// The app on the Redis at `redis_url` (a server of the test's own).
pub async fn spawn_app_at(
    redis_url: &str,
    kind: DbKind,
    tweak: impl FnOnce(&mut NotificationsConfig),
    provider: std::sync::Arc<dyn Provider>,
) -> TestApp {
    let db = TestDb::new(kind).await;
    let mut config = NotificationsConfig::with_base(BaseConfig {
        redis_url: redis_url.to_owned(),
        ..base_config("notifications", &db)
    });
    config.ws.revocation_check = Duration::from_millis(50);
    config.push_backoff = Duration::from_millis(10);
    tweak(&mut config);
    let prefix = config.base.redis_prefix.clone();
    let Spawned {
        running,
        port,
        api,
        redis,
        keys,
        state,
        ..
    } = spawn_service_on(redis_url, &prefix, |clock| {
        notifications::build_with_provider(config.clone(), clock, provider)
    })
    .await;
    TestApp {
        running,
        api,
        keys,
        redis,
        config,
        db,
        state,
        port,
    }
}

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

#[allow(dead_code)]
impl TestApp {
    /// Puts `event` on the service's queue, as a producer's relay would.
    pub async fn deliver(&self, event: &Envelope) {
        service_kit::queue::enqueue_json(
            &self.redis,
            &self.keys.events(Service::Notifications),
            event,
        )
        .await
        .unwrap();
    }

    pub fn event(&self, producer: Service, kind: &str, payload: Value) -> Envelope {
        Envelope::untyped(producer, kind, payload, self.clock.as_ref()).unwrap()
    }

    /// A `kyc.approved` event for `user` (one notification to them).
    pub fn kyc_approved(&self, user: Uuid) -> Envelope {
        self.event(
            Service::Kyc,
            "kyc.approved",
            json!({"user_id": user, "submission_id": Uuid::now_v7(), "reviewed_by": Uuid::now_v7()}),
        )
    }

    /// An offer event about `offer` between `investor` and `seller`.
    pub fn offer_event(&self, kind: &str, offer: Uuid, investor: Uuid, seller: Uuid) -> Envelope {
        use common::events::marketplace::{OfferChange, OfferChanged, OfferStatus};
        use common::ids::{InvoiceId, OfferId, UserId};
        let payload = OfferChanged {
            offer_id: OfferId(offer),
            invoice_id: InvoiceId(Uuid::now_v7()),
            investor_id: UserId(investor),
            seller_id: UserId(seller),
            price: "1454383.56".into(),
            ..common::events::examples::offer(OfferStatus::Pending, OfferChange::Placed, None)
        };
        self.event(
            Service::Marketplace,
            kind,
            serde_json::to_value(payload).unwrap(),
        )
    }

    /// `user`'s notifications (first page), asserting 200.
    pub async fn list(&self, user: &User) -> Value {
        let res = self.get("/api/notifications?limit=100", &user.token).await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    /// The unread count as served (`GET /unread-count`, from Redis' copy) once that copy
    /// agrees with the database's count, which moves in the same transaction as the
    /// notifications; the copy follows just after the commit, so a test that saw the
    /// notifications stored may ask a moment before it does.
    pub async fn unread(&self, user: &User) -> u64 {
        testkit::wait_for(
            DEADLINE,
            "the served unread count to match the stored one",
            || async {
                let stored = notifications::store::unread_of(&self.state.db, &[user.id])
                    .await
                    .unwrap()
                    .get(&user.id)
                    .map_or(0, |c| c.unread);
                let res = self
                    .get("/api/notifications/unread-count", &user.token)
                    .await;
                assert_eq!(res.status(), 200);
                let v: Value = res.json().await.unwrap();
                let served = v["unread"].as_u64().unwrap();
                (u64::try_from(stored).ok() == Some(served)).then_some(served)
            },
        )
        .await
    }

    /// Waits until `user` has `n` notifications stored; returns the page.
    pub async fn wait_for_count(&self, user: &User, n: usize) -> Value {
        testkit::wait_for(DEADLINE, &format!("{n} notifications"), || async {
            let page = self.list(user).await;
            (page["items"].as_array().unwrap().len() == n).then_some(page)
        })
        .await
    }

    pub async fn ticket(&self, user: &User) -> String {
        let res = self
            .post("/api/notifications/ws-ticket", &user.token, &json!({}))
            .await;
        assert_eq!(res.status(), 201);
        let v: Value = res.json().await.unwrap();
        v["ticket"].as_str().unwrap().to_owned()
    }

    pub fn ws_url(&self, ticket: &str) -> String {
        format!(
            "ws://127.0.0.1:{}/api/notifications/ws?ticket={ticket}",
            self.port
        )
    }

    /// A connected WebSocket of `user`.
    pub async fn connect(&self, user: &User) -> Ws {
        let ticket = self.ticket(user).await;
        let (ws, _) = tokio_tungstenite::connect_async(self.ws_url(&ticket))
            .await
            .expect("WebSocket connects");
        ws
    }

    /// Waits until the hub holds `n` connections.
    pub async fn wait_connections(&self, n: usize) {
        testkit::wait_until(DEADLINE, &format!("{n} connections"), || async {
            self.state.hub.connections() == n
        })
        .await;
    }
}

/// Sends a JSON frame.
#[allow(dead_code)]
pub async fn send(ws: &mut Ws, frame: Value) {
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .unwrap();
}

/// The next JSON text frame (pings are answered by the client library), within the deadline.
#[allow(dead_code)]
pub async fn next_frame(ws: &mut Ws) -> Value {
    tokio::time::timeout(DEADLINE, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).unwrap(),
                Some(Ok(Message::Close(c))) => panic!("closed: {c:?}"),
                Some(Ok(_)) => continue,
                other => panic!("stream ended: {other:?}"),
            }
        }
    })
    .await
    .expect("a frame within the deadline")
}

/// Reads until the server closes; returns the close code.
#[allow(dead_code)]
pub async fn closed_with(ws: &mut Ws) -> u16 {
    tokio::time::timeout(DEADLINE, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(Some(c)))) => return u16::from(c.code),
                Some(Ok(Message::Close(None))) | None => return 1005,
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("error before close: {e}"),
            }
        }
    })
    .await
    .expect("closed within the deadline")
}
