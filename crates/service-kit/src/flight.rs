//! Single-flight: callers asking for the same key at the same time share one run of the
//! work (a counter rebuilt from the database, say) instead of each running it.
//!
//! ```
//! # async fn demo() {
//! let rebuilds = service_kit::flight::SingleFlight::<i64>::default();
//! let n = rebuilds.run("offers:count:42", || async { 7 }).await;
//! assert_eq!(n, 7);
//! # }
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

/// Shares one run per key among the callers that overlap it. Cheap to clone; clones
/// share their flights. A caller that arrives after a run finished starts a new one.
pub struct SingleFlight<T> {
    flights: Arc<Mutex<HashMap<String, Arc<OnceCell<T>>>>>,
}

impl<T> Default for SingleFlight<T> {
    fn default() -> Self {
        Self {
            flights: Arc::default(),
        }
    }
}

impl<T> Clone for SingleFlight<T> {
    fn clone(&self) -> Self {
        Self {
            flights: self.flights.clone(),
        }
    }
}

impl<T: Clone> SingleFlight<T> {
    /// `work`'s answer for `key`: run now, or shared with a run already in flight.
    pub async fn run<F, Fut>(&self, key: &str, work: F) -> T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        let cell = self
            .flights
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key.to_owned())
            .or_default()
            .clone();
        let answer = cell.get_or_init(work).await.clone();
        let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
        if flights.get(key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            flights.remove(key);
        }
        answer
    }

    /// Keys with a run in flight now (for tests and diagnostics).
    pub fn in_flight(&self) -> usize {
        self.flights
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn overlapping_callers_share_one_run_and_later_ones_run_again() {
        let flights = SingleFlight::<usize>::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let (release, wait) = tokio::sync::watch::channel(false);
        let callers: Vec<_> = (0..8)
            .map(|_| {
                let (flights, runs, mut wait) = (flights.clone(), runs.clone(), wait.clone());
                tokio::spawn(async move {
                    flights
                        .run("k", || async move {
                            let _ = wait.wait_for(|go| *go).await;
                            runs.fetch_add(1, Ordering::SeqCst) + 1
                        })
                        .await
                })
            })
            .collect();
        // Every caller has joined the one flight before it may finish.
        yield_until(|| {
            flights
                .flights
                .lock()
                .unwrap()
                .get("k")
                .is_some_and(|c| Arc::strong_count(c) == 9)
        })
        .await;
        release.send(true).unwrap();
        for c in callers {
            assert_eq!(c.await.unwrap(), 1, "all shared the first run");
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(flights.in_flight(), 0);
        let again = flights
            .run("k", || async { runs.fetch_add(1, Ordering::SeqCst) + 1 })
            .await;
        assert_eq!(again, 2, "a caller after the run runs it again");
    }

    /// Yields until `cond` holds (tasks on this runtime make progress meanwhile).
    async fn yield_until(cond: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !cond() {
            assert!(std::time::Instant::now() < deadline, "condition not met");
            tokio::task::yield_now().await;
        }
    }
}
