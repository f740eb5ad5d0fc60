//! `traces serve` takes the services' spans (OTLP/HTTP) into `TRACES_DIR`;
//! `traces show ID` prints one trace as a tree; `traces last [--route R] [-n N]` prints the
//! newest traces (of a route). `make run` serves it; `make trace` shows.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use traces::{Receiver, Store};

#[derive(Parser)]
#[command(about = "The developer's trace receiver and viewer of `make run`.")]
struct Cli {
    /// Where spans are kept.
    #[arg(long, env = "TRACES_DIR", default_value = "data/traces", global = true)]
    dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Take spans on `POST /v1/traces` until SIGINT or SIGTERM.
    Serve {
        #[arg(long, env = "TRACES_LISTEN", default_value = "127.0.0.1:4318")]
        listen: String,
        /// Size at which the span file is moved aside (the one before is dropped).
        #[arg(long, env = "TRACES_MAX_BYTES", default_value_t = 64 << 20)]
        max_bytes: u64,
    },
    /// One trace as a tree.
    Show { id: String },
    /// The newest traces, newest first: as trees, or one line each with `--list`.
    Last {
        /// Only traces whose first span's route (or target, or name) contains this.
        #[arg(long)]
        route: Option<String>,
        #[arg(short = 'n', default_value_t = 3)]
        n: usize,
        #[arg(long)]
        list: bool,
    },
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { listen, max_bytes } => {
            let store = Arc::new(Store::open(&cli.dir, max_bytes)?);
            let listener =
                TcpListener::bind(&listen).with_context(|| format!("listening on {listen}"))?;
            let receiver = Receiver::start(listener, store)?;
            eprintln!(
                "traces: taking OTLP/HTTP spans on {} into {}",
                receiver.endpoint(),
                cli.dir.display()
            );
            shutdown().await;
            receiver.stop().await;
        }
        Command::Show { id } => {
            let spans = Store::trace(&cli.dir, &id)?;
            if spans.is_empty() {
                anyhow::bail!("no spans of trace {id} in {}", cli.dir.display());
            }
            print!("{}", traces::render(&spans));
        }
        Command::Last { route, n, list } => {
            let traces = Store::last(&cli.dir, route.as_deref(), n)?;
            if traces.is_empty() {
                anyhow::bail!(
                    "no traces{} in {} (is `make run` up with TRACES on?)",
                    route.map(|r| format!(" of {r}")).unwrap_or_default(),
                    cli.dir.display()
                );
            }
            for spans in traces {
                if list {
                    println!("{}", traces::render::summary(&spans));
                } else {
                    println!("{}", traces::render(&spans));
                }
            }
        }
    }
    Ok(())
}

async fn shutdown() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
