//! Heartbeats of background loops, so that a loop that is alive but stuck is noticed.
//!
//! A supervised task (`crate::tasks`) runs with a [`Heartbeat`] in scope; the loops
//! it runs call [`beat`] once per round (the queue worker before each take, the outbox
//! relay before each round, periodic jobs through [`sleep`]). Outside a supervised task
//! [`beat`] does nothing, so the same loops run unchanged in tests and tools.
//!
//! What `/readyz` reads of the tasks is a [`TaskHealth`]: each task's name and [`TaskState`].

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;
use utoipa::ToSchema;

tokio::task_local! {
    static CURRENT: Heartbeat;
}

/// When a task last beat: shared between the task (which beats) and its watchdog.
#[derive(Clone, Debug)]
pub struct Heartbeat {
    /// The task's id, the same for every run (see [`task_id`]).
    id: Arc<str>,
    origin: Instant,
    /// Milliseconds after `origin` of the last beat, plus one; 0 = no beat yet.
    last: Arc<AtomicU64>,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Self::new()
    }
}

impl Heartbeat {
    pub fn new() -> Self {
        Self {
            id: uuid::Uuid::new_v4().simple().to_string().into(),
            origin: Instant::now(),
            last: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Records a beat now.
    pub fn beat(&self) {
        let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        self.last.store(ms.saturating_add(1), Ordering::Release);
    }

    /// Forgets every beat (a restarted task has not beaten yet).
    pub fn reset(&self) {
        self.last.store(0, Ordering::Release);
    }

    /// How long since the last beat; `None` if there was none since the last reset.
    pub fn silent_for(&self) -> Option<Duration> {
        match self.last.load(Ordering::Acquire) {
            0 => None,
            ms => {
                let at = self.origin + Duration::from_millis(ms - 1);
                Some(Instant::now().saturating_duration_since(at))
            }
        }
    }

    /// Runs `future` with this heartbeat in scope for [`beat`].
    pub fn scope<F: Future>(self, future: F) -> impl Future<Output = F::Output> {
        CURRENT.scope(self, future)
    }
}

/// The id of the supervised task this runs in, the same across its restarts (`None`
/// outside one). A queue worker takes it as its worker id, so that a restarted worker
/// takes back the jobs its killed predecessor held, at once rather than after the reaper's
/// heartbeat timeout.
pub fn task_id() -> Option<Arc<str>> {
    CURRENT.try_with(|h| h.id.clone()).ok()
}

/// Beats the heartbeat of the supervised task this runs in (nothing outside one).
pub fn beat() {
    let _ = CURRENT.try_with(Heartbeat::beat);
}

/// Waits `duration`, beating at least once a second meanwhile: a loop idle between rounds
/// is not a stuck loop. Returns early (false) when `stop` is cancelled.
pub async fn sleep(duration: Duration, stop: &crate::shutdown::CancellationToken) -> bool {
    let until = Instant::now() + duration;
    loop {
        beat();
        let now = Instant::now();
        if now >= until {
            return true;
        }
        let slice = (until - now).min(Duration::from_secs(1));
        tokio::select! {
            () = stop.cancelled() => return false,
            () = tokio::time::sleep(slice) => {}
        }
    }
}

/// What a supervised task is doing, as `/readyz` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Started, no heartbeat yet.
    Starting,
    /// Beating within its limit.
    Running,
    /// Silent for longer than its limit: about to be restarted.
    Stalled,
    /// Ended, failed or stalled: waiting out its backoff before running again.
    Restarting,
    /// Stopped with the service.
    Stopped,
}

impl TaskState {
    pub fn is_ready(self) -> bool {
        self == Self::Running
    }
}

/// The tasks `/readyz` checks.
pub trait TaskHealth: Send + Sync + 'static {
    /// Each task's name and state, in the order they were started.
    fn tasks(&self) -> Vec<(String, TaskState)>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn beat_records_in_scope_and_does_nothing_outside() {
        let hb = Heartbeat::new();
        beat();
        assert_eq!(hb.silent_for(), None);
        hb.clone()
            .scope(async {
                beat();
            })
            .await;
        let silent = hb.silent_for().expect("a beat in scope");
        let id = hb.clone().scope(async { task_id() }).await;
        assert_eq!(id, Some(hb.id.clone()));
        assert_eq!(task_id(), None);
        assert!(silent < Duration::from_secs(5), "{silent:?}");
        hb.reset();
        assert_eq!(hb.silent_for(), None);
    }

    #[tokio::test]
    async fn sleep_beats_while_it_waits_and_stops_early() {
        let hb = Heartbeat::new();
        let stop = crate::shutdown::CancellationToken::new();
        assert!(
            hb.clone()
                .scope(sleep(Duration::from_millis(20), &stop))
                .await
        );
        assert!(hb.silent_for().is_some());
        stop.cancel();
        assert!(!sleep(Duration::from_secs(3600), &stop).await);
    }
}
