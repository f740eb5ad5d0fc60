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
//!
//! Offers, the event consumers and WebSocket delivery have scenarios of their own
//! (`marketplace`, `notifications-events`, `notifications-ws`): they write, and are
//! reported beside pgbench there.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, ensure};

use crate::invoice::{redis_get_rps, run_tool};

pub struct Settings {
    pub gateway: String,
    pub invoice: String,
    pub marketplace: String,
    pub notifications: String,
    pub redis_host: String,
    pub redis_port: u16,
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
    })
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
    let (redis_rps, _) = redis_get_rps(&s.redis_host, s.redis_port, s.connections)?;
    let tps = crate::payments::pgbench(&s.pgbench_url)?;
    println!();
    println!("| path | req/s | p50 | p99 | x redis-benchmark GET |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for r in &rows {
        println!(
            "| {}{} | {:.0} | {:.2} ms | {:.2} ms | {:.3} |",
            r.name,
            if r.failed { " (ERRORS: see wrk)" } else { "" },
            r.rps,
            r.p50_ms,
            r.p99_ms,
            r.rps / redis_rps
        );
    }
    println!(
        "| redis-benchmark GET -c {} | {redis_rps:.0} | | | 1 |",
        s.connections
    );
    println!("| pgbench -c 32 one-row insert | {tps:.0} tps | | | |");
    Ok(rows.iter().all(|r| !r.failed))
}
