use clap::Subcommand;
use common::SharedClock;
use common::config::BaseConfig;
use common::keys::{Keys, QueueName};

use auth::{Application, AuthConfig};

#[global_allocator]
static ALLOCATOR: common::Allocator = common::Allocator;

struct Binary;

#[derive(Subcommand)]
enum Commands {
    /// Create an admin account (admins cannot self-register).
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long, env = "ADMIN_PASSWORD")]
        password: String,
        #[arg(long, default_value = "Administrator")]
        full_name: String,
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
    type Migrator = auth::migration::Migrator;
    type Commands = Commands;

    fn config() -> anyhow::Result<AuthConfig> {
        Ok(AuthConfig::from_env()?)
    }

    fn base(config: &AuthConfig) -> &BaseConfig {
        &config.base
    }

    fn dead_letter_queue(keys: &Keys) -> QueueName {
        keys.events(common::events::Service::Auth)
    }

    async fn serve(config: AuthConfig, clock: SharedClock) -> anyhow::Result<()> {
        let app = Application::build(config, clock).await?;
        app.run_until_stopped(common::shutdown::on_signal()).await
    }

    async fn run(command: Commands, config: AuthConfig, clock: SharedClock) -> anyhow::Result<()> {
        match command {
            Commands::CreateAdmin {
                email,
                password,
                full_name,
            } => auth::cli::create_admin(&config, clock, &email, &password, &full_name).await,
            Commands::RotateKey => auth::cli::rotate_key(&config, clock),
            Commands::RetireKey { kid } => auth::cli::retire_key(&config, &kid).await,
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::cli::main::<Binary>().await
}
