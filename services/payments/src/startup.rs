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

/// Builds the service around `provider` and starts its background tasks; serve with
/// `run_until_stopped`.
pub async fn build_with_provider(
    config: PaymentsConfig,
    clock: SharedClock,
    provider: Arc<dyn PaymentProvider>,
) -> anyhow::Result<Application> {
    let kit = Kit::start::<Migrator>(&config.base, clock).await?;
    let relay = kit.relay(Service::Payments);
    let state = AppState::new(&kit, relay, provider, config);
    kit.consume(Service::Payments, crate::inbound::Effects::new(&state));
    let every = state.config.sweep_interval;
    kit.every("sweep", every, &state, |s| async move {
        crate::jobs::sweep::run_once(&s).await
    });
    kit.run_worker(
        "settlements",
        std::time::Duration::from_secs(60),
        &state,
        crate::jobs::settlements::run,
    );
    kit.serve(ApiDoc::openapi(), state, routes::mount).await
}

/// The `payments` binary (its `main` is `service_kit::cli::main::<Binary>()`).
pub struct Binary;

impl service_kit::cli::Binary for Binary {
    const NAME: &'static str = "payments";
    const ABOUT: &'static str = "Vestio payments service";
    const SERVES: &'static str =
        "Serve the HTTP API, the event consumer and the payments sweep (the default)";
    const SERVICE: Service = Service::Payments;
    type Config = PaymentsConfig;
    type Migrator = Migrator;
    type Commands = service_kit::cli::NoCommands;
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
}
