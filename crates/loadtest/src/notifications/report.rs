//! What the run saw, put together: delivery tally, latency percentiles, memory, verdict.

use std::fmt::Write as _;

use super::P99_TARGET_MS;
use super::client::Outcome;
use super::publish::Load;

/// The clients' receipts checked against what was published.
#[derive(Debug, Default)]
pub struct Tally {
    /// Distinct load messages received.
    pub received: u64,
    /// Received more than once.
    pub duplicates: u64,
    /// Received by a client other than the one it was published to.
    pub misdelivered: u64,
    /// Sequence numbers never published (another run's frames).
    pub strays: u64,
    /// Latencies of the distinct messages, in µs, sorted.
    pub latencies_us: Vec<u64>,
    /// The slowest message's latency (µs) and sequence number (it was due seq / rate s
    /// into the load).
    pub slowest: Option<(u64, u64)>,
    /// Other frames, every client together.
    pub other_frames: u64,
    /// Connections that ended before the load test closed them, and the first reason.
    pub ended_early: usize,
    pub first_end: Option<String>,
}

impl Tally {
    pub fn of(outcomes: &[Outcome], load: Option<&Load>) -> Self {
        let targets = load.map(|l| l.targets.as_slice()).unwrap_or_default();
        let mut seen = vec![false; targets.len()];
        let mut t = Tally::default();
        for outcome in outcomes {
            t.other_frames += outcome.other;
            if let Some(why) = &outcome.ended {
                t.ended_early += 1;
                t.first_end.get_or_insert_with(|| why.clone());
            }
            for got in &outcome.got {
                let Some(seq) = usize::try_from(got.seq).ok().filter(|&s| s < seen.len()) else {
                    t.strays += 1;
                    continue;
                };
                if targets[seq] as usize != outcome.client {
                    t.misdelivered += 1;
                }
                if std::mem::replace(&mut seen[seq], true) {
                    t.duplicates += 1;
                    continue;
                }
                t.received += 1;
                if t.slowest.is_none_or(|(max, _)| got.latency_us > max) {
                    t.slowest = Some((got.latency_us, got.seq));
                }
                t.latencies_us.push(got.latency_us);
            }
        }
        t.latencies_us.sort_unstable();
        t
    }
}

/// The nearest-rank percentile `p` (0..=1) of sorted values; 0 when there are none.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The service's VmRSS in KiB at the three moments.
#[derive(Debug, Default)]
pub struct Memory {
    pub pid: Option<u32>,
    pub before: Option<u64>,
    pub connected: Option<u64>,
    pub loaded: Option<u64>,
    pub connections: usize,
}

impl Memory {
    /// (with every client connected - before) / connections, in KiB.
    pub fn per_connection_kib(&self) -> Option<f64> {
        let (before, connected) = (self.before?, self.connected?);
        (self.connections > 0).then(|| (connected as f64 - before as f64) / self.connections as f64)
    }
}

#[derive(Debug, Default)]
pub struct Report {
    pub clients: usize,
    pub connected: usize,
    pub failed: usize,
    pub first_error: Option<String>,
    /// Clients whose warm-up frame arrived.
    pub ready: usize,
    pub load: Option<Load>,
    pub tally: Tally,
    pub memory: Memory,
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn mb(kb: Option<u64>) -> String {
    kb.map_or_else(
        || "?".to_owned(),
        |kb| format!("{:.1} MB", kb as f64 / 1024.0),
    )
}

impl Report {
    fn lost(&self) -> u64 {
        self.load
            .as_ref()
            .map_or(0, |l| l.published.saturating_sub(self.tally.received))
    }

    fn p99_ms(&self) -> f64 {
        self.latency_ms(0.99)
    }

    /// The delivery latency's percentile `p` (0..=1), in ms.
    pub fn latency_ms(&self, p: f64) -> f64 {
        ms(percentile(&self.tally.latencies_us, p))
    }

    /// Distinct notifications received per second of the load (0 without a load).
    pub fn delivered_per_sec(&self) -> f64 {
        self.load.as_ref().map_or(0.0, |l| {
            self.tally.received as f64 / l.secs.max(f64::EPSILON)
        })
    }

