use clap::{Parser, Subcommand};

use auth::{Application, AuthConfig};

#[global_allocator]
static ALLOCATOR: common::Allocator = common::Allocator;

#[derive(Parser)]
#[command(name = "auth", about = "Vestio auth service", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
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
    /// The dead letters of `events:auth`: list them, or requeue them after a fix.
    DeadLetters {
        #[command(subcommand)]
        action: common::queue::DeadLetters,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = common::telemetry::init("auth");
    let cli = Cli::parse();
    let config = AuthConfig::from_env()?;
    let clock = common::clock::system();
    match cli.command.unwrap_or(Command::Serve) {
        Command::DeadLetters { action } => {
            let keys = common::keys::Keys::new(&config.base.redis_prefix);
            action
                .run(
                    &config.base.redis_url,
                    &keys.events(common::events::Service::Auth),
                )
                .await
        }
        Command::Serve => {
            let app = Application::build(config, clock).await?;
            app.run_until_stopped(common::shutdown::on_signal()).await
        }
        Command::Migrate => auth::cli::migrate(&config).await,
        Command::CreateAdmin {
            email,
            password,
            full_name,
        } => auth::cli::create_admin(&config, clock, &email, &password, &full_name).await,
        Command::RotateKey => auth::cli::rotate_key(&config, clock),
        Command::RetireKey { kid } => auth::cli::retire_key(&config, &kid).await,
    }
}
