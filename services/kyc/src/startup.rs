//! The service, as a table of contents: database and Redis, storage and identity key, the
//! outbox relay, the requeue sweep, the document workers (in process, or in `kyc worker`)
//! and the HTTP API.

use common::clock::SharedClock;
use common::events::Service;
use service_kit::shutdown::CancellationToken;
use service_kit::{Kit, Running};
use utoipa::OpenApi;

use crate::config::KycConfig;
use crate::routes::{self, ApiDoc};
use crate::state::AppState;
use crate::store::migration::Migrator;

/// The running service.
pub type Application = Running<AppState>;

/// What every KYC process runs: the state, the outbox relay and the requeue sweep.
async fn core(config: KycConfig, clock: SharedClock) -> anyhow::Result<(Kit, AppState)> {
    let kit = Kit::start::<Migrator>(&config.base, clock).await?;
    let relay = kit.relay(Service::Kyc);
    let state = AppState::new(&kit, relay, config)?;
    let every = crate::jobs::requeue_every(&state);
    kit.every("requeue", every, &state, crate::jobs::requeue_round);
    Ok((kit, state))
}

/// The document workers `worker-0` .. `worker-{KYC_WORKERS - 1}`; one document may take
/// the virus scan's and the OCR's timeouts.
fn workers(kit: &Kit, state: &AppState) {
    let longest_job = state.config.clamd_timeout + state.config.ocr_timeout;
    for n in 0..state.config.workers.max(1) {
        kit.run_worker(
            &format!("worker-{n}"),
            longest_job,
            state,
            move |state, stop| crate::jobs::worker::run(state, n, stop),
        );
    }
}

/// Builds the service (with the document workers if `KYC_WORKER_IN_PROCESS`); serve with
/// `run_until_stopped`.
pub async fn build(config: KycConfig, clock: SharedClock) -> anyhow::Result<Application> {
    let (kit, state) = core(config, clock).await?;
    if state.config.worker_in_process {
        workers(&kit, &state);
    }
    kit.serve(ApiDoc::openapi(), state, routes::mount).await
}

/// `kyc worker`: the document workers (and the relay and sweep) without the API; only
/// `/healthz`, `/readyz` (503 while a worker is down or hung) and `/metrics` on
/// `HOST:PORT`, for the probes.
pub async fn build_worker(config: KycConfig, clock: SharedClock) -> anyhow::Result<Application> {
    let (kit, state) = core(config, clock).await?;
    workers(&kit, &state);
    kit.serve_probes(state).await
}

/// [`build_worker`], run until `shutdown`.
pub async fn run_worker(
    config: KycConfig,
    clock: SharedClock,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    build_worker(config, clock)
        .await?
        .run_until_stopped(shutdown)
        .await
}

/// The `kyc` binary (its `main` is `service_kit::cli::main::<Binary>()`).
pub struct Binary;

#[derive(clap::Subcommand)]
pub enum Commands {
    /// Process documents from the queue only (the Kubernetes worker Deployment).
    Worker,
}

impl service_kit::cli::Binary for Binary {
    const NAME: &'static str = "kyc";
    const ABOUT: &'static str = "Vestio KYC service";
    const SERVES: &'static str =
        "Serve the HTTP API (the default); with KYC_WORKER_IN_PROCESS=true also process documents";
    const SERVICE: Service = Service::Kyc;
    type Config = KycConfig;
    type Migrator = Migrator;
    type Commands = Commands;
    type State = AppState;

    fn config() -> anyhow::Result<KycConfig> {
        KycConfig::from_env()
    }

    fn base(config: &KycConfig) -> &service_kit::config::BaseConfig {
        &config.base
    }

    /// KYC's dead letters are the documents whose checks could not run.
    fn dead_letter_queue(keys: &common::keys::Keys) -> common::keys::QueueName {
        keys.kyc_processing()
    }

    async fn build(config: KycConfig, clock: SharedClock) -> anyhow::Result<Application> {
        build(config, clock).await
    }

    async fn run(command: Commands, config: KycConfig, clock: SharedClock) -> anyhow::Result<()> {
        match command {
            Commands::Worker => run_worker(config, clock, service_kit::shutdown::on_signal()).await,
        }
    }
}
