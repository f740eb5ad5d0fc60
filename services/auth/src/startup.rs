//! Builds the service (database, Redis, keys, background loops, HTTP server) and runs it
//! until told to stop.

use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, web};
use common::auth::Verifier;
use common::clock::SharedClock;
use common::events::Service;
use common::http::{Readiness, Starting};
use common::keys::Keys;
use common::outbox::Relay;
use common::ratelimit::RateLimiter;
use common::shutdown::CancellationToken;
use tokio::task::JoinHandle;
use utoipa::OpenApi;
use utoipa_actix_web::{AppExt, scope};

use crate::config::AuthConfig;
use crate::keystore::KeyStore;
use crate::migration::Migrator;
use crate::routes::{self, ApiDoc};
use crate::state::AppState;

pub struct Application {
    port: u16,
    server: Server,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Application {
    pub async fn build(config: AuthConfig, clock: SharedClock) -> anyhow::Result<Self> {
        let base = &config.base;
        let starting = Starting::bind(base)?;
        let db = base.database::<Migrator>().await?;
        starting.wait_for_redis(&base.redis_url).await;
        let redis = base.redis().await?;
        let keys = Keys::new(&base.redis_prefix);
        let stop = CancellationToken::new();

        let keystore = KeyStore::open(&config, &clock, &redis, &keys).await?;
        keystore.spawn_reload(config.clone(), redis.clone(), keys.clone(), stop.clone());
        let verifier = Verifier::new(
            redis.clone(),
            keys.clone(),
            &base.jwt_issuer,
            &base.jwt_audience,
            clock.clone(),
        )
        .await;

        let relay = Relay::new(Service::Auth, db.clone(), redis.clone(), keys.clone());
        let relay_handle = relay.handle();
        let mut tasks = vec![tokio::spawn(relay.run(stop.clone()))];
        tasks.push(
            crate::consumer::spawn(base, db.clone(), keys.clone(), clock.clone(), stop.clone())
                .await?,
        );

        let state = AppState {
            db: db.clone(),
            redis: redis.clone(),
            keys: keys.clone(),
            keystore,
            limiter: RateLimiter::new(redis.clone(), keys).with_clock(clock.clone()),
            clock,
            relay: relay_handle,
            config: Arc::new(config.clone()),
        };
        let readiness = Readiness { db, redis };
        let (port, server) = common::http::serve(base, starting, readiness, move || {
            App::new()
                .into_utoipa_app()
                .openapi(ApiDoc::openapi())
                .app_data(web::Data::new(state.clone()))
                .app_data(web::Data::new(verifier.clone()))
                .service(
                    routes::scope(scope("/api/auth"))
                        .map(|s| s.wrap(from_fn(routes::per_ip_limit))),
                )
        })
        .await?;
        tracing::info!(port, "Auth listening.");
        Ok(Self {
            port,
            server,
            stop,
            tasks,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` is cancelled, then finishes in-flight requests and
    /// background work.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        common::shutdown::Running {
            server: self.server,
            stop: self.stop,
            tasks: self.tasks,
        }
        .run_until_stopped(shutdown)
        .await
    }
}