    /// Why the run falls short of the target; empty when it passes.
    pub fn failures(&self) -> Vec<String> {
        let mut why = Vec::new();
        if self.connected < self.clients {
            why.push(format!(
                "{} of {} clients connected",
                self.connected, self.clients
            ));
        }
        if self.ready < self.connected {
            why.push(format!(
                "{} connected clients never received a notification",
                self.connected - self.ready
            ));
        }
        match &self.load {
            None => why.push("nothing was published".to_owned()),
            Some(load) => {
                if load.errors > 0 {
                    why.push(format!("{} publishes failed", load.errors));
                }
                if self.lost() > 0 {
                    why.push(format!("{} notifications lost", self.lost()));
                }
                if self.tally.latencies_us.is_empty() {
                    why.push("no notification arrived".to_owned());
                } else if self.p99_ms() > P99_TARGET_MS {
                    why.push(format!("p99 {:.2} ms > {P99_TARGET_MS} ms", self.p99_ms()));
                }
            }
        }
        if self.tally.misdelivered > 0 {
            why.push(format!(
                "{} notifications reached the wrong user",
                self.tally.misdelivered
            ));
        }
        if self.tally.ended_early > 0 {
            why.push(format!(
                "{} connections ended during the run",
                self.tally.ended_early
            ));
        }
        why
    }

    pub fn passed(&self) -> bool {
        self.failures().is_empty()
    }

