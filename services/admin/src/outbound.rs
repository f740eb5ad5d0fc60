//! What leaves the admin database: the chain's head copied to Redis (`audit:head`) and the
//! log; after each event's commit, the caches' generations bumped and the row announced
//! on `admin:events` (admins' live screens, through the notifications WebSocket).

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use fred::prelude::HashesInterface;
use fred::types::scripts::Script;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::audit::{ActorRole, Entry, ResourceType};

use crate::state::AppState;
use crate::store::audit::{CopiedHead, Head};

/// The cache scope of audit searches that reach "now".
pub const AUDIT_SCOPE: &str = "audit";
/// The cache scope of the dashboard (`admin:dashboard`).
pub const DASHBOARD_SCOPE: &str = "dashboard";
/// The cache scope of the user statistics (`admin:users:{period}`).
pub const USERS_SCOPE: &str = "users";

/// Moves the copy forward only: a copy with more rows than `ARGV[1]` stays (a database
/// whose head went back was truncated; `verify` says so), the same count with another
/// hash stays (it was rewritten). Answers 1 (copied), 0 (unchanged), -1 (went back),
/// -2 (same count, another hash).
const COPY_FORWARD: &str = r#"
local count = redis.call('HGET', KEYS[1], 'count')
if count then
  count = tonumber(count)
  local target = tonumber(ARGV[1])
  if count > target then return -1 end
  if count == target then
    if redis.call('HGET', KEYS[1], 'hash') == ARGV[2] then return 0 end
    return -2
  end
end
redis.call('HSET', KEYS[1], 'count', ARGV[1], 'hash', ARGV[2], 'recorded_at', ARGV[3], 'copied_at', ARGV[4])
return 1
"#;

static SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::from_lua(COPY_FORWARD));

/// What became of a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copied {
    Moved,
    Unchanged,
    /// The database's head is behind the copy: rows were removed.
    WentBack,
    /// Same count, another hash: the chain was rewritten.
    Rewritten,
}

/// Copies `head` to `audit:head` (forward only) at `now`, and logs it.
pub async fn copy_head(
    state: &AppState,
    head: &Head,
    now: DateTime<Utc>,
) -> anyhow::Result<Copied> {
    let args = vec![
        head.count.to_string(),
        head.hash.clone(),
        head.recorded_at.to_rfc3339(),
        now.to_rfc3339(),
    ];
    let answer: i64 = SCRIPT
        .evalsha_with_reload(state.redis.next(), state.keys.audit_head(), args)
        .await?;
    let copied = match answer {
        1 => Copied::Moved,
        0 => Copied::Unchanged,
        -1 => Copied::WentBack,
        _ => Copied::Rewritten,
    };
    match copied {
        Copied::Moved => {
            tracing::info!(count = head.count, hash = head.hash, "Audit chain head.");
        }
        Copied::Unchanged => {}
        Copied::WentBack | Copied::Rewritten => {
            tracing::error!(
                count = head.count,
                hash = head.hash,
                ?copied,
                "The audit chain's head in the database disagrees with the copy outside it: rows were removed or rewritten. GET /api/admin/audit/verify names where."
            );
        }
    }
    Ok(copied)
}

/// The head last copied to Redis, if any.
pub async fn copied_head(state: &AppState) -> anyhow::Result<Option<CopiedHead>> {
    let fields: std::collections::HashMap<String, String> =
        state.redis.hgetall(state.keys.audit_head()).await?;
    if fields.is_empty() {
        return Ok(None);
    }
    let field = |name: &str| {
        fields
            .get(name)
            .ok_or_else(|| anyhow::anyhow!("audit:head has no {name}"))
    };
    Ok(Some(CopiedHead {
        count: field("count")?.parse()?,
        hash: field("hash")?.clone(),
        copied_at: DateTime::parse_from_rfc3339(field("copied_at")?)?.with_timezone(&Utc),
    }))
}

/// What `admin:events` carries of a recorded row (live screens; the payload stays in
/// the log).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LiveRow {
    pub seq: i64,
    pub event_id: uuid::Uuid,
    pub action: String,
    pub actor_id: Option<uuid::Uuid>,
    pub actor_role: ActorRole,
    pub resource_type: ResourceType,
    pub resource_id: uuid::Uuid,
    pub recorded_at: DateTime<Utc>,
}

/// After a batch of events' rows and read models committed: searches that reach "now",
/// the dashboard and the user statistics see them (their generations bumped once, in one
/// round trip; computing them again stays one computation at a time per key), and admins'
/// screens hear of each row, in order, on `admin:events` (one pipeline).
pub async fn recorded(state: &AppState, entries: &[Entry]) {
    if entries.is_empty() {
        return;
    }
    let scopes = [AUDIT_SCOPE, DASHBOARD_SCOPE, USERS_SCOPE];
    if let Err(error) = state.cache.invalidate_all(&scopes).await {
        // The entries expire by their TTLs; until then a reader may miss the event.
        tracing::warn!(%error, "Admin cache generations not bumped.");
    }
    let live: Vec<LiveRow> = entries
        .iter()
        .map(|entry| LiveRow {
            seq: entry.seq,
            event_id: entry.event_id,
            action: entry.action.clone(),
            actor_id: entry.actor_id,
            actor_role: entry.actor_role,
            resource_type: entry.resource_type,
            resource_id: entry.resource_id,
            recorded_at: entry.recorded_at,
        })
        .collect();
    let channel = state.keys.admin_events_channel();
    if let Err(error) = service_kit::pubsub::publish_all(&state.redis, &channel, &live).await {
        tracing::warn!(%error, "admin:events not published (live screens only).");
    }
}
