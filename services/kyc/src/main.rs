use clap::Subcommand;
use common::SharedClock;
use common::config::BaseConfig;
use common::keys::{Keys, QueueName};

use kyc::{Application, KycConfig};

#[global_allocator]
static ALLOCATOR: common::Allocator = common::Allocator;

struct Binary;

#[derive(Subcommand)]
enum Commands {
    /// Process documents from the queue only (the Kubernetes worker Deployment).
    Worker,
}

impl service_kit::cli::Binary for Binary {
    const NAME: &'static str = "kyc";
    const ABOUT: &'static str = "Vestio KYC service";
    const SERVES: &'static str =
        "Serve the HTTP API (the default); with KYC_WORKER_IN_PROCESS=true also process documents";
    type Config = KycConfig;
    type Migrator = kyc::migration::Migrator;
    type Commands = Commands;

    fn config() -> anyhow::Result<KycConfig> {
        KycConfig::from_env()
    }

    fn base(config: &KycConfig) -> &BaseConfig {
        &config.base
    }

    /// KYC's dead letters are the documents whose checks could not run.
    fn dead_letter_queue(keys: &Keys) -> QueueName {
        keys.kyc_processing()
    }

    async fn serve(config: KycConfig, clock: SharedClock) -> anyhow::Result<()> {
        let app = Application::build(config, clock).await?;
        app.run_until_stopped(common::shutdown::on_signal()).await
    }

    async fn run(command: Commands, config: KycConfig, clock: SharedClock) -> anyhow::Result<()> {
        match command {
            Commands::Worker => {
                kyc::startup::run_worker(config, clock, common::shutdown::on_signal()).await
            }
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::cli::main::<Binary>().await
}
