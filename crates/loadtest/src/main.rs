//! Vestio load tests: one goose scenario set per service.
//!
//! ```sh
//! cargo run --release -p loadtest -- --service auth --users 64 --duration 30s --target gateway
//! cargo run --release -p loadtest -- --service kyc --users 32 --duration 30s
//! cargo run --release -p loadtest -- --service kyc-processing --documents 500
//! ADMIN_EMAIL=.. ADMIN_PASSWORD=.. cargo run --release -p loadtest -- --service invoice --users 32
//! ADMIN_EMAIL=.. ADMIN_PASSWORD=.. cargo run --release -p loadtest -- --service invoice-search
//! ADMIN_EMAIL=.. ADMIN_PASSWORD=.. cargo run --release -p loadtest -- --service marketplace
//! cargo run --release -p loadtest -- --service notifications-ws --clients 1000 --rate 1000 --duration 30s
//! ```
//!
//! Goose writes its HTML and JSON reports to
//! `reports/loadtest/<service>-<target>-<timestamp>.{html,json}`; afterwards a compact
//! table of req/s and p50/p95/p99 per request name is printed. `kyc-processing` is not a
//! goose run: it measures how many uploaded documents KYC's workers process per second
//! (see [`processing`]); nor is `notifications-ws`: `--clients` WebSocket clients of the
//! notifications service receive `--rate` notifications a second published on Redis, and
//! it reports delivery, latency p50/p90/p99/max and the service's memory per connection,
//! exiting non-zero below the target (see [`notifications`]). See docs/performance.md.

