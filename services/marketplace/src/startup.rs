//! Builds the service (database, Redis, relay, consumer, expiry sweep, HTTP server) and runs it
//! until told to stop.

use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, web};
use common::auth::Verifier;
use common::cache::Cache;
use common::clock::SharedClock;
use common::events::Service;
use common::http::{Readiness, Starting};
use common::keys::Keys;
use common::outbox::Relay;
use common::shutdown::CancellationToken;
use tokio::task::JoinHandle;
use utoipa::OpenApi;
use utoipa_actix_web::{AppExt, scope};

use crate::config::MarketplaceConfig;
use crate::migration::Migrator;
use crate::routes::{self, ApiDoc};
use crate::state::AppState;

pub struct Application {
    port: u16,
    server: Server,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    state: AppState,
}

impl Application {
    pub async fn build(config: MarketplaceConfig, clock: SharedClock) -> anyhow::Result<Self> {
        let base = config.base.clone();
        let starting = Starting::bind(&base)?;
        let db = base.database::<Migrator>().await?;
        starting.wait_for_redis(&base.redis_url).await;
        let redis = base.redis().await?;
        let keys = Keys::new(&base.redis_prefix);
        let stop = CancellationToken::new();
        let relay = Relay::new(
            Service::Marketplace,
            db.clone(),
            redis.clone(),
            keys.clone(),
        )
        .clock(clock.clone());
        let relay_handle = relay.handle();
        let mut tasks = vec![tokio::spawn(relay.run(stop.clone()))];
        let state = AppState {
            db: db.clone(),
            redis: redis.clone(),
            cache: Cache::new(redis.clone(), keys.clone()),
            keys: keys.clone(),
            clock: clock.clone(),
            relay: relay_handle,
            config: Arc::new(config),
            sweep_rounds: Arc::default(),
        };
        tasks.push(crate::consumer::spawn(&state, stop.clone()).await?);
        tasks.push(tokio::spawn(crate::sweep::run(state.clone(), stop.clone())));

        let verifier = Verifier::new(
            redis.clone(),
            keys,
            &base.jwt_issuer,
            &base.jwt_audience,
            clock,
        )
        .await;
        let readiness = Readiness { db, redis };
        let app_state = state.clone();
        let (port, server) = common::http::serve(&base, starting, readiness, move || {
            App::new()
                .into_utoipa_app()
                .openapi(ApiDoc::openapi())
                .app_data(web::Data::new(app_state.clone()))
                .app_data(web::Data::new(verifier.clone()))
                .service(routes::scope(scope("/api/marketplace")))
        })
        .await?;
        tracing::info!(port, "Marketplace listening.");
        Ok(Self {
            port,
            server,
            stop,
            tasks,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
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
