//! The command line of every service binary: `serve` (the default), `migrate`,
//! `dead-letters list|requeue`, and the service's own commands. A service's `main` is
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: crate::Allocator = crate::Allocator;
//!
//! #[tokio::main]
//! async fn main() -> anyhow::Result<()> {
//!     crate::cli::main::<invoice::Binary>().await
//! }
//! ```
//!
//! with the service describing itself once ([`Binary`]).

use crate::config::BaseConfig;
use crate::queue::DeadLetters;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use common::SharedClock;
use common::events::Service;
use common::keys::{Keys, QueueName};
use sea_orm_migration::MigratorTrait;

use crate::Running;

/// A service binary: its name, configuration, schema and what `serve` runs.
// The futures run on the binary's main thread (`#[tokio::main]`'s block_on): no Send
// bound is needed.
#[allow(async_fn_in_trait)]
pub trait Binary {
    /// The binary's name (telemetry, `--help`).
    const NAME: &'static str;
    /// One line for `--help`.
    const ABOUT: &'static str;
    /// What `serve` runs, for `--help`.
    const SERVES: &'static str;
    /// The service (its events queue is the default dead-letter queue).
    const SERVICE: Service;
    type Config;
    type Migrator: MigratorTrait;
    /// The service's own commands ([`NoCommands`] if none).
    type Commands: Subcommand;
    /// What the running service's handlers share.
    type State;

    fn config() -> anyhow::Result<Self::Config>;
    fn base(config: &Self::Config) -> &BaseConfig;
    /// Builds the service (see [`crate::Kit`]).
    async fn build(
        config: Self::Config,
        clock: SharedClock,
    ) -> anyhow::Result<Running<Self::State>>;

    /// The queue whose dead letters `dead-letters` handles: the service's `events:<name>`.
    fn dead_letter_queue(keys: &Keys) -> QueueName {
        keys.events(Self::SERVICE)
    }
    /// Runs the service until a signal.
    async fn serve(config: Self::Config, clock: SharedClock) -> anyhow::Result<()> {
        let running = Self::build(config, clock).await?;
        running
            .run_until_stopped(crate::shutdown::on_signal())
            .await
    }
    /// Runs one of the service's own commands (a service with some overrides this).
    async fn run(
        command: Self::Commands,
        config: Self::Config,
        clock: SharedClock,
    ) -> anyhow::Result<()> {
        let _ = (config, clock);
        let _ = command;
        anyhow::bail!("{} has no commands of its own", Self::NAME)
    }
}

/// The own commands of a service that has none.
#[derive(Debug, Clone, Copy, Subcommand)]
pub enum NoCommands {}

#[derive(Parser)]
struct Cli<C: Subcommand> {
    #[command(subcommand)]
    command: Option<Command<C>>,
}

#[derive(Subcommand)]
enum Command<C: Subcommand> {
    /// Serve (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// The dead letters of the service's queue: list them, or requeue them after a fix.
    DeadLetters {
        #[command(subcommand)]
        action: DeadLetters,
    },
    /// Print the platform's Redis ACL file (one user per service, from the key schema in
    /// common::acl; the default user may only PING), passwords from one file per user in
    /// --passwords (made, random, when missing).
    RedisAcl {
        /// A folder of password files named after the users: operator, auth, kyc, ...
        #[arg(long)]
        passwords: std::path::PathBuf,
    },
    /// Make the event signing keys of every service in --dir (one `<service>.key`, made
    /// when missing) and print their public keys as EVENT_PUBLIC_KEYS wants them.
    EventKeys {
        /// The folder of the keys.
        #[arg(long)]
        dir: std::path::PathBuf,
    },
    #[command(flatten)]
    Own(C),
}

/// Writes `text` into a new file readable by its owner only.
fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(path)?, text.as_bytes())?;
    Ok(())
}

/// The secret kept in `path`, trimmed; when the file is missing, `make()`'s, written there
/// (readable by its owner only) first.
fn kept_secret(path: &std::path::Path, make: impl FnOnce() -> String) -> anyhow::Result<String> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return Ok(text.trim().to_owned());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let secret = make();
    write_private(path, &secret)?;
    Ok(secret)
}

/// Every service's event signing key in `dir/<service>.key` (made when missing): the
/// public keys as `EVENT_PUBLIC_KEYS` text.
pub fn event_keys(dir: &std::path::Path) -> anyhow::Result<String> {
    use common::events::signing::{Keyring, Signer};
    let mut signers = Vec::new();
    for service in common::events::Service::ALL {
        let path = dir.join(format!("{}.key", service.as_str()));
        let seed = kept_secret(&path, || Signer::generate(service).seed_base64())?;
        signers.push(Signer::from_base64(service, &seed)?);
    }
    Ok(Keyring::of(&signers).to_text())
}

