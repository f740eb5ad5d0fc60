//! Builds the service (database, Redis, storage, background loops, HTTP server) and runs
//! it until told to stop. `kyc worker` runs the same state without the HTTP server.

use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
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

use crate::config::KycConfig;
use crate::crypto::IdentityCipher;
use crate::migration::Migrator;
use crate::routes::{self, ApiDoc};
use crate::state::AppState;

/// The state and the loops every KYC process runs (outbox relay, requeue sweeper).
async fn core(
    config: KycConfig,
    clock: SharedClock,
    stop: &CancellationToken,
    starting: &Starting,
) -> anyhow::Result<(AppState, Vec<JoinHandle<()>>)> {
    let base = &config.base;
    let db = base.database::<Migrator>().await?;
    starting.wait_for_redis(&base.redis_url).await;
    let redis = base.redis().await?;
    let keys = Keys::new(&base.redis_prefix);
    let storage = crate::storage::from_config(&config.storage)?;
    let cipher = IdentityCipher::load(
        config.identity_key.clone(),
        &config.identity_key_file,
        config.generate_identity_key,
    )?;
    let verifier = crate::identity::from_env()?;
    let relay =
        Relay::new(Service::Kyc, db.clone(), redis.clone(), keys.clone()).clock(clock.clone());
    let relay_handle = relay.handle();
    let mut tasks = vec![tokio::spawn(relay.run(stop.clone()))];
    let state = AppState {
        db,
        redis: redis.clone(),
        limiter: RateLimiter::new(redis, keys.clone()).with_clock(clock.clone()),
        keys,
        clock,
        relay: relay_handle,
        storage,
        cipher,
        verifier,
        config: Arc::new(config),
    };
    tasks.push(tokio::spawn(crate::jobs::run_sweeper(
        state.clone(),
        stop.clone(),
    )));
    Ok((state, tasks))
}

pub struct Application {
    port: u16,
    server: Server,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    state: AppState,
}

impl Application {
    pub async fn build(config: KycConfig, clock: SharedClock) -> anyhow::Result<Self> {
        let stop = CancellationToken::new();
        let starting = Starting::bind(&config.base)?;
        let (state, mut tasks) = core(config, clock, &stop, &starting).await?;
        let config = state.config.clone();
        let base = &config.base;
        if config.worker_in_process {
            tasks.extend(crate::worker::spawn(&state, config.workers, stop.clone()).await?);
        }
        let verifier = Verifier::new(
            state.redis.clone(),
            state.keys.clone(),
            &base.jwt_issuer,
            &base.jwt_audience,
            state.clock.clone(),
        )
        .await;
        let readiness = Readiness {
            db: state.db.clone(),
            redis: state.redis.clone(),
        };
        let app_state = state.clone();
        let (port, server) = common::http::serve(base, starting, readiness, move || {
            App::new()
                .into_utoipa_app()
                .openapi(ApiDoc::openapi())
                .app_data(web::Data::new(app_state.clone()))
                .app_data(web::Data::new(verifier.clone()))
                .service(routes::scope(scope("/api/kyc")))
        })
        .await?;
        tracing::info!(
            port,
            worker_in_process = config.worker_in_process,
            "KYC listening."
        );
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

    /// The state the handlers use (tests reach the database and storage through it).
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

/// `kyc worker`: document workers (and the relay and sweeper) without the API. Serves
/// only `/healthz`, `/readyz` and `/metrics` on `HOST:PORT` for the probes. If a worker
/// loop ends on its own (it cannot register with Redis), the process exits with an error
/// so the orchestrator restarts it, rather than idling with nobody consuming.
pub async fn run_worker(
    config: KycConfig,
    clock: SharedClock,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let stop = CancellationToken::new();
    let starting = Starting::bind(&config.base)?;
    let (state, tasks) = core(config, clock, &stop, &starting).await?;
    let workers = crate::worker::spawn(&state, state.config.workers, stop.clone()).await?;
    let base = &state.config.base;
    let readiness = Readiness {
        db: state.db.clone(),
        redis: state.redis.clone(),
    };
    let metrics = common::http::metrics("kyc_worker")?;
    let listener = starting.into_listener().await;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(readiness.clone()))
            .service(common::http::healthz)
            .service(common::http::readyz)
            .wrap(metrics.clone())
    })
    .listen(listener)?
    .workers(1)
    .disable_signals()
    .run();
    let health = server.handle();
    let server = tokio::spawn(server);
    tracing::info!(
        workers = state.config.workers,
        port = base.port,
        "KYC worker running."
    );
    let mut workers = futures::future::select_all(workers);
    let outcome = tokio::select! {
        () = shutdown.cancelled() => Ok(()),
        (_, index, _) = &mut workers => {
            Err(anyhow::anyhow!("KYC worker loop {index} stopped on its own"))
        }
    };
    tracing::info!("Stopping: finishing the documents in hand.");
    stop.cancel();
    for task in workers.into_inner() {
        let _ = task.await;
    }
    health.stop(true).await;
    let _ = server.await;
    for task in tasks {
        let _ = task.await;
    }
    outcome
}
