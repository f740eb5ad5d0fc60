use clap::{Parser, Subcommand};

use marketplace::{Application, MarketplaceConfig};

#[global_allocator]
static ALLOCATOR: common::Allocator = common::Allocator;

#[derive(Parser)]
#[command(name = "marketplace", about = "Vestio marketplace service", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API, the event consumer and the offer-expiry sweep (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// The dead letters of `events:marketplace`: list them, or requeue them after a fix.
    DeadLetters {
        #[command(subcommand)]
        action: common::queue::DeadLetters,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = common::telemetry::init("marketplace");
    let cli = Cli::parse();
    let config = MarketplaceConfig::from_env()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::DeadLetters { action } => {
            let keys = common::keys::Keys::new(&config.base.redis_prefix);
            action
                .run(
                    &config.base.redis_url,
                    &keys.events(common::events::Service::Marketplace),
                )
                .await
        }
        Command::Serve => {
            let app = Application::build(config, common::clock::system()).await?;
            app.run_until_stopped(common::shutdown::on_signal()).await
        }
        Command::Migrate => {
            common::db::connect_and_migrate::<marketplace::migration::Migrator>(
                &config.base.database_url,
            )
            .await?;
            tracing::info!("Marketplace migrations applied.");
            Ok(())
        }
    }
}