/// The password in `dir/<user>`, made (random, 64 hex digits) when the file is missing.
fn password_file(dir: &std::path::Path, user: &str) -> anyhow::Result<String> {
    kept_secret(&dir.join(user), || {
        format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        )
    })
}

/// The ACL file of the platform under `prefix`, with the passwords of `dir`.
pub fn redis_acl(prefix: &str, dir: &std::path::Path) -> anyhow::Result<String> {
    let mut passwords = std::collections::HashMap::new();
    let users = std::iter::once(common::acl::OPERATOR)
        .chain(common::events::Service::ALL.iter().map(|s| s.as_str()));
    for user in users {
        passwords.insert(user, password_file(dir, user)?);
    }
    Ok(common::acl::acl_file(&Keys::new(prefix), |user| {
        passwords.get(user).cloned().unwrap_or_default()
    }))
}

/// Parses the command line and runs what it says, with telemetry initialised as `B`.
pub async fn main<B: Binary>() -> anyhow::Result<()> {
    let _telemetry = crate::telemetry::init(B::NAME);
    let matches = Cli::<B::Commands>::command()
        .name(B::NAME)
        .about(B::ABOUT)
        .version(env!("CARGO_PKG_VERSION"))
        .mut_subcommand("serve", |c| c.about(B::SERVES))
        .get_matches();
    let cli = Cli::<B::Commands>::from_arg_matches(&matches)?;
    let config = B::config()?;
    let clock = common::clock::system();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => B::serve(config, clock).await,
        Command::Migrate => {
            crate::db::connect_and_migrate::<B::Migrator>(&B::base(&config).database_url).await?;
            tracing::info!(service = B::NAME, "Migrations applied.");
            Ok(())
        }
        Command::DeadLetters { action } => {
            let base = B::base(&config);
            let keys = Keys::new(&base.redis_prefix);
            action
                .run(&base.redis_url, &B::dead_letter_queue(&keys))
                .await
        }
        Command::RedisAcl { passwords } => {
            print!("{}", redis_acl(&B::base(&config).redis_prefix, &passwords)?);
            Ok(())
        }
        Command::EventKeys { dir } => {
            println!("{}", event_keys(&dir)?);
            Ok(())
        }
        Command::Own(command) => B::run(command, config, clock).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Subcommand)]
    enum Own {
        /// A command of the service's own.
        Rotate { kid: String },
    }

    #[test]
    fn redis_acl_makes_each_password_once_and_keeps_it() {
        let dir = tempfile_dir();
        let first = redis_acl("", &dir).unwrap();
        let auth = std::fs::read_to_string(dir.join("auth")).unwrap();
        assert_eq!(auth.len(), 64);
        assert!(first.contains(&common::acl::password_hash(&auth)));
        assert_eq!(redis_acl("", &dir).unwrap(), first, "passwords are kept");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn event_keys_are_made_once_and_their_public_keys_printed() {
        let dir = tempfile_dir();
        let first = event_keys(&dir).unwrap();
        let ring = common::events::signing::Keyring::parse(&first).unwrap();
        assert_eq!(ring.to_text(), first);
        assert_eq!(first.split(',').count(), 7);
        assert_eq!(event_keys(&dir).unwrap(), first, "keys are kept");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> std::path::PathBuf {
        std::env::temp_dir().join(format!("redis-acl-{}", uuid::Uuid::new_v4().simple()))
    }

    fn parse<C: Subcommand>(args: &[&str]) -> Result<Option<Command<C>>, clap::Error> {
        Cli::<C>::try_parse_from(args).map(|c| c.command)
    }

    #[test]
    fn the_shared_commands_and_the_services_own_parse() {
        Cli::<Own>::command().debug_assert();
        Cli::<NoCommands>::command().debug_assert();
        assert!(matches!(parse::<NoCommands>(&["svc"]), Ok(None)));
        assert!(matches!(
            parse::<NoCommands>(&["svc", "migrate"]),
            Ok(Some(Command::Migrate))
        ));
        assert!(matches!(
            parse::<NoCommands>(&["svc", "dead-letters", "requeue", "--all"]),
            Ok(Some(Command::DeadLetters { .. }))
        ));
        assert!(matches!(
            parse::<Own>(&["svc", "rotate", "k1"]),
            Ok(Some(Command::Own(Own::Rotate { kid }))) if kid == "k1"
        ));
        assert!(matches!(
            parse::<NoCommands>(&["svc", "redis-acl", "--passwords", "/tmp/x"]),
            Ok(Some(Command::RedisAcl { .. }))
        ));
        assert!(parse::<NoCommands>(&["svc", "rotate", "k1"]).is_err());
        assert!(parse::<NoCommands>(&["svc", "serve", "extra"]).is_err());
    }
}
