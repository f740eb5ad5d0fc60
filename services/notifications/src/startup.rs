//! Builds the service (database, Redis, hub, event consumer, push worker, HTTP server)
//! and runs it until told to stop.

use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, web};
use common::auth::Verifier;
use common::clock::SharedClock;
use common::http::{Readiness, Starting};
use common::keys::Keys;
use common::pubsub::Subscriber;
use common::shutdown::CancellationToken;
use tokio::task::JoinHandle;
use utoipa::OpenApi;
use utoipa_actix_web::{AppExt, scope};

use crate::config::NotificationsConfig;
use crate::migration::Migrator;
use crate::push::Provider;
use crate::routes::{self, ApiDoc};
use crate::state::AppState;
use crate::ws::Hub;

pub struct Application {
    port: u16,
    server: Server,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    state: AppState,
}

impl Application {
    /// The service with the configured push provider.
    pub async fn build(config: NotificationsConfig, clock: SharedClock) -> anyhow::Result<Self> {
        let provider = crate::push::provider(&config.push)?;
        Self::build_with_provider(config, clock, provider).await
    }

    /// The service pushing through `provider`.
    pub async fn build_with_provider(
        config: NotificationsConfig,
        clock: SharedClock,
        provider: Box<dyn Provider>,
    ) -> anyhow::Result<Self> {
        let base = config.base.clone();
        let starting = Starting::bind(&base)?;
        let db = base.database::<Migrator>().await?;
        starting.wait_for_redis(&base.redis_url).await;
        let redis = base.redis().await?;
        let keys = Keys::new(&base.redis_prefix);
        let stop = CancellationToken::new();
        let verifier = Verifier::new(
            redis.clone(),
            keys.clone(),
            &base.jwt_issuer,
            &base.jwt_audience,
            clock.clone(),
        )
        .await;
        let hub = Hub::start(
            Subscriber::connect(&base.redis_url).await?,
            config.ws.buffer,
            stop.clone(),
        );
        hub.watch_tokens(verifier.clone(), clock.clone(), config.ws.revocation_check);
        let state = AppState {
            db: db.clone(),
            redis: redis.clone(),
            keys,
            clock,
            config: Arc::new(config),
            verifier: verifier.clone(),
            hub,
        };
        let tasks = vec![
            crate::consumer::spawn(&state, stop.clone()).await?,
            crate::push::spawn(&state, provider, stop.clone()).await?,
        ];
        let readiness = Readiness { db, redis };
        let app_state = state.clone();
        let (port, server) = common::http::serve(&base, starting, readiness, move || {
            App::new()
                .into_utoipa_app()
                .openapi(ApiDoc::openapi())
                .app_data(web::Data::new(app_state.clone()))
                .app_data(web::Data::new(verifier.clone()))
                .service(routes::scope(scope("/api/notifications")))
        })
        .await?;
        tracing::info!(port, "Notifications listening.");
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

    /// Serves until `shutdown` is cancelled, then closes the WebSockets (1001), finishes
    /// in-flight requests and background work.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let stop = self.stop.clone();
        let hub_stop = shutdown.clone();
        // WebSockets never finish by themselves: close them as soon as stopping begins,
        // so the server's graceful shutdown does not wait out its timeout on them.
        tokio::spawn(async move {
            hub_stop.cancelled().await;
            stop.cancel();
        });
        common::shutdown::Running {
            server: self.server,
            stop: self.stop,
            tasks: self.tasks,
        }
        .run_until_stopped(shutdown)
        .await
    }
}
