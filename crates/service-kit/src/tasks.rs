//! Supervised background tasks: the relay, the event consumer, workers and sweeps of a
//! service run under a [`Supervisor`].
//!
//! A task is a factory of runs (`FnMut(stop) -> future`). A run that returns, fails,
//! panics or stops beating its [`crate::heartbeat`] for longer than its
//! [`Policy::stall_after`] is logged, aborted if still there, and started again after a
//! backoff (doubling from [`Policy::backoff_min`] to [`Policy::backoff_max`]; reset once a
//! run lasted [`Policy::backoff_max`]). Meanwhile the task is not `running` and `/readyz`
//! answers 503 (see [`crate::heartbeat::TaskHealth`]); the first beat of the new run makes
//! it ready again. When the service stops, each run is asked to finish (its `stop` token)
//! and [`Supervisor::shutdown`] reports the runs that failed or had to be aborted.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::heartbeat::{Heartbeat, TaskHealth, TaskState};
use crate::shutdown::CancellationToken;
use tokio::sync::Notify;
use tokio::task::{JoinError, JoinHandle};
use tokio::time::Instant;

/// How a task is watched and restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Longest silence between heartbeats before the run counts as hung.
    pub stall_after: Duration,
    /// First wait before a restart.
    pub backoff_min: Duration,
    /// Longest wait before a restart.
    pub backoff_max: Duration,
}

impl Default for Policy {
    /// Stalled after 60 s without a beat; restarts after 100 ms, doubling up to 30 s.
    fn default() -> Self {
        Self {
            stall_after: Duration::from_secs(60),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(30),
        }
    }
}

impl Policy {
    /// The wait before restart number `failures` (1 = first).
    fn backoff(&self, failures: u32) -> Duration {
        let factor = 1u32 << failures.saturating_sub(1).min(16);
        self.backoff_min
            .saturating_mul(factor)
            .min(self.backoff_max)
    }
}

/// One task's record: what `/readyz` reads and what the watchdog writes.
struct Entry {
    name: String,
    policy: Policy,
    heartbeat: Heartbeat,
    state: Mutex<TaskState>,
    restarts: AtomicU64,
    kill: Notify,
}

impl Entry {
    fn set(&self, state: TaskState) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = state;
    }

    /// The stored state, with `starting`/`running` read off the heartbeat.
    fn state(&self) -> TaskState {
        let stored = *self.state.lock().unwrap_or_else(|e| e.into_inner());
        match stored {
            TaskState::Starting | TaskState::Running => match self.heartbeat.silent_for() {
                None => TaskState::Starting,
                Some(silent) if silent > self.policy.stall_after => TaskState::Stalled,
                Some(_) => TaskState::Running,
            },
            other => other,
        }
    }
}

/// How one run ended.
enum End {
    Returned(anyhow::Result<()>),
    Panicked(JoinError),
    Stalled(Option<Duration>),
    Killed,
}

impl End {
    fn describe(&self) -> String {
        match self {
            Self::Returned(Ok(())) => "returned".into(),
            Self::Returned(Err(e)) => format!("failed: {e:#}"),
            Self::Panicked(e) if e.is_panic() => "panicked".into(),
            Self::Panicked(_) => "was cancelled".into(),
            Self::Stalled(Some(silent)) => format!("stopped beating for {silent:?}"),
            Self::Stalled(None) => "never beat".into(),
            Self::Killed => "was killed".into(),
        }
    }
}

/// A task's watchdog: it answers how the task's last run ended (`Err`: why it did not
/// stop cleanly).
type Watchdog = (String, JoinHandle<Result<(), String>>);

struct Inner {
    stop: CancellationToken,
    entries: Mutex<Vec<Arc<Entry>>>,
    watchdogs: Mutex<Vec<Watchdog>>,
}

/// The service's background tasks; see the [module docs](self). Cheap to clone.
#[derive(Clone)]
pub struct Supervisor {
    inner: Arc<Inner>,
}

impl Supervisor {
    /// A supervisor whose tasks stop when `stop` is cancelled.
    pub fn new(stop: CancellationToken) -> Self {
        Self {
            inner: Arc::new(Inner {
                stop,
                entries: Mutex::default(),
                watchdogs: Mutex::default(),
            }),
        }
    }

    /// The token the tasks' runs watch.
    pub fn stop_token(&self) -> CancellationToken {
        self.inner.stop.clone()
    }

    /// Starts `task` under supervision as `name`: `task(stop)` makes one run.
    pub fn spawn<F, Fut>(&self, name: impl Into<String>, policy: Policy, task: F)
    where
        F: FnMut(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let entry = Arc::new(Entry {
            name: name.into(),
            policy,
            heartbeat: Heartbeat::new(),
            state: Mutex::new(TaskState::Starting),
            restarts: AtomicU64::new(0),
            kill: Notify::new(),
        });
        self.lock_entries().push(entry.clone());
        let name = entry.name.clone();
        let watchdog = tokio::spawn(supervise(entry, self.inner.stop.clone(), task));
        self.inner
            .watchdogs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((name, watchdog));
    }

    /// How many times `name` was restarted (`None`: no such task).
    pub fn restarts(&self, name: &str) -> Option<u64> {
        self.entry(name).map(|e| e.restarts.load(Ordering::Acquire))
    }

