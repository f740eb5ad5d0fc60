//! The service, as a table of contents: database and Redis, the outbox relay, the event
//! consumer, the offer-expiry sweep and the HTTP API.

use common::clock::SharedClock;
use common::events::Service;
use service_kit::{Kit, Running};
use utoipa::OpenApi;

use crate::config::MarketplaceConfig;
use crate::routes::{self, ApiDoc};
use crate::state::AppState;
use crate::store::migration::Migrator;

/// The running service.
pub type Application = Running<AppState>;

/// Builds the service and starts its background tasks; serve with `run_until_stopped`.
pub async fn build(config: MarketplaceConfig, clock: SharedClock) -> anyhow::Result<Application> {
    let kit = Kit::start::<Migrator>(&config.base, clock).await?;
    let relay = kit.relay(Service::Marketplace);
    let state = AppState::new(&kit, relay, config);
    kit.consume(Service::Marketplace, crate::inbound::Effects::new(&state));
    let every = state.config.sweep_interval;
    let mark = crate::jobs::sweep::EffectsMark::default();
    kit.every("sweep", every, &state, move |s| {
        crate::jobs::sweep::round(s, mark.clone())
    });
    kit.serve(ApiDoc::openapi(), state, routes::mount).await
}

/// The `marketplace` binary (its `main` is `service_kit::cli::main::<Binary>()`).
pub struct Binary;

impl service_kit::cli::Binary for Binary {
    const NAME: &'static str = "marketplace";
    const ABOUT: &'static str = "Vestio marketplace service";
    const SERVES: &'static str =
        "Serve the HTTP API, the event consumer and the offer-expiry sweep (the default)";
    const SERVICE: Service = Service::Marketplace;
    type Config = MarketplaceConfig;
    type Migrator = Migrator;
    type Commands = service_kit::cli::NoCommands;
    type State = AppState;

    fn config() -> anyhow::Result<MarketplaceConfig> {
        Ok(MarketplaceConfig::from_env()?)
    }

    fn base(config: &MarketplaceConfig) -> &service_kit::config::BaseConfig {
        &config.base
    }

    async fn build(config: MarketplaceConfig, clock: SharedClock) -> anyhow::Result<Application> {
        build(config, clock).await
    }
}