mod admin;
mod auth;
mod bench;
mod consumer;
mod cpu;
mod invoice;
mod kyc;
mod marketplace;
mod notifications;
mod payments;
mod png;
mod processing;
mod rss;
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
    after_help = "Start the stack first (`make run`). Start it with AUTH_RATE_BURST=1000000 \
                  (every simulated user shares one client IP, and every scenario signs its \
                  users up through auth), and for kyc and kyc-processing also with \
                  KYC_UPLOADS_BURST=1000000 (the per-user upload quota)."
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
    /// Base URL of auth for the sign-ups of another service's scenario (default: the
    /// host with `--target gateway`, http://127.0.0.1:8081 with `--target direct`).
    #[arg(long)]
    auth_host: Option<String>,
    /// kyc-processing: documents uploaded and waited for.
    #[arg(long, env = "LOADTEST_DOCUMENTS", default_value_t = 500)]
    documents: usize,
    /// kyc-processing: accounts the documents are spread over.
    #[arg(long, env = "LOADTEST_ACCOUNTS", default_value_t = 4)]
    accounts: usize,
    /// kyc-processing: uploads in flight at once.
    #[arg(long, env = "LOADTEST_CONCURRENCY", default_value_t = 8)]
    concurrency: usize,
    /// kyc-processing: seconds to wait after the last upload for every document to be
    /// processed.
    #[arg(long, default_value_t = 600)]
    processing_timeout: u64,
    /// invoice, invoice-search, marketplace: listed invoices seeded first (through the
    /// gateway, with the admin in ADMIN_EMAIL / ADMIN_PASSWORD).
    #[arg(long, default_value_t = 200)]
    invoices: usize,
    /// invoice, invoice-search, marketplace: the gateway the seeding goes through.
    #[arg(long, default_value = GATEWAY_URL)]
    seed_host: String,
    /// invoice-search: connections of wrk and redis-benchmark.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// invoice-search, marketplace: the Redis of the stack for redis-benchmark (make run's
    /// own is on 6380); notifications-ws: the Redis the notifications are published on
    /// (HOST:PORT or a redis:// URL).
    #[arg(long, default_value = "127.0.0.1:6380")]
    redis: String,
    /// notifications-ws: the stack's Redis key prefix (make run: none).
    #[arg(long, default_value = "")]
    redis_prefix: String,
    /// marketplace: KYC-approved investors seeded (slow: a few), their tokens shared by
    /// the users (marketplace-offers: at least min(users, 16)).
    #[arg(long, default_value_t = 4)]
    investors: usize,
    /// invoice-search, notifications-ws: the service's pid, for its memory (default: make
    /// run's pid file, data/run/invoice.pid or data/run/notifications.pid).
    #[arg(long)]
    pid: Option<u32>,
    /// notifications-ws: WebSocket clients, each a user of its own; notifications-events:
    /// the users the events are for, round robin.
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// notifications-ws: notifications published per second, over all clients.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// payments: accepted offers seeded (each funded by one measured webhook).
    #[arg(long, default_value_t = 2000)]
    financings: usize,
    /// payments: the sellers the financings belong to, round robin (one seller's
    /// fundings take that seller's payable account one after another).
    #[arg(long, default_value_t = 100)]
    sellers: usize,
    /// payments: the sandbox provider's address.
    #[arg(long, default_value = "http://127.0.0.1:8090")]
    sandbox: String,
    /// payments: the webhook secret(s) payments accepts (make run writes one to
    /// $DATA_DIR/sandbox-webhook-secret, read when this is unset).
    #[arg(long, env = "SANDBOX_WEBHOOK_SECRETS", hide_env_values = true)]
    webhook_secrets: Option<String>,
    /// admin, notifications-events: catalogue events pushed onto the service's queue and
    /// timed until recorded.
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// admin: the rows the audit log must hold before its search is measured (seed with
    /// `admin seed-audit`).
    #[arg(long, default_value_t = 1_000_000)]
    rows: i64,
    /// payments, admin: the PostgreSQL server pgbench inserts into in the same run (the
    /// service's own).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pgbench_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Service {
    Auth,
    Kyc,
    /// Not a goose scenario: documents processed per second by KYC's workers.
    KycProcessing,
    Invoice,
    /// Not a goose scenario: cached search with wrk against redis-benchmark.
    InvoiceSearch,
    /// Offers on seeded listings, then redis-benchmark for comparison.
    Marketplace,
    /// Offers only (each withdrawn at once), beside pgbench on marketplace's PostgreSQL
    /// (`--pgbench-url`).
    MarketplaceOffers,
    /// Not a goose scenario: WebSocket clients of notifications, fed through Redis.
    NotificationsWs,
    /// Not a goose scenario: a burst of events on events:notifications, timed until
    /// stored, beside pgbench.
    NotificationsEvents,
    /// Not a goose scenario: signed provider webhooks beside pgbench.
    Payments,
    /// Not a goose scenario: the audit log's ingest beside pgbench, its search latency
    /// over a million rows beside redis-benchmark.
    Admin,
    /// `make bench`: the hot read paths with wrk, one table beside redis-benchmark GET and
    /// pgbench from the same run.
    Bench,
}

