//! The compact table printed after a run: req/s and p50/p95/p99 per request name.

use std::fmt::Write as _;

use goose::metrics::{GooseMetrics, GooseRequestMetricTimingData};

/// One line per request name (goose's `METHOD name` key), then all requests together.
pub fn table(metrics: &GooseMetrics) -> String {
    let secs = metrics.duration.max(1) as f64;
    let mut keys: Vec<&String> = metrics.requests.keys().collect();
    keys.sort();

    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16} {:>9} {:>7} {:>10} {:>9} {:>9} {:>9}",
        "request", "count", "fail", "req/s", "p50 ms", "p95 ms", "p99 ms"
    );
    let (mut total, mut failed) = (0, 0);
    for key in keys {
        let Some(m) = metrics.requests.get(key) else {
            continue;
        };
        let count = m.success_count + m.fail_count;
        total += count;
        failed += m.fail_count;
        row(&mut out, key, count, m.fail_count, secs, &m.raw_data);
    }
    let _ = writeln!(
        out,
        "{:<16} {:>9} {:>7} {:>10.1}",
        "all",
        total,
        failed,
        total as f64 / secs
    );
    let _ = writeln!(
        out,
        "({} s, {} users; req/s = count / duration)",
        metrics.duration, metrics.maximum_users
    );
    out
}

fn row(
    out: &mut String,
    name: &str,
    count: usize,
    fail: usize,
    secs: f64,
    t: &GooseRequestMetricTimingData,
) {
    let ms = |p: f32| t.percentile_us(p) as f64 / 1000.0;
    let _ = writeln!(
        out,
        "{:<16} {:>9} {:>7} {:>10.1} {:>9.2} {:>9.2} {:>9.2}",
        name,
        count,
        fail,
        count as f64 / secs,
        ms(0.50),
        ms(0.95),
        ms(0.99)
    );
}

/// One request name's figures over a run.
pub struct Figures {
    /// Successful requests per second of the run.
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub failed: usize,
}

/// The figures of the requests named `key` (goose's `METHOD name`), if any were made.
pub fn figures(metrics: &GooseMetrics, key: &str) -> Option<Figures> {
    let m = metrics.requests.get(key)?;
    let secs = metrics.duration.max(1) as f64;
    let ms = |p: f32| m.raw_data.percentile_us(p) as f64 / 1000.0;
    Some(Figures {
        rate: m.success_count as f64 / secs,
        p50_ms: ms(0.50),
        p99_ms: ms(0.99),
        failed: m.fail_count,
    })
}
