//! Background loops that work in rounds ([`Rounds`]): a round when woken
//! ([`Wake::wake`], right after a commit that gave them work), otherwise every poll
//! interval (for work another process left, or a wake that came while no one listened),
//! and rounds back to back while a round says there is more. The outbox relay is one; a
//! service's own appliers are others.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::shutdown::CancellationToken;

/// Wakes a loop of [`rounds`]. Cheap to clone; a wake while the loop is busy makes it run
/// a round again right after.
#[derive(Clone, Debug, Default)]
pub struct Wake(Arc<Notify>);

impl Wake {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// When a loop's next round is due, for loops of the form
/// `let mut more = false; while rounds.next(more).await { more = round().await; }`.
#[derive(Clone, Debug)]
pub struct Rounds {
    stop: CancellationToken,
    wake: Wake,
    poll: Duration,
}

impl Rounds {
    /// Rounds that `wake` wakes, every `poll` otherwise, until `stop` is cancelled.
    pub fn new(stop: CancellationToken, wake: Wake, poll: Duration) -> Self {
        Self { stop, wake, poll }
    }

    /// Waits for the next round: at once after a round that left `more`, otherwise until
    /// woken or `poll` has passed. False once stopped. Beats the task's heartbeat.
    pub async fn next(&self, more: bool) -> bool {
        if !more {
            tokio::select! {
                () = self.stop.cancelled() => {}
                () = self.wake.0.notified() => {}
                () = tokio::time::sleep(self.poll) => {}
            }
        }
        crate::heartbeat::beat();
        !self.stop.is_cancelled()
    }
}