/// Auth's own address (`--target direct`).
const AUTH_DIRECT_URL: &str = "http://127.0.0.1:8081";

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Auth => "auth",
            Service::Kyc => "kyc",
            Service::KycProcessing => "kyc-processing",
            Service::Invoice => "invoice",
            Service::InvoiceSearch => "invoice-search",
            Service::Marketplace => "marketplace",
            Service::MarketplaceOffers => "marketplace-offers",
            Service::NotificationsWs => "notifications-ws",
            Service::NotificationsEvents => "notifications-events",
            Service::Payments => "payments",
            Service::Admin => "admin",
            Service::Bench => "bench",
        }
    }

    /// The service's own address (`--target direct`).
    fn direct_url(self) -> &'static str {
        match self {
            Service::Auth => AUTH_DIRECT_URL,
            Service::Kyc | Service::KycProcessing => "http://127.0.0.1:8082",
            Service::Invoice | Service::InvoiceSearch => "http://127.0.0.1:8083",
            Service::Marketplace | Service::MarketplaceOffers | Service::Bench => {
                "http://127.0.0.1:8084"
            }
            Service::NotificationsWs | Service::NotificationsEvents => "http://127.0.0.1:8087",
            Service::Payments => "http://127.0.0.1:8085",
            Service::Admin => "http://127.0.0.1:8086",
        }
    }

    /// Whether the scenario also needs auth (to sign its users up; marketplace's users
    /// share seeded investors' tokens).
    fn uses_auth(self) -> bool {
        !matches!(
            self,
            Service::Auth
                | Service::Marketplace
                | Service::MarketplaceOffers
                | Service::Admin
                | Service::NotificationsEvents
                | Service::Bench
        )
    }

    /// A GET that answers as expected only when the service is up behind `target`.
    /// Through the gateway `/healthz` is nginx's own, so ask for a route of the service.
    fn probe(self, target: Target) -> Probe {
        match (self, target) {
            (_, Target::Direct) => Probe::Success("/healthz"),
            (Service::Auth, Target::Gateway) => Probe::Success(AUTH_PROBE),
            // Only kyc answers this with a 401 problem (the gateway's own errors are 502
            // or 503 when kyc is down or not routed).
            (Service::Kyc | Service::KycProcessing, Target::Gateway) => {
                Probe::Unauthorized(kyc::STATUS_PATH)
            }
            (Service::Invoice | Service::InvoiceSearch, Target::Gateway) => {
                Probe::Unauthorized("/api/invoices")
            }
            (
                Service::Marketplace | Service::MarketplaceOffers | Service::Bench,
                Target::Gateway,
            ) => Probe::Unauthorized("/api/marketplace/offers"),
            (Service::NotificationsWs | Service::NotificationsEvents, Target::Gateway) => {
                Probe::Unauthorized("/api/notifications")
            }
            (Service::Payments, Target::Gateway) => Probe::Unauthorized("/api/payments/fundings"),
            (Service::Admin, Target::Gateway) => Probe::Unauthorized("/api/admin/dashboard"),
        }
    }

    fn scenarios(self) -> Vec<Scenario> {
        match self {
            Service::Auth => auth::scenarios(),
            Service::Kyc => kyc::scenarios(),
            Service::Invoice => invoice::scenarios(),
            Service::Marketplace => marketplace::scenarios(),
            Service::MarketplaceOffers => marketplace::offer_scenarios(),
            Service::KycProcessing
            | Service::InvoiceSearch
            | Service::NotificationsWs
            | Service::NotificationsEvents
            | Service::Payments
            | Service::Admin
            | Service::Bench => Vec::new(),
        }
    }
}

/// Auth's route that answers 200 through the gateway without a token.
const AUTH_PROBE: &str = "/api/auth/.well-known/jwks.json";

