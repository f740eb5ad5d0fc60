//! The builder a service's start-up reads like its table of contents:
//!
//! ```ignore
//! pub async fn build(config: InvoiceConfig, clock: SharedClock) -> anyhow::Result<Application> {
//!     let kit = Kit::start::<Migrator>(&config.base, clock).await?;   // socket, db, Redis
//!     let relay = kit.relay(Service::Invoice);                        // outbox -> queues
//!     let state = AppState::new(&kit, relay, config);
//!     kit.consume(Service::Invoice, inbound::Effects::new(&state));    // events:invoice
//!     kit.every("sweep", state.config.sweep_interval, &state, sweep::round);
//!     kit.serve(ApiDoc::openapi(), state, routes::mount).await
//! }
//! ```
//!
//! [`Kit::start`] binds the socket first (the probes answer while the service starts),
//! connects the database (migrations applied) and, once Redis answers, the Redis pool.
//! Background work runs under the kit's [`Supervisor`]; `/readyz` checks it with Redis and
//! the database. [`Kit::serve`] adds the routes and hands back the [`Running`] service.

use std::future::Future;
use std::time::Duration;

use crate::config::BaseConfig;
use crate::http::{Readiness, Starting, Upgrades};
use crate::outbox::{Relay, RelayHandle};
use crate::redis::Pool;
use crate::shutdown::CancellationToken;
use actix_web::dev::{HttpServiceFactory, Server};
use actix_web::{App, web};
use common::SharedClock;
use common::auth::Verifier;
use common::events::Service;
use common::keys::Keys;
use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;
use tokio_util::task::TaskTracker;
use utoipa_actix_web::{AppExt, OpenApiFactory};

use crate::tasks::{Policy, Supervisor};

/// How long [`Kit::serve`] waits for the background tasks' first heartbeats.
const TASKS_START_WITHIN: Duration = Duration::from_secs(10);

/// A service being built; see the [module docs](self).
pub struct Kit {
    pub base: BaseConfig,
    pub db: DatabaseConnection,
    pub redis: Pool,
    pub keys: Keys,
    pub clock: SharedClock,
    verifier: tokio::sync::OnceCell<Verifier>,
    starting: Starting,
    tasks: Supervisor,
    /// Cancelled as soon as stopping begins (before in-flight requests finish).
    stopping: CancellationToken,
    /// Connections the server handed over to a route (WebSockets).
    handovers: TaskTracker,
}

impl Kit {
    /// Binds `base.host:base.port`, opens the database (applying `M`'s migrations) and,
    /// once Redis answers, the Redis pool.
    pub async fn start<M: MigratorTrait>(
        base: &BaseConfig,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        let starting = Starting::bind(base)?;
        let db = base.database::<M>().await?;
        starting.wait_for_redis(&base.redis_url).await;
        let redis = base.redis().await?;
        let keys = Keys::new(&base.redis_prefix);
        Ok(Self {
            base: base.clone(),
            db,
            redis,
            keys,
            clock,
            verifier: tokio::sync::OnceCell::new(),
            starting,
            tasks: Supervisor::new(CancellationToken::new()),
            stopping: CancellationToken::new(),
            handovers: TaskTracker::new(),
        })
    }

    /// The access-token verifier (keys from Redis, revocations checked), made on first
    /// use (after auth published its keys, in auth).
    pub async fn verifier(&self) -> Verifier {
        self.verifier
            .get_or_init(|| {
                Verifier::new(
                    self.redis.clone(),
                    self.keys.clone(),
                    &self.base.jwt_issuer,
                    &self.base.jwt_audience,
                    self.clock.clone(),
                )
            })
            .await
            .clone()
    }

    /// Cancelled as soon as the service begins to stop, before in-flight requests finish
    /// (what long-lived connections, such as WebSockets, close on).
    pub fn stopping(&self) -> CancellationToken {
        self.stopping.clone()
    }

    /// The supervision policy of this service's tasks (`TASK_STALL_SECS`).
    pub fn policy(&self) -> Policy {
        Policy {
            stall_after: self.base.task_stall,
            ..Policy::default()
        }
    }

    /// Runs `service`'s outbox relay as the supervised task `relay`; answers the handle
    /// that wakes it after a commit.
    pub fn relay(&self, service: Service) -> RelayHandle {
        let relay = Relay::new(
            service,
            self.db.clone(),
            self.redis.clone(),
            self.keys.clone(),
        )
        .clock(self.clock.clone())
        .signer(self.base.event_signer.clone());
        let handle = relay.handle();
        self.supervise("relay", move |stop| {
            let relay = relay.clone();
            async move {
                relay.run(stop).await;
                Ok(())
            }
        });
        handle
    }

