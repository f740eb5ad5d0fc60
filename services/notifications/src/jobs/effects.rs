//! The effects sweep: notifications committed whose after-commit effects (feed, live and
//! unread copies, push jobs) are not known to be done, because Redis was away or the
//! process died between the commit and them, get them again. A row is left alone for a
//! grace period (its own after-commit step may still be running), then redone in a way
//! that is safe if the first attempt did happen: the feed copy and the live message go
//! out only if the feed does not hold the frame yet, the unread copy only if newer, and
//! push jobs only if the notification's `push:queued` mark is not set.

use std::collections::HashMap;
use std::time::Duration;

use uuid::Uuid;

use crate::state::AppState;
use crate::store::{self, Delivery};

/// How long a notification's own after-commit step has before the sweep redoes it.
pub const GRACE: Duration = Duration::from_secs(10);
/// How often the sweep looks.
pub const EVERY: Duration = Duration::from_secs(5);
/// Notifications redone per round at most.
const BATCH: u64 = 500;

/// One round: answers how many notifications had their effects done again.
pub async fn run_once(state: &AppState) -> anyhow::Result<usize> {
    let grace = chrono::Duration::from_std(GRACE)?;
    let before = state.clock.now() - grace;
    let pending = store::effects_pending(&state.db, before, BATCH).await?;
    if pending.is_empty() {
        return Ok(0);
    }
    let mut users: Vec<Uuid> = pending.iter().map(|n| n.user_id).collect();
    users.sort_unstable();
    users.dedup();
    let unread = store::unread_of(&state.db, &users).await?;
    let devices: HashMap<Uuid, Vec<Uuid>> = store::devices_of(&state.db, &users).await?;
    let made: Vec<_> = pending
        .iter()
        .map(|n| {
            let count = unread.get(&n.user_id).copied().unwrap_or(store::Unread {
                user_id: n.user_id,
                unread: 0,
                version: 0,
            });
            (n.clone(), count)
        })
        .collect();
    let fed = store::deliver(state, &made, &[], Delivery::Again).await;
    let queued = crate::jobs::push::enqueue(state, &pending, &devices, Delivery::Again).await;
    if !(fed && queued) {
        anyhow::bail!("Redis did not take the redone effects; next round");
    }
    let ids: Vec<Uuid> = pending.iter().map(|n| n.id).collect();
    store::effects_done(&state.db, &ids).await?;
    tracing::info!(
        notifications = ids.len(),
        "Effects of notifications left undone were done again."
    );
    Ok(ids.len())
}
