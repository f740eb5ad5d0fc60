use common::SharedClock;
use common::config::BaseConfig;
use common::keys::{Keys, QueueName};
use service_kit::cli::NoCommands;

use invoice::{Application, InvoiceConfig};

#[global_allocator]
static ALLOCATOR: common::Allocator = common::Allocator;

struct Binary;

impl service_kit::cli::Binary for Binary {
    const NAME: &'static str = "invoice";
    const ABOUT: &'static str = "Vestio invoice service";
    const SERVES: &'static str =
        "Serve the HTTP API, the event consumer and the overdue sweep (the default)";
    type Config = InvoiceConfig;
    type Migrator = invoice::migration::Migrator;
    type Commands = NoCommands;

    fn config() -> anyhow::Result<InvoiceConfig> {
        Ok(InvoiceConfig::from_env()?)
    }

    fn base(config: &InvoiceConfig) -> &BaseConfig {
        &config.base
    }

    fn dead_letter_queue(keys: &Keys) -> QueueName {
        keys.events(common::events::Service::Invoice)
    }

    async fn serve(config: InvoiceConfig, clock: SharedClock) -> anyhow::Result<()> {
        let app = Application::build(config, clock).await?;
        app.run_until_stopped(common::shutdown::on_signal()).await
    }

    async fn run(command: NoCommands, _: InvoiceConfig, _: SharedClock) -> anyhow::Result<()> {
        match command {}
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::cli::main::<Binary>().await
}