    /// Runs `task` (`task(stop)` makes one run) under supervision as `name`.
    pub fn supervise<F, Fut>(&self, name: &str, task: F)
    where
        F: FnMut(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.tasks.spawn(name, self.policy(), task);
    }

    /// Consumes `service`'s event queue (`events:{service}`) with `handler` as the
    /// supervised task `consumer`: each event applied once, in one transaction with its
    /// inbox claim, then `handler`'s after-commit step (see [`crate::inbox`]).
    pub fn consume<H>(&self, service: Service, handler: H)
    where
        H: crate::inbox::StagedHandler + Clone + 'static,
    {
        self.consume_in_batches(service, handler, 1);
    }

    /// [`Kit::consume`] taking up to `batch` waiting events at once, applied in one
    /// transaction (a failed batch is applied one event at a time): for a consumer whose
    /// per-event cost is mostly round trips and commit flushes.
    pub fn consume_in_batches<H>(&self, service: Service, handler: H, batch: usize)
    where
        H: crate::inbox::StagedHandler + Clone + 'static,
    {
        let db = self.db.clone();
        let redis = self.redis.clone();
        let url = self.base.redis_url.clone();
        let queue = self.keys.events(service);
        let clock = self.clock.clone();
        let keyring = self.base.event_keyring.clone();
        self.supervise("consumer", move |stop| {
            let consumer =
                crate::inbox::StagedConsumer::new(db.clone(), handler.clone(), clock.clone())
                    .in_batches(batch)
                    .verifying(keyring.clone());
            let (url, redis, queue) = (url.clone(), redis.clone(), queue.clone());
            async move { consumer.run(&url, &redis, queue, stop).await }
        });
    }

    /// Runs `task(state, stop)` under supervision as `name` (a new run gets a clone of
    /// `state`): a service's consumer or worker loop.
    pub fn run<S, F, Fut>(&self, name: &str, state: &S, task: F)
    where
        S: Clone + Send + 'static,
        F: Fn(S, CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.run_worker(name, Duration::ZERO, state, task);
    }

    /// [`Kit::run`] for a worker whose one job may take up to `longest_job` (its
    /// timeouts): it may be silent that much longer than `TASK_STALL_SECS` before it
    /// counts as hung.
    pub fn run_worker<S, F, Fut>(&self, name: &str, longest_job: Duration, state: &S, task: F)
    where
        S: Clone + Send + 'static,
        F: Fn(S, CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let policy = Policy {
            stall_after: self.base.task_stall.saturating_add(longest_job),
            ..self.policy()
        };
        let state = state.clone();
        self.tasks
            .spawn(name, policy, move |stop| task(state.clone(), stop));
    }

