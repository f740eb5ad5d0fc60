//! Notifications: stored in the database (the source of truth: content and read state),
//! mirrored in Redis for what must be fast or live:
//!
//! - `notifications:{userId}`: the last 100 notification frames, newest first (the seed's
//!   feed; `resume` replays from it when it reaches back far enough, and from the
//!   database otherwise);
//! - `notifications:{userId}:unread`: the unread count, moved by exactly the rows each
//!   change flipped (arrival +1, read -1, read-all -n), so concurrent reads and arrivals
//!   keep it right. It only moves while it exists; a missing counter (a Redis restart) is
//!   rebuilt from the database by the next reader (`SET NX`), see [`unread_count`];
//! - `user:{userId}:notifications`: the frame, published live after commit.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use common::redis::Lua;
use fred::prelude::{KeysInterface, ListInterface, PubsubInterface};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::compose::Composed;
use crate::entity::{channel_member, device, notification};
use crate::state::AppState;

/// KEYS: counter. ARGV: delta. Moves the counter only if it exists (a missing one is
/// rebuilt from the database by its next reader; creating it here from 0 would be wrong).
static ADJUST: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('INCRBY', KEYS[1], ARGV[1])
end
return false
",
    )
});

/// A notification as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: Uuid,
    /// The event type it came from, e.g. `offer.placed`.
    #[schema(example = "offer.placed")]
    pub kind: String,
    #[schema(example = "New offer on your invoice")]
    pub title: String,
    #[schema(example = "An investor offered NGN 1454383.56 at 18.5% a year for your invoice.")]
    pub body: String,
    /// Ids to link to (invoice_id, offer_id, ...).
    #[schema(value_type = Object)]
    pub data: Value,
    pub created_at: DateTime<Utc>,
    pub read: bool,
    pub read_at: Option<DateTime<Utc>>,
}

impl From<&notification::Model> for NotificationView {
    fn from(m: &notification::Model) -> Self {
        Self {
            id: m.id,
            kind: m.kind.clone(),
            title: m.title.clone(),
            body: m.body.clone(),
            data: serde_json::from_str(&m.data).unwrap_or(Value::Null),
            created_at: m.created_at,
            read: m.read_at.is_some(),
            read_at: m.read_at,
        }
    }
}

/// The live frame of a notification (`{"type":"notification", ...}`), as published on
/// the user's channel and kept in the feed.
#[derive(Debug, Serialize)]
pub struct Frame<'a> {
    #[serde(rename = "type")]
    pub kind_of_frame: &'static str,
    pub id: Uuid,
    pub kind: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub data: Value,
    pub created_at: DateTime<Utc>,
}

pub fn frame(m: &notification::Model) -> String {
    serde_json::to_string(&Frame {
        kind_of_frame: "notification",
        id: m.id,
        kind: &m.kind,
        title: &m.title,
        body: &m.body,
        data: serde_json::from_str(&m.data).unwrap_or(Value::Null),
        created_at: m.created_at,
    })
    .unwrap_or_default()
}

