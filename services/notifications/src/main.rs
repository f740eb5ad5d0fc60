use clap::{Parser, Subcommand};

use notifications::{Application, NotificationsConfig};

#[global_allocator]
static ALLOCATOR: common::Allocator = common::Allocator;

#[derive(Parser)]
#[command(
    name = "notifications",
    about = "Vestio notifications service",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API and WebSocket, the event consumer and the push worker (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// The dead letters of `events:notifications`: list them, or requeue them after a fix.
    DeadLetters {
        #[command(subcommand)]
        action: common::queue::DeadLetters,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = common::telemetry::init("notifications");
    let cli = Cli::parse();
    let config = NotificationsConfig::from_env()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::DeadLetters { action } => {
            let keys = common::keys::Keys::new(&config.base.redis_prefix);
            action
                .run(
                    &config.base.redis_url,
                    &keys.events(common::events::Service::Notifications),
                )
                .await
        }
        Command::Serve => {
            let app = Application::build(config, common::clock::system()).await?;
            app.run_until_stopped(common::shutdown::on_signal()).await
        }
        Command::Migrate => {
            common::db::connect_and_migrate::<notifications::migration::Migrator>(
                &config.base.database_url,
            )
            .await?;
            tracing::info!("Notifications migrations applied.");
            Ok(())
        }
    }
}
