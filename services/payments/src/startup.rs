//! The service, as a table of contents: database and Redis, the outbox relay, the event
//! consumer, the expiry and reconciliation sweep, the settlement worker and the HTTP API.

use std::sync::Arc;

use common::clock::SharedClock;
use common::events::Service;
use service_kit::{Kit, Running};
use utoipa::OpenApi;

use crate::config::PaymentsConfig;
use crate::provider::PaymentProvider;
use crate::routes::{self, ApiDoc};
use crate::state::AppState;
use crate::store::migration::Migrator;

/// The running service.
pub type Application = Running<AppState>;

/// Builds the service with the provider its configuration names.
pub async fn build(config: PaymentsConfig, clock: SharedClock) -> anyhow::Result<Application> {
    let provider = Arc::new(crate::provider::from_config(&config.provider)?);
    build_with_provider(config, clock, provider).await
}

/// What every payments process runs: the state and the outbox relay.
async fn core(
    config: PaymentsConfig,
    clock: SharedClock,
    provider: Arc<dyn PaymentProvider>,
) -> anyhow::Result<(Kit, AppState)> {
    let kit = Kit::start::<Migrator>(&config.base, clock).await?;
    let relay = kit.relay(Service::Payments);
    let state = AppState::new(&kit, relay, provider, config);
    Ok((kit, state))
}

/// The settlement worker: transfers out, one at a time per process.
fn settlements(kit: &Kit, state: &AppState) {
    kit.run_worker(
        "settlements",
        std::time::Duration::from_secs(60),
        state,
        crate::jobs::settlements::run,
    );
}

/// Builds the service around `provider` and starts its background tasks (the settlement
/// worker too, if `PAYMENTS_WORKER_IN_PROCESS`); serve with `run_until_stopped`.
pub async fn build_with_provider(
    config: PaymentsConfig,
    clock: SharedClock,
    provider: Arc<dyn PaymentProvider>,
) -> anyhow::Result<Application> {
    let (kit, state) = core(config, clock, provider).await?;
    kit.consume(Service::Payments, crate::inbound::Effects::new(&state));
    let every = state.config.sweep_interval;
    kit.every("sweep", every, &state, |s| async move {
        crate::jobs::sweep::run_once(&s).await
    });
    if state.config.apply_in_process {
        kit.run("webhooks", &state, crate::jobs::webhooks::run);
    }
    if state.config.worker_in_process {
        settlements(&kit, &state);
    }
    kit.serve(ApiDoc::openapi(), state, routes::mount).await
}

/// `payments worker`: the settlement worker and the applier of accepted webhooks (and
/// the relay) without the API; only `/healthz`, `/readyz` and `/metrics` on
/// `HOST:PORT`, for the probes.
pub async fn build_worker(
    config: PaymentsConfig,
    clock: SharedClock,
) -> anyhow::Result<Application> {
    let provider = Arc::new(crate::provider::from_config(&config.provider)?);
    let (kit, state) = core(config, clock, provider).await?;
    settlements(&kit, &state);
    kit.run("webhooks", &state, crate::jobs::webhooks::run);
    kit.serve_probes(state).await
}

#[derive(clap::Subcommand)]
pub enum Commands {
    /// Send payouts, distributions and refunds from the settlement queues and apply
    /// accepted webhook deliveries, without the API (the Kubernetes worker Deployment).
    Worker,
}

/// The `payments` binary (its `main` is `service_kit::cli::main::<Binary>()`).
pub struct Binary;

impl service_kit::cli::Binary for Binary {
    const NAME: &'static str = "payments";
    const ABOUT: &'static str = "Vestio payments service";
    const SERVES: &'static str = "Serve the HTTP API, the event consumer, the payments sweep, the webhook applier (with PAYMENTS_APPLY_IN_PROCESS) and the settlement worker (with PAYMENTS_WORKER_IN_PROCESS) (the default)";
    const SERVICE: Service = Service::Payments;
    type Config = PaymentsConfig;
    type Migrator = Migrator;
    type Commands = Commands;
    type State = AppState;

    fn config() -> anyhow::Result<PaymentsConfig> {
        Ok(PaymentsConfig::from_env()?)
    }

    fn base(config: &PaymentsConfig) -> &service_kit::config::BaseConfig {
        &config.base
    }

    async fn build(config: PaymentsConfig, clock: SharedClock) -> anyhow::Result<Application> {
        build(config, clock).await
    }

    async fn run(
        command: Commands,
        config: PaymentsConfig,
        clock: SharedClock,
    ) -> anyhow::Result<()> {
        match command {
            Commands::Worker => {
                build_worker(config, clock)
                    .await?
                    .run_until_stopped(service_kit::shutdown::on_signal())
                    .await
            }
        }
    }
}