/// Records `composed` for `event_id` in the event's transaction: the channel members and
/// the notifications (one per event and user). Returns the notifications made.
pub async fn record<C: ConnectionTrait>(
    txn: &C,
    now: DateTime<Utc>,
    event_id: Uuid,
    composed: &Composed,
) -> Result<Vec<notification::Model>, sea_orm::DbErr> {
    for m in &composed.members {
        channel_member::Entity::insert(channel_member::ActiveModel {
            channel: Set(m.channel.clone()),
            user_id: Set(m.user_id),
            relation: Set(m.relation.to_owned()),
            created_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([
                channel_member::Column::Channel,
                channel_member::Column::UserId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    }
    let mut made = Vec::with_capacity(composed.drafts.len());
    for d in &composed.drafts {
        let model = notification::Model {
            id: common::new_id_at(now),
            user_id: d.user_id,
            event_id,
            kind: d.kind.clone(),
            title: d.title.clone(),
            body: d.body.clone(),
            data: d.data.to_string(),
            created_at: now,
            read_at: None,
        };
        let inserted = notification::Entity::insert(notification::ActiveModel {
            id: Set(model.id),
            user_id: Set(model.user_id),
            event_id: Set(model.event_id),
            kind: Set(model.kind.clone()),
            title: Set(model.title.clone()),
            body: Set(model.body.clone()),
            data: Set(model.data.clone()),
            created_at: Set(now),
            read_at: Set(None),
        })
        .on_conflict(
            OnConflict::columns([notification::Column::EventId, notification::Column::UserId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
        if inserted == 1 {
            made.push(model);
        }
    }
    Ok(made)
}

/// The registered devices of each of `users`.
pub async fn devices_of<C: ConnectionTrait>(
    db: &C,
    users: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Uuid>>, sea_orm::DbErr> {
    let mut out: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    if users.is_empty() {
        return Ok(out);
    }
    for d in device::Entity::find()
        .filter(device::Column::UserId.is_in(users.iter().copied()))
        .all(db)
        .await?
    {
        out.entry(d.user_id).or_default().push(d.id);
    }
    Ok(out)
}

/// Moves the unread counter of `user` by `delta` if it exists.
pub async fn adjust_unread(state: &AppState, user: Uuid, delta: i64) -> anyhow::Result<()> {
    let _: Option<i64> = ADJUST
        .call(
            &state.redis.next().clone(),
            vec![state.keys.notifications_unread(user)],
            vec![delta.to_string()],
        )
        .await?;
    Ok(())
}

/// After the commit of new notifications: count them, keep them in the feed, publish them
/// live. Redis being down loses only the live copy (the database has them; the counter
/// is rebuilt when missing).
pub async fn deliver(state: &AppState, made: &[notification::Model]) {
    for m in made {
        let frame = frame(m);
        let result: anyhow::Result<()> = async {
            adjust_unread(state, m.user_id, 1).await?;
            let feed = state.keys.notifications(m.user_id);
            let pipeline = state.redis.next().pipeline();
            let _: () = pipeline.lpush(&feed, frame.as_str()).await?;
            let _: () = pipeline
                .ltrim(&feed, 0, common::keys::ttl::NOTIFICATIONS_KEPT - 1)
                .await?;
            let _: () = pipeline
                .publish(
                    state.keys.user_notifications_channel(m.user_id),
                    frame.as_str(),
                )
                .await?;
            let _: Vec<fred::types::Value> = pipeline.all().await?;
            Ok(())
        }
        .await;
        if let Err(error) = result {
            tracing::warn!(%error, notification_id = %m.id, "Notification stored but not delivered live.");
        }
    }
}

/// The user's unread count: the counter, or (missing) the database's count, put back
/// with `SET NX` so a concurrent change that found it missing is not overwritten.
pub async fn unread_count(state: &AppState, user: Uuid) -> anyhow::Result<u64> {
    let key = state.keys.notifications_unread(user);
    let cached: Option<i64> = state.redis.next().get(&key).await?;
    if let Some(n) = cached {
        return Ok(u64::try_from(n).unwrap_or(0));
    }
    let counted = notification::Entity::find()
        .filter(notification::Column::UserId.eq(user))
        .filter(notification::Column::ReadAt.is_null())
        .count(&state.db)
        .await?;
    let _: Option<String> = state
        .redis
        .next()
        .set(
            &key,
            counted,
            None,
            Some(fred::types::SetOptions::NX),
            false,
        )
        .await?;
    Ok(counted)
}

/// Marks one of `user`'s notifications read. `None`: no such notification of theirs.
pub async fn mark_read(
    state: &AppState,
    user: Uuid,
    id: Uuid,
) -> anyhow::Result<Option<notification::Model>> {
    let flipped = notification::Entity::update_many()
        .col_expr(notification::Column::ReadAt, Expr::value(state.clock.now()))
        .filter(notification::Column::Id.eq(id))
        .filter(notification::Column::UserId.eq(user))
        .filter(notification::Column::ReadAt.is_null())
        .exec(&state.db)
        .await?
        .rows_affected;
    if flipped == 1 {
        adjust_unread(state, user, -1).await?;
    }
    Ok(notification::Entity::find_by_id(id)
        .filter(notification::Column::UserId.eq(user))
        .one(&state.db)
        .await?)
}

/// Marks all of `user`'s unread notifications read; returns how many flipped.
pub async fn mark_all_read(state: &AppState, user: Uuid) -> anyhow::Result<u64> {
    let flipped = notification::Entity::update_many()
        .col_expr(notification::Column::ReadAt, Expr::value(state.clock.now()))
        .filter(notification::Column::UserId.eq(user))
        .filter(notification::Column::ReadAt.is_null())
        .exec(&state.db)
        .await?
        .rows_affected;
    if flipped > 0 {
        adjust_unread(state, user, -i64::try_from(flipped).unwrap_or(i64::MAX)).await?;
    }
    Ok(flipped)
}

/// A page of `user`'s notifications, newest first, older than `before`; and whether
/// there are more.
pub async fn page(
    state: &AppState,
    user: Uuid,
    before: Option<Uuid>,
    limit: u64,
) -> Result<(Vec<notification::Model>, bool), sea_orm::DbErr> {
    let mut q = notification::Entity::find().filter(notification::Column::UserId.eq(user));
    if let Some(b) = before {
        q = q.filter(notification::Column::Id.lt(b));
    }
    let mut rows = q
        .order_by_desc(notification::Column::Id)
        .limit(limit + 1)
        .all(&state.db)
        .await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok((rows, more))
}

/// `user`'s notifications made after `after`, oldest first, at most `max`; and whether
/// there were more. From the feed when it reaches back to `after`, else the database.
pub async fn since(
    state: &AppState,
    user: Uuid,
    after: Uuid,
    max: u64,
) -> anyhow::Result<(Vec<String>, bool)> {
    let feed: Vec<String> = state
        .redis
        .next()
        .lrange(state.keys.notifications(user), 0, -1)
        .await
        .unwrap_or_default();
    // The feed is newest first; it covers `after` if its oldest entry is at or before it.
    let ids: Vec<Option<Uuid>> = feed.iter().map(|f| frame_id(f)).collect();
    if ids
        .last()
        .copied()
        .flatten()
        .is_some_and(|oldest| oldest <= after)
    {
        let mut newer: Vec<(Uuid, String)> = ids
            .into_iter()
            .zip(feed)
            .filter_map(|(id, f)| id.filter(|id| *id > after).map(|id| (id, f)))
            .collect();
        newer.sort_by_key(|(id, _)| *id);
        let more = newer.len() as u64 > max;
        newer.truncate(usize::try_from(max).unwrap_or(usize::MAX));
        return Ok((newer.into_iter().map(|(_, f)| f).collect(), more));
    }
    let mut rows = notification::Entity::find()
        .filter(notification::Column::UserId.eq(user))
        .filter(notification::Column::Id.gt(after))
        .order_by_asc(notification::Column::Id)
        .limit(max + 1)
        .all(&state.db)
        .await?;
    let more = rows.len() as u64 > max;
    rows.truncate(usize::try_from(max).unwrap_or(usize::MAX));
    Ok((rows.iter().map(frame).collect(), more))
}

/// The `id` of a notification frame.
pub fn frame_id(frame: &str) -> Option<Uuid> {
    #[derive(serde::Deserialize)]
    struct Id {
        id: Uuid,
    }
    serde_json::from_str::<Id>(frame).ok().map(|i| i.id)
}

/// Whether `user` is a recorded member of `channel` (unprefixed name).
pub async fn is_member<C: ConnectionTrait>(
    db: &C,
    channel: &str,
    user: Uuid,
) -> Result<bool, sea_orm::DbErr> {
    Ok(
        channel_member::Entity::find_by_id((channel.to_owned(), user))
            .one(db)
            .await?
            .is_some(),
    )
}
