//! `make bench` (`--service bench`): the platform's hot read paths against a running
//! stack, each with wrk on the service's own port, in one table beside redis-benchmark GET
//! and pgbench from the same run.
//!
//! Seeding (through the gateway, the admin in `ADMIN_EMAIL` / `ADMIN_PASSWORD`): the
//! marketplace scenario's (`--invoices` listed invoices, `--investors` approved
//! investors). Then, `--connections` connections and `--duration` each:
//!
//! | path | what |
//! | --- | --- |
//! | cached search | `GET /api/invoices?status=listed&per_page=20` (invoice), one investor |
//! | trending | `GET /api/marketplace/trending?limit=10`, one investor |
//! | listing view | `GET /api/marketplace/invoices/{id}`, every investor and listing in turn (each new investor, listing and minute counts towards trending) |
//! | notifications list | `GET /api/notifications?limit=20`, one investor |
//! | place offer | `POST /api/marketplace/offers` (goose, `marketplace-offers`' users: one per investor, each walking its team's listings; beside pgbench) |
//! | WebSocket delivery | `--clients` notifications clients fed `--rate` notifications a second on Redis (`notifications-ws`): delivered/s and publish-to-frame latency |
//!
//! The offers row writes (each investor offers at most once per listing and a listing
//! takes at most 16: `--invoices` bounds how many offers a run can place, about
//! `--invoices` x 16); it runs after the reads. The event consumers have a scenario of
//! their own (`notifications-events`).

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, ensure};

use crate::invoice::run_tool;
use crate::{marketplace, notifications, summary};

pub struct Settings {
    pub gateway: String,
    pub auth: String,
    pub invoice: String,
    pub marketplace: String,
    pub notifications: String,
    pub redis_host: String,
    pub redis_port: u16,
    /// The stack's Redis as a URL and its key prefix (the WebSocket row publishes there).
    pub redis_url: String,
    pub redis_prefix: String,
    /// notifications' pid, for its memory per WebSocket client.
    pub notifications_pid: Option<u32>,
    /// WebSocket clients and notifications per second of the WebSocket row.
    pub clients: usize,
    pub rate: u64,
    pub reports_dir: std::path::PathBuf,
    pub pgbench_url: String,
    pub invoices: usize,
    pub investors: usize,
    pub connections: usize,
    pub duration: Duration,
}

/// One path's figures.
struct Row {
    name: &'static str,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    failed: bool,
    yardstick: Yardstick,
}

/// What a row's rate is set beside.
#[derive(Clone, Copy)]
enum Yardstick {
    RedisGet,
    Pgbench,
    /// A rate the load test sets (WebSocket delivery): latency is the figure.
    None,
}

