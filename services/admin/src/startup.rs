//! The service, as a table of contents: database and Redis, the event consumer that
//! appends the audit log, the head copy and the HTTP API.

use common::clock::SharedClock;
use common::events::Service;
use service_kit::{Kit, Running};
use utoipa::OpenApi;

use crate::config::AdminConfig;
use crate::routes::{self, ApiDoc};
use crate::state::AppState;
use crate::store::migration::Migrator;

/// The running service.
pub type Application = Running<AppState>;

/// Builds the service and starts its background tasks; serve with `run_until_stopped`.
pub async fn build(config: AdminConfig, clock: SharedClock) -> anyhow::Result<Application> {
    let kit = Kit::start::<Migrator>(&config.base, clock).await?;
    let state = AppState::new(&kit, config);
    // Events wait on one head lock each: many per transaction share the lock, the round
    // trips and the commit's flush.
    let batch = state.config.event_batch;
    kit.consume_in_batches(Service::Admin, crate::inbound::Effects::new(&state), batch);
    let every = state.config.head_copy_interval;
    kit.every("head-copy", every, &state, |s| async move {
        crate::jobs::head_copy::run_once(&s).await
    });
    kit.serve(ApiDoc::openapi(), state, routes::mount).await
}

#[derive(clap::Subcommand)]
pub enum Commands {
    /// Append ROWS synthetic rows to the audit chain (valid links; no read model moves):
    /// a large log for the search load test (`make loadtest SERVICE=admin`).
    SeedAudit {
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
    },
}

/// The `admin` binary (its `main` is `service_kit::cli::main::<Binary>()`).
pub struct Binary;

impl service_kit::cli::Binary for Binary {
    const NAME: &'static str = "admin";
    const ABOUT: &'static str = "Vestio admin service";
    const SERVES: &'static str =
        "Serve the HTTP API, the event consumer (the audit log) and the head copy (the default)";
    const SERVICE: Service = Service::Admin;
    type Config = AdminConfig;
    type Migrator = Migrator;
    type Commands = Commands;
    type State = AppState;

    fn config() -> anyhow::Result<AdminConfig> {
        Ok(AdminConfig::from_env()?)
    }

    fn base(config: &AdminConfig) -> &service_kit::config::BaseConfig {
        &config.base
    }

    async fn build(config: AdminConfig, clock: SharedClock) -> anyhow::Result<Application> {
        build(config, clock).await
    }

    async fn run(command: Commands, config: AdminConfig, clock: SharedClock) -> anyhow::Result<()> {
        match command {
            Commands::SeedAudit { rows } => {
                let db = config.base.database::<Migrator>().await?;
                let started = std::time::Instant::now();
                use secrecy::ExposeSecret;
                let count = crate::store::seed::seed(
                    &db,
                    config.chain_key.expose_secret().as_bytes(),
                    rows,
                    clock.now(),
                )
                .await?;
                println!(
                    "Appended {rows} synthetic audit rows in {:.1} s; the chain holds {count}.",
                    started.elapsed().as_secs_f64()
                );
                Ok(())
            }
        }
    }
}
