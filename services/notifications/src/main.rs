use common::SharedClock;
use common::config::BaseConfig;
use common::keys::{Keys, QueueName};
use service_kit::cli::NoCommands;

use notifications::{Application, NotificationsConfig};

#[global_allocator]
static ALLOCATOR: common::Allocator = common::Allocator;

struct Binary;

impl service_kit::cli::Binary for Binary {
    const NAME: &'static str = "notifications";
    const ABOUT: &'static str = "Vestio notifications service";
    const SERVES: &'static str =
        "Serve the HTTP API and WebSocket, the event consumer and the push worker (the default)";
    type Config = NotificationsConfig;
    type Migrator = notifications::migration::Migrator;
    type Commands = NoCommands;

    fn config() -> anyhow::Result<NotificationsConfig> {
        Ok(NotificationsConfig::from_env()?)
    }

    fn base(config: &NotificationsConfig) -> &BaseConfig {
        &config.base
    }

    fn dead_letter_queue(keys: &Keys) -> QueueName {
        keys.events(common::events::Service::Notifications)
    }

    async fn serve(config: NotificationsConfig, clock: SharedClock) -> anyhow::Result<()> {
        let app = Application::build(config, clock).await?;
        app.run_until_stopped(common::shutdown::on_signal()).await
    }

    async fn run(
        command: NoCommands,
        _: NotificationsConfig,
        _: SharedClock,
    ) -> anyhow::Result<()> {
        match command {}
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::cli::main::<Binary>().await
}