    /// Runs `round(state)` every `interval` (the first after one interval) as the
    /// supervised task `name`; a failed round is logged and the next one runs on time.
    pub fn every<S, F, Fut, T>(&self, name: &str, interval: Duration, state: &S, round: F)
    where
        S: Clone + Send + Sync + 'static,
        F: Fn(S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<T>> + Send + 'static,
    {
        let round = std::sync::Arc::new(round);
        let task = name.to_owned();
        self.run(name, state, move |state: S, stop| {
            let round = round.clone();
            let task = task.clone();
            async move {
                while crate::heartbeat::sleep(interval, &stop).await {
                    if let Err(error) = round(state.clone()).await {
                        tracing::warn!(task, error = %format!("{error:#}"), "Periodic task round failed.");
                    }
                }
                Ok(())
            }
        });
    }

    /// Serves the routes `routes()` makes (documented in `api`), with `state` and the
    /// verifier as app data, plus `/healthz`, `/readyz` (Redis, database, tasks),
    /// `/metrics` and `/api-docs`.
    pub async fn serve<S, R, X>(
        self,
        api: utoipa::openapi::OpenApi,
        state: S,
        routes: R,
    ) -> anyhow::Result<Running<S>>
    where
        S: Clone + Send + 'static,
        R: Fn() -> X + Clone + Send + 'static,
        X: HttpServiceFactory + OpenApiFactory + 'static,
    {
        self.serve_upgrades(api, state, Upgrades::InDispatcher, routes)
            .await
    }

    /// [`Kit::serve`], where the connections a route upgrades are handed over to it
    /// ([`crate::http::Handover`]) instead of staying in actix-web's HTTP dispatcher: a
    /// service that holds many long-lived connections (WebSockets).
    pub async fn serve_upgrades<S, R, X>(
        self,
        api: utoipa::openapi::OpenApi,
        state: S,
        upgrades: Upgrades,
        routes: R,
    ) -> anyhow::Result<Running<S>>
    where
        S: Clone + Send + 'static,
        R: Fn() -> X + Clone + Send + 'static,
        X: HttpServiceFactory + OpenApiFactory + 'static,
    {
        self.tasks_started(TASKS_START_WITHIN).await;
        let readiness = self.readiness();
        let app_state = state.clone();
        let verifier = self.verifier().await;
        let handovers = (upgrades == Upgrades::HandedOver).then(|| self.handovers.clone());
        let (port, server) =
            crate::http::serve(&self.base, self.starting, readiness, handovers, move || {
                App::new()
                    .into_utoipa_app()
                    .openapi(api.clone())
                    .app_data(web::Data::new(app_state.clone()))
                    .app_data(web::Data::new(verifier.clone()))
                    .service(routes())
            })
            .await?;
        tracing::info!(service = self.base.service, port, "Listening.");
        Ok(Running {
            port,
            server,
            tasks: self.tasks,
            stopping: self.stopping,
            handovers: self.handovers,
            state,
        })
    }

    /// Serves only the probes (`/healthz`, `/readyz`) and `/metrics`: a process that runs
    /// background work only (a worker Deployment).
    pub async fn serve_probes<S>(self, state: S) -> anyhow::Result<Running<S>> {
        self.tasks_started(TASKS_START_WITHIN).await;
        let readiness = self.readiness();
        let (port, server) = crate::http::serve(&self.base, self.starting, readiness, None, || {
            App::new().into_utoipa_app()
        })
        .await?;
        tracing::info!(service = self.base.service, port, "Probes listening.");
        Ok(Running {
            port,
            server,
            tasks: self.tasks,
            stopping: self.stopping,
            handovers: self.handovers,
            state,
        })
    }

    /// Waits (at most `within`) until every task has beaten once, so that a service
    /// that starts serving is ready: its consumer and workers already run.
    async fn tasks_started(&self, within: Duration) {
        use crate::heartbeat::{TaskHealth, TaskState};
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let waiting: Vec<String> = self
                .tasks
                .tasks()
                .into_iter()
                .filter(|(_, state)| *state != TaskState::Running)
                .map(|(name, _)| name)
                .collect();
            if waiting.is_empty() {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(?waiting, "Serving before these tasks run; /readyz says so.");
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn readiness(&self) -> Readiness {
        Readiness {
            db: self.db.clone(),
            redis: self.redis.clone(),
            tasks: std::sync::Arc::new(self.tasks.clone()),
        }
    }
}

/// A built service: its HTTP server, its background tasks and its state.
pub struct Running<S> {
    port: u16,
    server: Server,
    tasks: Supervisor,
    stopping: CancellationToken,
    /// Connections the server handed over (WebSockets), waited for when stopping.
    handovers: TaskTracker,
    state: S,
}

impl<S> Running<S> {
    /// The port the service listens on (what port 0 became).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The state the handlers use (tests reach the database and Redis through it).
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The background tasks (tests kill one to see it restarted).
    pub fn tasks(&self) -> &Supervisor {
        &self.tasks
    }

    /// Serves until `shutdown` is cancelled; then finishes in-flight requests (the
    /// server's shutdown timeout), stops the background tasks and waits for them (jobs in
    /// hand are finished, not dropped). An error names the tasks that did not stop cleanly.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let server = tokio::spawn(self.server);
        shutdown.cancelled().await;
        tracing::info!("Stopping: finishing in-flight requests and background work.");
        self.stopping.cancel();
        // Connections handed over to a route (WebSockets) are no longer the server's
        // in-flight requests: they close on `stopping` (with their goodbye, 1001) and are
        // waited for here, before the server's workers, whose threads run them, stop.
        self.handovers.close();
        let within = Duration::from_secs(crate::http::SHUTDOWN_TIMEOUT_SECS);
        if tokio::time::timeout(within, self.handovers.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                open = self.handovers.len(),
                "Handed-over connections still open at the shutdown timeout."
            );
        }
        handle.stop(true).await;
        let served = server.await;
        let tasks = self.tasks.shutdown().await;
        match served {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "The HTTP server failed."),
            Err(e) => tracing::error!(error = %e, "The HTTP server panicked."),
        }
        if let Err(e) = &tasks {
            tracing::error!(error = %format!("{e:#}"), "Stopped with errors.");
        }
        tasks
    }
}