    /// The state of `name` (`None`: no such task).
    pub fn state(&self, name: &str) -> Option<TaskState> {
        self.entry(name).map(|e| e.state())
    }

    /// Aborts the current run of `name` as a crash would (it is restarted like one).
    /// False if there is no such task.
    pub fn kill(&self, name: &str) -> bool {
        self.entry(name).map(|e| e.kill.notify_one()).is_some()
    }

    /// Stops every task (cancels the stop token) and waits for them; an error names the
    /// tasks whose last run failed, panicked or had to be aborted.
    pub async fn shutdown(&self) -> anyhow::Result<()> {
        self.inner.stop.cancel();
        let watchdogs = std::mem::take(
            &mut *self
                .inner
                .watchdogs
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        let mut failed = Vec::new();
        for (name, watchdog) in watchdogs {
            match watchdog.await {
                Ok(Ok(())) => {}
                Ok(Err(why)) => failed.push(format!("{name} {why}")),
                Err(e) => failed.push(format!("{name}'s watchdog: {e}")),
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(anyhow::anyhow!(
                "background tasks did not stop cleanly: {}",
                failed.join("; ")
            ))
        }
    }

    fn entry(&self, name: &str) -> Option<Arc<Entry>> {
        self.lock_entries().iter().find(|e| e.name == name).cloned()
    }

    fn lock_entries(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Entry>>> {
        self.inner.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl TaskHealth for Supervisor {
    fn tasks(&self) -> Vec<(String, TaskState)> {
        self.lock_entries()
            .iter()
            .map(|e| (e.name.clone(), e.state()))
            .collect()
    }
}

/// Runs `task` again and again until `stop`; answers how the last run ended.
async fn supervise<F, Fut>(
    entry: Arc<Entry>,
    stop: CancellationToken,
    mut task: F,
) -> Result<(), String>
where
    F: FnMut(CancellationToken) -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let policy = entry.policy;
    let mut failures = 0u32;
    loop {
        entry.heartbeat.reset();
        entry.set(TaskState::Starting);
        let started = Instant::now();
        let run = tokio::spawn(entry.heartbeat.clone().scope(task(stop.clone())));
        let end = watch(&entry, run).await;
        if stop.is_cancelled() {
            entry.set(TaskState::Stopped);
            return match end {
                End::Returned(Ok(())) => Ok(()),
                other => Err(other.describe()),
            };
        }
        if started.elapsed() >= policy.backoff_max {
            failures = 0;
        }
        failures = failures.saturating_add(1);
        let backoff = policy.backoff(failures);
        entry.set(TaskState::Restarting);
        entry.restarts.fetch_add(1, Ordering::AcqRel);
        tracing::error!(
            task = entry.name,
            why = end.describe(),
            restart_in = ?backoff,
            "Background task stopped; restarting it."
        );
        tokio::select! {
            () = stop.cancelled() => {
                entry.set(TaskState::Stopped);
                return Ok(());
            }
            () = tokio::time::sleep(backoff) => {}
        }
    }
}

/// Waits for the run to end, to be killed, or to stall (then aborts it).
async fn watch(entry: &Entry, mut run: JoinHandle<anyhow::Result<()>>) -> End {
    let stall = entry.policy.stall_after;
    let check = (stall / 4).clamp(Duration::from_millis(5), Duration::from_secs(1));
    let started = Instant::now();
    loop {
        tokio::select! {
            ended = &mut run => {
                return match ended {
                    Ok(result) => End::Returned(result),
                    Err(e) => End::Panicked(e),
                };
            }
            () = entry.kill.notified() => {
                run.abort();
                let _ = run.await;
                return End::Killed;
            }
            () = tokio::time::sleep(check) => {
                let silent = entry.heartbeat.silent_for();
                let stalled = match silent {
                    Some(s) => s > stall,
                    None => started.elapsed() > stall,
                };
                if stalled {
                    entry.set(TaskState::Stalled);
                    run.abort();
                    let _ = run.await;
                    return End::Stalled(silent);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_ceiling() {
        let p = Policy {
            stall_after: Duration::from_secs(1),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_millis(500),
        };
        let waits: Vec<_> = (1..=5).map(|n| p.backoff(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 500, 500]);
        assert_eq!(p.backoff(u32::MAX), Duration::from_millis(500));
    }
}

/// Where a catch-up sweep got to (a sweep that redoes, from the database, after-commit
/// effects a dead process may have left undone: it reads what changed since its last
/// round). Cheap to clone; clones share the mark.
#[derive(Clone, Default)]
pub struct CatchUpMark(std::sync::Arc<std::sync::Mutex<Option<chrono::DateTime<chrono::Utc>>>>);

impl CatchUpMark {
    /// Where this round reads from: `overlap` before the last round's line (a change whose
    /// transaction took its time before that line but committed after the round read is
    /// still seen), or, in a new process, `first` back from `now` (as far as a lost effect
    /// can matter).
    pub fn since(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        overlap: chrono::Duration,
        first: chrono::Duration,
    ) -> chrono::DateTime<chrono::Utc> {
        match *self.0.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(line) => line - overlap,
            None => now - first,
        }
    }

    /// A round succeeded up to `line`.
    pub fn advance(&self, line: chrono::DateTime<chrono::Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(line);
    }
}
