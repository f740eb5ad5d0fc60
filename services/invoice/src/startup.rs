//! The service, as a table of contents: database and Redis, the outbox relay, the event
//! consumer, the overdue sweep and the HTTP API.

use common::clock::SharedClock;
use common::events::Service;
use service_kit::{Kit, Running};
use utoipa::OpenApi;

use crate::config::InvoiceConfig;
use crate::routes::{self, ApiDoc};
use crate::state::AppState;
use crate::store::migration::Migrator;

/// The running service.
pub type Application = Running<AppState>;

/// Builds the service and starts its background tasks; serve with `run_until_stopped`.
pub async fn build(config: InvoiceConfig, clock: SharedClock) -> anyhow::Result<Application> {
    let kit = Kit::start::<Migrator>(&config.base, clock).await?;
    let relay = kit.relay(Service::Invoice);
    let state = AppState::new(&kit, relay, config);
    let batch = state.config.event_batch;
    kit.consume_in_batches(
        Service::Invoice,
        crate::inbound::Effects::new(&state),
        batch,
    );
    let every = state.config.sweep_interval;
    let mark = crate::jobs::sweep::CacheMark::default();
    kit.every("sweep", every, &state, move |s| {
        let mark = mark.clone();
        async move {
            let changed = crate::jobs::sweep::run_once(&s).await?;
            crate::jobs::sweep::catch_up_cache(&s, &mark).await?;
            Ok(changed)
        }
    });
    kit.serve(ApiDoc::openapi(), state, routes::mount).await
}

/// The `invoice` binary (its `main` is `service_kit::cli::main::<Binary>()`).
pub struct Binary;

impl service_kit::cli::Binary for Binary {
    const NAME: &'static str = "invoice";
    const ABOUT: &'static str = "Vestio invoice service";
    const SERVES: &'static str =
        "Serve the HTTP API, the event consumer and the overdue sweep (the default)";
    const SERVICE: Service = Service::Invoice;
    type Config = InvoiceConfig;
    type Migrator = Migrator;
    type Commands = service_kit::cli::NoCommands;
    type State = AppState;

    fn config() -> anyhow::Result<InvoiceConfig> {
        Ok(InvoiceConfig::from_env()?)
    }

    fn base(config: &InvoiceConfig) -> &service_kit::config::BaseConfig {
        &config.base
    }

    async fn build(config: InvoiceConfig, clock: SharedClock) -> anyhow::Result<Application> {
        build(config, clock).await
    }
}