/// What the pre-flight GET must answer.
#[derive(Debug, Clone, Copy)]
enum Probe {
    /// Any 2xx.
    Success(&'static str),
    /// 401 application/problem+json: the service itself refused the missing token.
    Unauthorized(&'static str),
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

    let auth_host = cli
        .auth_host
        .clone()
        .unwrap_or_else(|| match cli.target {
            Target::Gateway => host.clone(),
            Target::Direct => AUTH_DIRECT_URL.to_owned(),
        })
        .trim_end_matches('/')
        .to_owned();

    let service = match cli.service {
        Service::KycProcessing => "kyc",
        Service::InvoiceSearch => "invoice",
        Service::NotificationsWs => "notifications",
        other => other.name(),
    };
    if let Err(why) = preflight(&host, cli.service.probe(cli.target)).await {
        eprintln!(
            "loadtest: {service} is not answering through {} at {host} ({why:#}).\n\
             Start the stack first with `make run` (or start {service} yourself and pass --host URL).",
            cli.target.name(),
        );
        return Ok(ExitCode::from(2));
    }
    if cli.service.uses_auth() {
        let probe = match cli.target {
            Target::Gateway => Probe::Success(AUTH_PROBE),
            Target::Direct => Probe::Success("/healthz"),
        };
        if let Err(why) = preflight(&auth_host, probe).await {
            eprintln!(
                "loadtest: auth (which signs the {service} scenario's users up) is not answering \
                 at {auth_host} ({why:#}).\n\
                 Start the stack first with `make run` (or pass --auth-host URL)."
            );
            return Ok(ExitCode::from(2));
        }
        if auth_host != host {
            auth::set_base(&auth_host);
        }
    }

    if cli.service == Service::KycProcessing {
        processing::run(processing::Settings {
            kyc: host,
            auth: auth_host,
            documents: cli.documents,
            accounts: cli.accounts,
            concurrency: cli.concurrency,
            timeout: Duration::from_secs(cli.processing_timeout),
        })
        .await?;
        return Ok(ExitCode::SUCCESS);
    }

    if cli.service == Service::NotificationsWs {
        let redis_url = redis_url_of(&cli.redis);
        let report = notifications::run(notifications::Settings {
            service: host,
            auth: auth_host,
            redis_url,
            redis_prefix: cli.redis_prefix.clone(),
            pid: cli.pid.or_else(|| rss::pid_of("notifications")),
            clients: cli.clients,
            rate: cli.rate,
            duration: Duration::from_secs(humantime_secs(&cli.duration)?),
            target: cli.target.name(),
        })
        .await?;
        return Ok(exit_code(report.passed()));
    }

    if cli.service == Service::Bench {
        let (redis_host, redis_port) = redis_host_port(&cli.redis);
        let passed = bench::run(bench::Settings {
            gateway: cli.seed_host.trim_end_matches('/').to_owned(),
            auth: AUTH_DIRECT_URL.to_owned(),
            invoice: Service::Invoice.direct_url().to_owned(),
            marketplace: Service::Marketplace.direct_url().to_owned(),
            notifications: Service::NotificationsWs.direct_url().to_owned(),
            redis_host,
            redis_port,
            redis_url: redis_url_of(&cli.redis),
            redis_prefix: cli.redis_prefix.clone(),
            notifications_pid: cli.pid.or_else(|| rss::pid_of("notifications")),
            clients: cli.clients,
            rate: cli.rate,
            reports_dir: cli.reports_dir.clone(),
            pgbench_url: cli.pgbench_url.clone(),
            invoices: cli.invoices,
            investors: cli.investors,
            connections: cli.connections,
            duration: Duration::from_secs(humantime_secs(&cli.duration)?),
        })
        .await?;
        return Ok(exit_code(passed));
    }

    if cli.service == Service::NotificationsEvents {
        let passed = consumer::run(consumer::Settings {
            redis_url: redis_url_of(&cli.redis),
            redis_prefix: cli.redis_prefix.clone(),
            events: cli.events,
            users: cli.clients,
            pgbench_url: cli.pgbench_url.clone(),
            pid: cli.pid.or_else(|| rss::pid_of("notifications")),
        })
        .await?;
        return Ok(exit_code(passed));
    }

    if cli.service == Service::Admin {
        let redis_url = redis_url_of(&cli.redis);
        let (redis_host, redis_port) = redis_host_port(&cli.redis);
        let passed = admin::run(admin::Settings {
            service: host,
            gateway: cli.seed_host.trim_end_matches('/').to_owned(),
            redis_url,
            redis_host,
            redis_port,
            redis_prefix: cli.redis_prefix.clone(),
            events: cli.events,
            rows: cli.rows,
            connections: cli.connections,
            duration: Duration::from_secs(humantime_secs(&cli.duration)?),
            pgbench_url: cli.pgbench_url.clone(),
        })
        .await?;
        return Ok(exit_code(passed));
    }

    if cli.service == Service::Payments {
        let secrets = match &cli.webhook_secrets {
            Some(s) => s.clone(),
            None => {
                let data = std::env::var("DATA_DIR").unwrap_or_else(|_| "data".into());
                let file = std::path::Path::new(&data).join("sandbox-webhook-secret");
                std::fs::read_to_string(&file)
                    .with_context(|| format!("no --webhook-secrets and no {}", file.display()))?
            }
        };
        let redis_url = redis_url_of(&cli.redis);
        let passed = payments::run(payments::Settings {
            service: host,
            auth: auth_host,
            sandbox: cli.sandbox.trim_end_matches('/').to_owned(),
            redis_url,
            redis_prefix: cli.redis_prefix.clone(),
            secrets,
            financings: cli.financings,
            investors: cli.investors,
            sellers: cli.sellers.max(1),
            concurrency: cli.connections,
            pgbench_url: cli.pgbench_url.clone(),
        })
        .await?;
        return Ok(exit_code(passed));
    }

    if matches!(cli.service, Service::Invoice | Service::InvoiceSearch) {
        invoice::seed_stack(cli.seed_host.trim_end_matches('/'), cli.invoices).await?;
    }
    if matches!(
        cli.service,
        Service::Marketplace | Service::MarketplaceOffers
    ) {
        let investors = if cli.service == Service::MarketplaceOffers {
            marketplace::offer_investors(cli.users, cli.investors)
        } else {
            cli.investors
        };
        marketplace::seed_stack(
            cli.seed_host.trim_end_matches('/'),
            cli.invoices,
            investors,
            cli.users,
        )
        .await?;
    }
    if cli.service == Service::InvoiceSearch {
        let (redis_host, redis_port) = cli
            .redis
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.to_owned(), p.parse().ok()?)))
            .context("--redis is HOST:PORT")?;
        let pid = cli.pid.or_else(|| rss::pid_of("invoice"));
        invoice::search_bench(invoice::SearchBench {
            service: host,
            auth: auth_host,
            redis_host,
            redis_port,
            pid,
            connections: cli.connections,
            duration_secs: humantime_secs(&cli.duration)?,
        })
        .await?;
        return Ok(ExitCode::SUCCESS);
    }

    println!(
        "loadtest: {} via {} at {host}, {} users for {}",
        cli.service.name(),
        cli.target.name(),
        cli.users,
        cli.duration
    );
    let cpu_before = cpu::snapshot();
    let Attack {
        metrics,
        html,
        json,
    } = attack(Run {
        name: format!("{}-{}", cli.service.name(), cli.target.name()),
        host: host.clone(),
        users: cli.users,
        increase_rate: cli.increase_rate,
        duration: cli.duration.clone(),
        reports_dir: cli.reports_dir.clone(),
        scenarios: cli.service.scenarios(),
    })
    .await?;
    let cpu_after = cpu::snapshot();

    println!();
    print!("{}", summary::table(&metrics));
    if cli.service == Service::Marketplace {
        marketplace::redis_benchmark(&cli.redis, cli.users)?;
    }
    if cli.service == Service::MarketplaceOffers {
        let summary::Figures {
            rate, p99_ms: p99, ..
        } = summary::figures(&metrics, marketplace::PLACE_OFFER).context("no offers placed")?;
        let placed = metrics
            .requests
            .get(marketplace::PLACE_OFFER)
            .map_or(0, |m| m.success_count as u64);
        print!(
            "{}",
            cpu::table(&cpu_before, &cpu_after, placed, "offer placed")
        );
        let tps = payments::pgbench(&cli.pgbench_url)?;
        let passed = rate / tps >= 0.25 && p99 <= 20.0;
        println!(
            "\nplace offer {rate:.0}/s, p99 {p99:.1} ms; pgbench -c 32 one-row insert {tps:.0} tps (same run): {:.3} x (target >= 0.25 x, p99 <= 20 ms): {}",
            rate / tps,
            if passed { "PASS" } else { "FAIL" }
        );
        println!("\nreports: {html}\n         {json}");
        return Ok(exit_code(passed));
    }
    println!("\nreports: {html}\n         {json}");
    Ok(ExitCode::SUCCESS)
}

