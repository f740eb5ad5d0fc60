use common::SharedClock;
use common::config::BaseConfig;
use common::keys::{Keys, QueueName};
use service_kit::cli::NoCommands;

use marketplace::{Application, MarketplaceConfig};

#[global_allocator]
static ALLOCATOR: common::Allocator = common::Allocator;

struct Binary;

impl service_kit::cli::Binary for Binary {
    const NAME: &'static str = "marketplace";
    const ABOUT: &'static str = "Vestio marketplace service";
    const SERVES: &'static str =
        "Serve the HTTP API, the event consumer and the offer-expiry sweep (the default)";
    type Config = MarketplaceConfig;
    type Migrator = marketplace::migration::Migrator;
    type Commands = NoCommands;

    fn config() -> anyhow::Result<MarketplaceConfig> {
        Ok(MarketplaceConfig::from_env()?)
    }

    fn base(config: &MarketplaceConfig) -> &BaseConfig {
        &config.base
    }

    fn dead_letter_queue(keys: &Keys) -> QueueName {
        keys.events(common::events::Service::Marketplace)
    }

    async fn serve(config: MarketplaceConfig, clock: SharedClock) -> anyhow::Result<()> {
        let app = Application::build(config, clock).await?;
        app.run_until_stopped(common::shutdown::on_signal()).await
    }

    async fn run(command: NoCommands, _: MarketplaceConfig, _: SharedClock) -> anyhow::Result<()> {
        match command {}
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::cli::main::<Binary>().await
}