/// A wrk Lua script sending GETs of `paths` with `tokens`, each request the next pair.
fn script(paths: &[String], tokens: &[String]) -> String {
    let list = |items: &[String]| {
        items
            .iter()
            .map(|i| format!("{i:?}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        r#"local paths = {{{}}}
local tokens = {{{}}}
local i = 0
request = function()
  i = i + 1
  local p = paths[(i % #paths) + 1]
  local t = tokens[(math.floor(i / #paths) % #tokens) + 1]
  return wrk.format("GET", p, {{["Authorization"] = "Bearer " .. t}})
end
"#,
        list(paths),
        list(tokens)
    )
}

/// wrk's figure for a latency percentile line (`50%    1.23ms`), in ms.
fn percentile_ms(out: &str, label: &str) -> Option<f64> {
    let line = out.lines().find(|l| l.trim_start().starts_with(label))?;
    let value = line.split_whitespace().nth(1)?;
    let (number, unit) = value.split_at(value.find(|c: char| c.is_ascii_alphabetic())?);
    let n: f64 = number.parse().ok()?;
    Some(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => return None,
    })
}

fn wrk(
    s: &Settings,
    name: &'static str,
    base: &str,
    paths: &[String],
    tokens: &[String],
) -> anyhow::Result<Row> {
    let file = std::env::temp_dir()
        .join(format!("vestio-bench-{}-{name}.lua", std::process::id()))
        .to_string_lossy()
        .replace(' ', "-");
    std::fs::write(&file, script(paths, tokens))?;
    let out = run_tool(
        Command::new("wrk")
            .args(["-t", "2", "-c", &s.connections.to_string()])
            .args(["-d", &format!("{}s", s.duration.as_secs()), "--latency"])
            .args(["-s", &file])
            .arg(base),
    );
    let _ = std::fs::remove_file(&file);
    let out = out?;
    let rps = out
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .with_context(|| format!("{name}: no Requests/sec in wrk's output:\n{out}"))?;
    Ok(Row {
        name,
        rps,
        p50_ms: percentile_ms(&out, "50%").unwrap_or(f64::NAN),
        p99_ms: percentile_ms(&out, "99%").unwrap_or(f64::NAN),
        failed: out.contains("Non-2xx") || out.contains("Socket errors"),
        yardstick: Yardstick::RedisGet,
    })
}

/// Offers placed by one goose user per investor for the run's duration.
async fn offers(s: &Settings) -> anyhow::Result<Row> {
    let run = crate::attack(crate::Run {
        name: "bench-offers".to_owned(),
        host: s.marketplace.clone(),
        users: s.investors,
        increase_rate: None,
        duration: format!("{}s", s.duration.as_secs()),
        reports_dir: s.reports_dir.clone(),
        scenarios: marketplace::offer_scenarios(),
    })
    .await?;
    let f = summary::figures(&run.metrics, marketplace::PLACE_OFFER)
        .context("place offer: no offer was attempted")?;
    if f.failed > 0 {
        print!("{}", summary::table(&run.metrics));
    }
    Ok(Row {
        name: "place offer",
        rps: f.rate,
        p50_ms: f.p50_ms,
        p99_ms: f.p99_ms,
        failed: f.failed > 0,
        yardstick: Yardstick::Pgbench,
    })
}

/// `--clients` WebSocket clients fed `--rate` notifications a second; also the service's
/// memory per connected client, in KiB.
async fn websocket(s: &Settings) -> anyhow::Result<(Row, Option<f64>)> {
    let report = notifications::run(notifications::Settings {
        service: s.notifications.clone(),
        auth: s.auth.clone(),
        redis_url: s.redis_url.clone(),
        redis_prefix: s.redis_prefix.clone(),
        pid: s.notifications_pid,
        clients: s.clients,
        rate: s.rate,
        duration: s.duration,
        target: "direct",
    })
    .await?;
    let row = Row {
        name: "WebSocket delivery",
        rps: report.delivered_per_sec(),
        p50_ms: report.latency_ms(0.50),
        p99_ms: report.latency_ms(0.99),
        failed: !report.passed(),
        yardstick: Yardstick::None,
    };
    Ok((row, report.memory.per_connection_kib()))
}

pub async fn run(s: Settings) -> anyhow::Result<bool> {
    ensure!(s.investors > 0, "--investors must be at least 1");
    crate::marketplace::seed_stack(&s.gateway, s.invoices, s.investors, s.investors).await?;
    let seed = crate::marketplace::seeded().context("not seeded")?;
    let one = std::slice::from_ref(&seed.investors[0]);
    let views: Vec<String> = seed
        .invoices
        .iter()
        .map(|id| format!("/api/marketplace/invoices/{id}"))
        .collect();
    println!(
        "bench: {} connections, {} s a path, {} listings, {} investors",
        s.connections,
        s.duration.as_secs(),
        seed.invoices.len(),
        seed.investors.len()
    );
    // `BENCH_PATHS=trending,listing view` runs only those (e.g. under a profiler).
    let only = std::env::var("BENCH_PATHS").ok();
    let wanted = |name: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|w| w.trim() == name))
    };
    let mut rows = Vec::new();
    let all = [
        (
            "cached search",
            s.invoice.as_str(),
            vec!["/api/invoices?status=listed&per_page=20".to_owned()],
            one,
        ),
        (
            "trending",
            s.marketplace.as_str(),
            vec!["/api/marketplace/trending?limit=10".to_owned()],
            one,
        ),
        (
            "listing view",
            s.marketplace.as_str(),
            views,
            seed.investors.as_slice(),
        ),
        (
            "notifications list",
            s.notifications.as_str(),
            vec!["/api/notifications?limit=20".to_owned()],
            one,
        ),
    ];
    for (name, base, paths, tokens) in all {
        if wanted(name) {
            rows.push(wrk(&s, name, base, &paths, tokens)?);
        }
    }
    if wanted("place offer") {
        rows.push(offers(&s).await?);
    }
    let mut per_client_kib = None;
    if wanted("WebSocket delivery") {
        let (row, kib) = websocket(&s).await?;
        rows.push(row);
        per_client_kib = kib;
    }
    let cluster = service_kit::redis::is_cluster(&s.redis_url);
    let (redis_rps, _) =
        crate::invoice::redis_get_rps_on(&s.redis_host, s.redis_port, s.connections, cluster)?;
    let tps = crate::payments::pgbench(&s.pgbench_url)?;
    println!();
    println!("| path | req/s | p50 | p99 | x redis-benchmark GET | x pgbench |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for r in &rows {
        let (reads, writes) = match r.yardstick {
            Yardstick::RedisGet => (format!("{:.3}", r.rps / redis_rps), String::new()),
            Yardstick::Pgbench => (String::new(), format!("{:.3}", r.rps / tps)),
            Yardstick::None => (String::new(), String::new()),
        };
        println!(
            "| {}{} | {:.0} | {:.2} ms | {:.2} ms | {reads} | {writes} |",
            r.name,
            if r.failed { " (ERRORS: see above)" } else { "" },
            r.rps,
            r.p50_ms,
            r.p99_ms,
        );
    }
    println!(
        "| redis-benchmark GET -c {} | {redis_rps:.0} | | | 1 | |",
        s.connections
    );
    println!("| pgbench -c 32 one-row insert | {tps:.0} tps | | | | 1 |");
    if let Some(kib) = per_client_kib {
        println!(
            "\nWebSocket delivery: {} clients at {} notifications/s (the rate is the load's, \
             not a capacity); notifications' memory {kib:.1} KiB per connected client",
            s.clients, s.rate
        );
    }
    Ok(rows.iter().all(|r| !r.failed))
}