/// One goose run.
struct Run {
    /// The reports' file stem (a timestamp is added).
    name: String,
    host: String,
    users: usize,
    /// Users started per second (default: all within about a second).
    increase_rate: Option<f64>,
    /// e.g. 30s, 2m.
    duration: String,
    reports_dir: PathBuf,
    scenarios: Vec<Scenario>,
}

/// What a goose run measured, and where its reports are.
struct Attack {
    metrics: goose::metrics::GooseMetrics,
    html: String,
    json: String,
}

/// Runs `run`'s scenarios with goose, its HTML and JSON reports under `reports_dir`.
async fn attack(run: Run) -> anyhow::Result<Attack> {
    std::fs::create_dir_all(&run.reports_dir)
        .with_context(|| format!("creating {}", run.reports_dir.display()))?;
    let stem = format!(
        "{}-{}",
        run.name,
        chrono::Local::now().format("%Y%m%dT%H%M%S")
    );
    let report = |ext: &str| {
        run.reports_dir
            .join(format!("{stem}.{ext}"))
            .to_string_lossy()
            .into_owned()
    };
    let (html, json) = (report("html"), report("json"));

    let mut config = GooseConfiguration::default();
    config.host = Some(run.host);
    config.users = Some(run.users);
    config.increase_rate = Some(
        run.increase_rate
            .unwrap_or(run.users as f64)
            .max(0.001)
            .to_string(),
    );
    config.run_time = Some(run.duration);
    config.report_file = vec![html.clone(), json.clone()];
    // Keep the start-up register/login in the figures: they are measured once.
    config.no_reset_metrics = true;
    // No controllers: two runs at once must not fight over their ports.
    config.no_telnet = true;
    config.no_websocket = true;
    let mut attack = GooseAttack::initialize_with_config(config)?;
    for scenario in run.scenarios {
        attack = attack.register_scenario(scenario);
    }
    let metrics = attack.execute().await?;
    Ok(Attack {
        metrics,
        html,
        json,
    })
}

