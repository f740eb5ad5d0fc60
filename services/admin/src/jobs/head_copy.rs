//! Every `ADMIN_HEAD_COPY_SECS`: the chain's head (count, hash) copied to Redis
//! (`audit:head`, forward only) and to the log, so that removing the newest rows and
//! rewinding the head in the database is caught by `verify`.

use crate::outbound::{self, Copied};
use crate::state::AppState;

/// One copy.
pub async fn run_once(state: &AppState) -> anyhow::Result<Copied> {
    let head = crate::store::audit::head(&state.db).await?;
    outbound::copy_head(state, &head, state.clock.now()).await
}
