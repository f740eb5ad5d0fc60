//! Where a run's CPU went: every process's user + system time from `/proc/<pid>/stat`
//! (Linux), summed by process name, between two snapshots. A run divides it by what it
//! did (offers placed, webhooks answered) to print the CPU each process spent per
//! operation: on a machine whose cores are all busy, that says which process to profile.
//! A process that starts between the snapshots counts whole (its life is inside the window);
//! one that exits is missed (PostgreSQL's pooled backends live through a run).

use std::collections::HashMap;
use std::time::Instant;

/// Clock ticks per second of `/proc/<pid>/stat` times (`_SC_CLK_TCK`, 100 on Linux).
const TICKS: f64 = 100.0;

/// Every process's CPU ticks at one moment, by pid (with its name).
pub struct Snapshot {
    at: Instant,
    ticks: HashMap<u32, (String, u64)>,
}

/// Takes a snapshot of every process's CPU time.
pub fn snapshot() -> Snapshot {
    let mut ticks = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            if let Some(t) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| parse_stat(&s))
            {
                ticks.insert(pid, t);
            }
        }
    }
    Snapshot {
        at: Instant::now(),
        ticks,
    }
}

/// A `/proc/<pid>/stat` line's name and utime + stime.
fn parse_stat(stat: &str) -> Option<(String, u64)> {
    // The name is in parentheses and may hold spaces or parentheses itself.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_owned();
    // After the name: state is field 3; utime and stime are fields 14 and 15.
    let mut rest = stat.get(close + 1..)?.split_whitespace().skip(11);
    let utime: u64 = rest.next()?.parse().ok()?;
    let stime: u64 = rest.next()?.parse().ok()?;
    Some((name, utime + stime))
}

/// CPU seconds by process name between `before` and `after`, most first, with the
/// seconds of wall time between them.
pub fn used(before: &Snapshot, after: &Snapshot) -> (Vec<(String, f64)>, f64) {
    let mut by_name: HashMap<&str, u64> = HashMap::new();
    for (pid, (name, t1)) in &after.ticks {
        let t0 = before.ticks.get(pid).map_or(0, |(_, t)| *t);
        if t1 > &t0 {
            *by_name.entry(name).or_default() += t1 - t0;
        }
    }
    let mut rows: Vec<(String, f64)> = by_name
        .into_iter()
        .map(|(n, t)| (n.to_owned(), t as f64 / TICKS))
        .collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    (rows, after.at.duration_since(before.at).as_secs_f64())
}

/// A table of the CPU each process used between the snapshots: seconds, share of one core
/// over the wall time, and microseconds per operation (`ops` of them, named `op`).
pub fn table(before: &Snapshot, after: &Snapshot, ops: u64, op: &str) -> String {
    let (rows, wall) = used(before, after);
    let total: f64 = rows.iter().map(|r| r.1).sum();
    let mut out = format!(
        "\nCPU by process over {wall:.1} s ({ops} x {op}; 100 % = one core):\n{:<16} {:>8} {:>7} {:>10}\n",
        "process", "cpu s", "% core", "us/op"
    );
    let per_op = |s: f64| if ops == 0 { 0.0 } else { s * 1e6 / ops as f64 };
    for (name, s) in rows.iter().filter(|r| r.1 >= 0.05) {
        out += &format!(
            "{name:<16} {s:>8.2} {:>6.0}% {:>10.0}\n",
            100.0 * s / wall,
            per_op(*s)
        );
    }
    out += &format!(
        "{:<16} {total:>8.2} {:>6.0}% {:>10.0}\n",
        "all",
        100.0 * total / wall,
        per_op(total)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_its_name_and_cpu_ticks() {
        let line =
            "4242 (tokio (w) x) S 1 4242 4242 0 -1 4194304 120 0 0 0 37 5 0 0 20 0 9 0 100 1000 50";
        assert_eq!(parse_stat(line), Some(("tokio (w) x".into(), 42)));
        assert_eq!(parse_stat("4242 no name here"), None);
    }

    #[test]
    fn use_is_summed_by_name_and_counts_only_what_grew() {
        let at = Instant::now();
        let snap = |rows: &[(u32, &str, u64)]| Snapshot {
            at,
            ticks: rows
                .iter()
                .map(|(p, n, t)| (*p, ((*n).to_owned(), *t)))
                .collect(),
        };
        let before = snap(&[(1, "postgres", 100), (2, "postgres", 50), (3, "idle", 7)]);
        let after = snap(&[
            (1, "postgres", 150),
            (2, "postgres", 60),
            (3, "idle", 7),
            (4, "marketplace", 30),
        ]);
        let (rows, _) = used(&before, &after);
        assert_eq!(
            rows,
            vec![("postgres".into(), 0.6), ("marketplace".into(), 0.3)]
        );
    }
}
