//! The service, as a table of contents: database and Redis, the signing keys (reloaded
//! every minute), the outbox relay, the event consumer and the HTTP API (limited per
//! client address).

use common::clock::SharedClock;
use common::events::Service;
use service_kit::{Kit, Running};
use utoipa::OpenApi;

use crate::config::AuthConfig;
use crate::routes::{self, ApiDoc};
use crate::state::AppState;
use crate::store::keystore::{self, KeyStore};
use crate::store::migration::Migrator;

/// The running service.
pub type Application = Running<AppState>;

/// Builds the service and starts its background tasks; serve with `run_until_stopped`.
pub async fn build(config: AuthConfig, clock: SharedClock) -> anyhow::Result<Application> {
    let kit = Kit::start::<Migrator>(&config.base, clock).await?;
    let keystore = KeyStore::open(&config, &kit.clock, &kit.redis, &kit.keys).await?;
    let relay = kit.relay(Service::Auth);
    let totp_cipher = crate::store::totp::cipher(&config)?;
    crate::store::totp::encrypt_plain(&kit.db, &totp_cipher).await?;
    let state = AppState::new(&kit, keystore, relay, totp_cipher, config);
    kit.every(
        "keys",
        keystore::RELOAD_EVERY,
        &state,
        keystore::reload_round,
    );
    kit.run("consumer", &state, crate::inbound::run);
    kit.serve(ApiDoc::openapi(), state, routes::mount).await
}

/// The `auth` binary (its `main` is `service_kit::cli::main::<Binary>()`).
pub struct Binary;

#[derive(clap::Subcommand)]
pub enum Commands {
    /// Create an admin account (admins cannot self-register).
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long, env = "ADMIN_PASSWORD")]
        password: String,
        #[arg(long, default_value = "Administrator")]
        full_name: String,
    },
    /// Remove an account's second factor (an admin who lost the device): the next
    /// sign-in asks for the password only, and the admin sets a new factor up.
    ResetTotp {
        #[arg(long)]
        email: String,
    },
    /// Write a new signing key into JWT_KEYS_DIR; running instances use it within a minute.
    RotateKey,
    /// Withdraw a retired key from the published set.
    RetireKey { kid: String },
}

impl service_kit::cli::Binary for Binary {
    const NAME: &'static str = "auth";
    const ABOUT: &'static str = "Vestio auth service";
    const SERVES: &'static str = "Serve the HTTP API (the default)";
    type Config = AuthConfig;
    const SERVICE: Service = Service::Auth;
    type Migrator = Migrator;
    type Commands = Commands;
    type State = AppState;

    fn config() -> anyhow::Result<AuthConfig> {
        Ok(AuthConfig::from_env()?)
    }

    fn base(config: &AuthConfig) -> &service_kit::config::BaseConfig {
        &config.base
    }

    async fn build(config: AuthConfig, clock: SharedClock) -> anyhow::Result<Application> {
        build(config, clock).await
    }

    async fn run(command: Commands, config: AuthConfig, clock: SharedClock) -> anyhow::Result<()> {
        match command {
            Commands::CreateAdmin {
                email,
                password,
                full_name,
            } => crate::cli::create_admin(&config, clock, &email, &password, &full_name).await,
            Commands::ResetTotp { email } => crate::cli::reset_totp(&config, &email).await,
            Commands::RotateKey => crate::cli::rotate_key(&config, clock),
            Commands::RetireKey { kid } => crate::cli::retire_key(&config, &kid).await,
        }
    }
}
