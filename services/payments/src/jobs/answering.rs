//! Deliveries being answered now ([`InFlight`]), for the applier that gives way to
//! them: on a machine the endpoint shares with its applier, a burst of deliveries is
//! answered first and their effects follow.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

/// How many requests of a kind are being answered now, for background work that gives
/// way to them ([`InFlight::quiet`]): on a machine the API shares with its own
/// background loops, a burst of requests is answered first and the loop's work follows.
/// Cheap to clone; counts in this process only (a separate worker process never waits).
#[derive(Clone, Debug, Default)]
pub struct InFlight(Arc<InFlightInner>);

#[derive(Debug, Default)]
struct InFlightInner {
    count: std::sync::atomic::AtomicUsize,
    idle: Notify,
}

/// One request being answered; it counts until dropped.
#[derive(Debug)]
#[must_use = "the request counts only while the guard is held"]
pub struct InFlightGuard(Arc<InFlightInner>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self
            .0
            .count
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst)
            == 1
        {
            self.0.idle.notify_waiters();
        }
    }
}

impl InFlight {
    /// Counts a request until the guard is dropped.
    pub fn enter(&self) -> InFlightGuard {
        self.0
            .count
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        InFlightGuard(self.0.clone())
    }

    /// Requests being answered now.
    pub fn count(&self) -> usize {
        self.0.count.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits until no request is being answered, or `at_most` has passed: true if it
    /// became quiet, false if it gave up waiting.
    pub async fn quiet(&self, at_most: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + at_most;
        loop {
            let idle = self.0.idle.notified();
            tokio::pin!(idle);
            // Registered before the count is read: a request ending in between still
            // wakes this wait.
            idle.as_mut().enable();
            if self.count() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                return false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn quiet_at_once_when_nothing_is_in_flight() {
        let busy = InFlight::default();
        drop(busy.enter());
        assert_eq!(busy.count(), 0);
        // An hour's bound: only an immediate answer ends this test.
        assert!(busy.quiet(Duration::from_secs(3_600)).await);
    }

    #[tokio::test]
    async fn quiet_waits_for_the_last_request_to_end() {
        let busy = InFlight::default();
        let first = busy.enter();
        let second = busy.enter();
        assert_eq!(busy.count(), 2);
        let waiter = tokio::spawn({
            let busy = busy.clone();
            async move { busy.quiet(Duration::from_secs(3_600)).await }
        });
        drop(first);
        assert_eq!(busy.count(), 1);
        drop(second);
        let quiet = tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .expect("the wait ends when the last request does")
            .expect("the waiter does not panic");
        assert!(quiet, "it became quiet, it did not give up");
    }

    #[tokio::test]
    async fn quiet_gives_up_after_at_most_while_a_request_is_held() {
        let busy = InFlight::default();
        let _held = busy.enter();
        assert!(!busy.quiet(Duration::from_millis(20)).await);
        assert_eq!(busy.count(), 1);
    }
}