/// Success when the run met its target.
fn exit_code(passed: bool) -> ExitCode {
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `--redis` as host and port (it may be given as a redis:// URL; the port defaults to
/// make run's 6380).
fn redis_host_port(redis: &str) -> (String, u16) {
    // A URL's first node (a cluster's seed list names several).
    service_kit::redis::nodes(redis, 6380)
        .into_iter()
        .next()
        .unwrap_or_else(|| (String::new(), 6380))
}

/// `--redis` as a URL (it may be given as HOST:PORT).
fn redis_url_of(redis: &str) -> String {
    if redis.contains("://") {
        redis.to_owned()
    } else {
        format!("redis://{redis}")
    }
}

/// Whole seconds of a duration like 30s, 2m or 1m30s.
fn humantime_secs(text: &str) -> anyhow::Result<u64> {
    let mut total = 0;
    let mut number = String::new();
    for c in text.chars() {
        match c {
            '0'..='9' => number.push(c),
            'h' | 'm' | 's' => {
                let n: u64 = number.parse().context("--duration like 30s, 2m, 1m30s")?;
                total += n * match c {
                    'h' => 3600,
                    'm' => 60,
                    _ => 1,
                };
                number.clear();
            }
            _ => anyhow::bail!("--duration like 30s, 2m, 1m30s"),
        }
    }
    if !number.is_empty() {
        total += number.parse::<u64>()?;
    }
    anyhow::ensure!(total > 0, "--duration must be longer than 0 s");
    Ok(total)
}

/// GET `host` + the probe's path and require its answer within a few seconds.
async fn preflight(host: &str, probe: Probe) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let path = match probe {
        Probe::Success(path) | Probe::Unauthorized(path) => path,
    };
    let url = format!("{host}{path}");
    let response = client.get(&url).send().await.context(url.clone())?;
    let status = response.status();
    match probe {
        Probe::Success(_) => {
            anyhow::ensure!(status.is_success(), "GET {url} answered {status}");
        }
        Probe::Unauthorized(_) => {
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            anyhow::ensure!(
                status == reqwest::StatusCode::UNAUTHORIZED
                    && content_type.starts_with("application/problem+json"),
                "GET {url} answered {status} {content_type}, not the service's \
                 401 application/problem+json"
            );
        }
    }
    Ok(())
}