    pub fn text(&self) -> String {
        let (t, mut out) = (&self.tally, String::new());
        let _ = writeln!(
            out,
            "clients       {} connected of {}, {} failed{}; {} received the warm-up; {} dropped during the run{}",
            self.connected,
            self.clients,
            self.failed,
            self.first_error
                .as_deref()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default(),
            self.ready,
            t.ended_early,
            t.first_end
                .as_deref()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default(),
        );
        if let Some(load) = &self.load {
            let _ = writeln!(
                out,
                "published     {} in {:.1} s = {:.1}/s; {} reached no subscriber, {} errors{}",
                load.published,
                load.secs,
                load.published as f64 / load.secs.max(f64::EPSILON),
                load.unrouted,
                load.errors,
                load.first_error
                    .as_deref()
                    .map(|e| format!(" (first: {e})"))
                    .unwrap_or_default(),
            );
            let _ = writeln!(
                out,
                "received      {}, lost {}, duplicated {}, misdelivered {}, strays {}; other frames {}",
                t.received,
                self.lost(),
                t.duplicates,
                t.misdelivered,
                t.strays,
                t.other_frames
            );
            let l = &t.latencies_us;
            let over = l.len() - l.partition_point(|&us| ms(us) <= P99_TARGET_MS);
            let _ = writeln!(
                out,
                "latency ms    p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}{}; {over} over {P99_TARGET_MS} ms \
                 (publish on Redis -> frame read by the client)",
                ms(percentile(l, 0.50)),
                ms(percentile(l, 0.90)),
                ms(percentile(l, 0.99)),
                ms(l.last().copied().unwrap_or(0)),
                t.slowest
                    .map(|(_, seq)| format!(" (message {seq} of {})", load.targets.len()))
                    .unwrap_or_default(),
            );
        }
        let m = &self.memory;
        match m.pid {
            None => {
                let _ = writeln!(
                    out,
                    "memory        no pid (make run's data/run/notifications.pid, or --pid)"
                );
            }
            Some(pid) => {
                let _ = writeln!(
                    out,
                    "memory (RSS)  pid {pid}: before {}, {} connected {}, after the load {}; {} per connection",
                    mb(m.before),
                    m.connections,
                    mb(m.connected),
                    mb(m.loaded),
                    m.per_connection_kib()
                        .map_or_else(|| "?".to_owned(), |k| format!("{k:.1} KiB")),
                );
            }
        }
        let failures = self.failures();
        let target =
            format!("every client connected and served, nothing lost, p99 <= {P99_TARGET_MS} ms");
        if failures.is_empty() {
            let _ = writeln!(out, "verdict       PASS ({target})");
        } else {
            let _ = writeln!(
                out,
                "verdict       FAIL: {} (target: {target})",
                failures.join("; ")
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notifications::client::Got;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.50), 50);
        assert_eq!(percentile(&v, 0.90), 90);
        assert_eq!(percentile(&v, 0.99), 99);
        assert_eq!(percentile(&v, 1.0), 100);
        assert_eq!(percentile(&v, 0.0), 1);
        assert_eq!(percentile(&[7], 0.99), 7);
        assert_eq!(percentile(&[], 0.5), 0);
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 0.999), 999);
    }

    fn outcome(client: usize, got: &[(u64, u64)]) -> Outcome {
        Outcome {
            client,
            got: got
                .iter()
                .map(|&(seq, latency_us)| Got { seq, latency_us })
                .collect(),
            ..Outcome::default()
        }
    }

    fn load(targets: &[u32]) -> Load {
        Load {
            published: targets.len() as u64,
            targets: targets.to_vec(),
            secs: 1.0,
            ..Load::default()
        }
    }

    #[test]
    fn the_tally_finds_losses_duplicates_and_wrong_recipients() {
        // seq 0 -> client 0, 1 -> 1, 2 -> 0, 3 -> 1 (never arrives)
        let load = load(&[0, 1, 0, 1]);
        let outcomes = [
            outcome(0, &[(0, 300), (2, 100), (2, 900)]),
            outcome(1, &[(1, 200), (0, 50), (99, 1)]),
        ];
        let t = Tally::of(&outcomes, Some(&load));
        assert_eq!(t.received, 3);
        assert_eq!(t.duplicates, 2);
        assert_eq!(t.misdelivered, 1);
        assert_eq!(t.strays, 1);
        assert_eq!(t.latencies_us, vec![100, 200, 300]);
        assert_eq!(t.slowest, Some((300, 0)));
        let report = Report {
            clients: 2,
            connected: 2,
            ready: 2,
            load: Some(load),
            tally: t,
            ..Report::default()
        };
        assert_eq!(report.lost(), 1);
        let failures = report.failures();
        assert!(
            failures.iter().any(|f| f.contains("1 notifications lost")),
            "{failures:?}"
        );
        assert!(
            failures.iter().any(|f| f.contains("wrong user")),
            "{failures:?}"
        );
        assert!(report.text().contains("verdict       FAIL"));
    }

    #[test]
    fn a_clean_fast_run_passes_and_a_slow_one_does_not() {
        let fast = Report {
            clients: 2,
            connected: 2,
            ready: 2,
            tally: Tally::of(
                &[outcome(0, &[(0, 800)]), outcome(1, &[(1, 1200)])],
                Some(&load(&[0, 1])),
            ),
            load: Some(load(&[0, 1])),
            ..Report::default()
        };
        assert!(fast.passed(), "{:?}", fast.failures());
        assert!(fast.text().contains("PASS"));

        let slow = Report {
            tally: Tally::of(
                &[outcome(0, &[(0, 800)]), outcome(1, &[(1, 5250)])],
                Some(&load(&[0, 1])),
            ),
            ..fast
        };
        assert_eq!(slow.failures(), vec!["p99 5.25 ms > 5 ms".to_owned()]);
    }

    #[test]
    fn a_client_that_did_not_connect_fails_the_run() {
        let report = Report {
            clients: 3,
            connected: 2,
            failed: 1,
            ready: 2,
            load: Some(load(&[])),
            ..Report::default()
        };
        assert!(report.failures()[0].starts_with("2 of 3 clients connected"));
    }

    #[test]
    fn memory_per_connection_is_the_growth_over_the_connections() {
        let m = Memory {
            pid: Some(1),
            before: Some(10_000),
            connected: Some(30_000),
            loaded: Some(31_000),
            connections: 1000,
        };
        assert_eq!(m.per_connection_kib(), Some(20.0));
        assert_eq!(Memory::default().per_connection_kib(), None);
    }
}
