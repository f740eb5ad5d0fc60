use clap::{Parser, Subcommand};

use kyc::{Application, KycConfig};

#[global_allocator]
static ALLOCATOR: common::Allocator = common::Allocator;

#[derive(Parser)]
#[command(name = "kyc", about = "Vestio KYC service", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default); with KYC_WORKER_IN_PROCESS=true also process documents.
    Serve,
    /// Process documents from the queue only (the Kubernetes worker Deployment).
    Worker,
    /// Apply database migrations and exit.
    Migrate,
    /// The dead letters of `kyc:processing`: list them, or requeue them after a fix.
    DeadLetters {
        #[command(subcommand)]
        action: common::queue::DeadLetters,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = common::telemetry::init("kyc");
    let cli = Cli::parse();
    let config = KycConfig::from_env()?;
    let clock = common::clock::system();
    match cli.command.unwrap_or(Command::Serve) {
        Command::DeadLetters { action } => {
            let keys = common::keys::Keys::new(&config.base.redis_prefix);
            action
                .run(&config.base.redis_url, &keys.kyc_processing())
                .await
        }
        Command::Serve => {
            let app = Application::build(config, clock).await?;
            app.run_until_stopped(common::shutdown::on_signal()).await
        }
        Command::Worker => {
            kyc::startup::run_worker(config, clock, common::shutdown::on_signal()).await
        }
        Command::Migrate => {
            common::db::connect_and_migrate::<kyc::migration::Migrator>(&config.base.database_url)
                .await?;
            tracing::info!("KYC migrations applied.");
            Ok(())
        }
    }
}
