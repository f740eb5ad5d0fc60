//! Vestio load tests: one goose scenario set per service.
//!
//! ```sh
//! cargo run --release -p loadtest -- --service auth --users 64 --duration 30s --target gateway
//! ```
//!
//! Goose writes its HTML and JSON reports to
//! `reports/loadtest/<service>-<target>-<timestamp>.{html,json}`; afterwards a compact
//! table of req/s and p50/p95/p99 per request name is printed. See docs/performance.md.

mod auth;
mod summary;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use goose::config::GooseConfiguration;
use goose::prelude::*;

/// The gateway's address when `--target gateway` and no `--host`.
const GATEWAY_URL: &str = "http://127.0.0.1:8080";

#[derive(Debug, Parser)]
#[command(
    name = "loadtest",
    about = "Load-test one Vestio service (goose), directly or through the gateway.",
    after_help = "Start the stack first (`make run`). For auth, start it with \
                  AUTH_RATE_BURST=1000000: every simulated user shares one client IP."
)]
struct Cli {
    /// The service whose scenario set runs.
    #[arg(long, value_enum, default_value_t = Service::Auth)]
    service: Service,
    /// Concurrent simulated users.
    #[arg(long, default_value_t = 64)]
    users: usize,
    /// How long the load runs once every user has started, e.g. 30s, 2m, 1m30s.
    #[arg(long, default_value = "30s")]
    duration: String,
    /// `gateway` (http://127.0.0.1:8080) or `direct` (the service's own port).
    #[arg(long, value_enum, default_value_t = Target::Gateway)]
    target: Target,
    /// Base URL overriding the one `--target` implies, e.g. http://127.0.0.1:9081.
    #[arg(long)]
    host: Option<String>,
    /// Users started per second (default: all of them within about a second).
    #[arg(long)]
    increase_rate: Option<f64>,
    /// Folder for goose's HTML and JSON reports.
    #[arg(long, default_value = "reports/loadtest")]
    reports_dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Service {
    Auth,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Auth => "auth",
        }
    }

    /// The service's own address (`--target direct`).
    fn direct_url(self) -> &'static str {
        match self {
            Service::Auth => "http://127.0.0.1:8081",
        }
    }

    /// A GET that answers 2xx only when the service is up behind `target`. Through the
    /// gateway `/healthz` is nginx's own, so ask for a route of the service.
    fn probe_path(self, target: Target) -> &'static str {
        match (self, target) {
            (_, Target::Direct) => "/healthz",
            (Service::Auth, Target::Gateway) => "/api/auth/.well-known/jwks.json",
        }
    }

    fn scenarios(self) -> Vec<Scenario> {
        match self {
            Service::Auth => auth::scenarios(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Target {
    Gateway,
    Direct,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Gateway => "gateway",
            Target::Direct => "direct",
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("loadtest: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(cli.users > 0, "--users must be at least 1");
    let host = cli
        .host
        .clone()
        .unwrap_or_else(|| match cli.target {
            Target::Gateway => GATEWAY_URL.to_owned(),
            Target::Direct => cli.service.direct_url().to_owned(),
        })
        .trim_end_matches('/')
        .to_owned();

    if let Err(why) = preflight(&host, cli.service.probe_path(cli.target)).await {
        eprintln!(
            "loadtest: {} is not answering through {} at {host} ({why:#}).\n\
             Start the stack first with `make run` (or start {} yourself and pass --host URL).",
            cli.service.name(),
            cli.target.name(),
            cli.service.name(),
        );
        return Ok(ExitCode::from(2));
    }

    std::fs::create_dir_all(&cli.reports_dir)
        .with_context(|| format!("creating {}", cli.reports_dir.display()))?;
    let stem = format!(
        "{}-{}-{}",
        cli.service.name(),
        cli.target.name(),
        chrono::Local::now().format("%Y%m%dT%H%M%S")
    );
    let report = |ext: &str| {
        cli.reports_dir
            .join(format!("{stem}.{ext}"))
            .to_string_lossy()
            .into_owned()
    };
    let (html, json) = (report("html"), report("json"));

    let mut config = GooseConfiguration::default();
    config.host = Some(host.clone());
    config.users = Some(cli.users);
    config.increase_rate = Some(
        cli.increase_rate
            .unwrap_or(cli.users as f64)
            .max(0.001)
            .to_string(),
    );
    config.run_time = Some(cli.duration.clone());
    config.report_file = vec![html.clone(), json.clone()];
    // Keep the start-up register/login in the figures: they are measured once.
    config.no_reset_metrics = true;
    // No controllers: two runs at once must not fight over their ports.
    config.no_telnet = true;
    config.no_websocket = true;

    println!(
        "loadtest: {} via {} at {host}, {} users for {}",
        cli.service.name(),
        cli.target.name(),
        cli.users,
        cli.duration
    );
    let mut attack = GooseAttack::initialize_with_config(config)?;
    for scenario in cli.service.scenarios() {
        attack = attack.register_scenario(scenario);
    }
    let metrics = attack.execute().await?;

    println!();
    print!("{}", summary::table(&metrics));
    println!("\nreports: {html}\n         {json}");
    Ok(ExitCode::SUCCESS)
}

/// GET `host` + `path` and require a 2xx within a few seconds.
async fn preflight(host: &str, path: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let url = format!("{host}{path}");
    let response = client.get(&url).send().await.context(url.clone())?;
    anyhow::ensure!(
        response.status().is_success(),
        "GET {url} answered {}",
        response.status()
    );
    Ok(())
}
