//! A service's resident memory, read from `/proc/<pid>/status` (Linux), for the runs that
//! report it (`invoice-search`, `notifications-ws`).

use std::path::Path;
use std::time::Duration;

/// The pid `make run` wrote for `service` (`$DATA_DIR/run/<service>.pid`, `DATA_DIR`
/// defaulting to `data` as for make run), if it is there.
pub fn pid_of(service: &str) -> Option<u32> {
    let data = std::env::var("DATA_DIR").unwrap_or_else(|_| "data".into());
    pid_from_file(&Path::new(&data).join("run").join(format!("{service}.pid")))
}

fn pid_from_file(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// `pid`'s VmRSS in KiB now, or `None` when it cannot be read (no such process).
pub fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    vm_rss_kb(&status)
}

/// The VmRSS line of a `/proc/<pid>/status` text, in KiB.
fn vm_rss_kb(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// The largest VmRSS of `pid` seen over `secs` seconds, sampled ten times a second.
pub fn peak_rss_kb(pid: u32, secs: u64) -> Option<u64> {
    let mut peak = None;
    for _ in 0..secs * 10 {
        peak = peak.max(Some(rss_kb(pid)?));
        std::thread::sleep(Duration::from_millis(100));
    }
    peak
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_read_from_its_line() {
        let status =
            "Name:\tnotifications\nVmPeak:\t  99999 kB\nVmRSS:\t   12345 kB\nThreads:\t4\n";
        assert_eq!(vm_rss_kb(status), Some(12_345));
        assert_eq!(vm_rss_kb("Name:\tx\n"), None);
    }

    #[test]
    fn this_process_has_a_resident_size() {
        assert!(rss_kb(std::process::id()).is_some_and(|kb| kb > 0));
    }

    #[test]
    fn a_missing_pid_file_is_none() {
        assert_eq!(pid_from_file(Path::new("/nonexistent/x.pid")), None);
    }
}
