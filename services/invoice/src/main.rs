use clap::{Parser, Subcommand};

use invoice::{Application, InvoiceConfig};

#[global_allocator]
static ALLOCATOR: common::Allocator = common::Allocator;

#[derive(Parser)]
#[command(name = "invoice", about = "Vestio invoice service", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API, the event consumer and the overdue sweep (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// The dead letters of `events:invoice`: list them, or requeue them after a fix.
    DeadLetters {
        #[command(subcommand)]
        action: common::queue::DeadLetters,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = common::telemetry::init("invoice");
    let cli = Cli::parse();
    let config = InvoiceConfig::from_env()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::DeadLetters { action } => {
            let keys = common::keys::Keys::new(&config.base.redis_prefix);
            action
                .run(
                    &config.base.redis_url,
                    &keys.events(common::events::Service::Invoice),
                )
                .await
        }
        Command::Serve => {
            let app = Application::build(config, common::clock::system()).await?;
            app.run_until_stopped(common::shutdown::on_signal()).await
        }
        Command::Migrate => {
            common::db::connect_and_migrate::<invoice::migration::Migrator>(
                &config.base.database_url,
            )
            .await?;
            tracing::info!("Invoice migrations applied.");
            Ok(())
        }
    }
}
