//! Notifications: stored in the database (the source of truth: content and read state),
//! mirrored in Redis for what must be fast or live:
//!
//! - `notifications:{userId}`: the last 100 notification frames, newest first (the seed's
//!   feed; `resume` replays from it when it reaches back far enough, and from the
//!   database otherwise);
//! - `notifications:{userId}:unread`: the unread count. The count itself is kept in the
//!   database (`unread_counters`), moved in the SAME transaction as the change that moves
//!   it (arrival +1, read -1, read-all -n, by the rows actually flipped), with a version
//!   bumped each time; the row lock orders a user's changes. Redis holds a copy, a hash
//!   `{n, v}`, written after commit only if its version is newer ([`SET_IF_NEWER`]), so
//!   copies arriving out of order never win and a lost copy is rebuilt from the row by the
//!   next reader: the count is right under concurrent reads and arrivals, always;
//! - `user:{userId}:notifications`: the frame, published live after commit.

pub mod entity;
pub mod migration;

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use common::enums::BadStoredValue;
use fred::prelude::{HashesInterface, ListInterface, PubsubInterface};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use serde_json::Value;
use service_kit::redis::Lua;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::compose::Composed;
use crate::state::AppState;
use crate::store::entity::{channel_member, device, notification, unread_counter};

/// KEYS: counter hash. ARGV: version, unread. Writes the copy only if it is newer than
/// the one held.
static SET_IF_NEWER: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        r"
local held = redis.call('HGET', KEYS[1], 'v')
if (not held) or tonumber(held) < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'v', ARGV[1], 'n', ARGV[2])
  return 1
end
return 0
",
    )
});

/// A user's unread count as of one version of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unread {
    pub user_id: Uuid,
    pub unread: i64,
    pub version: i64,
}

/// Moves `user`'s unread count by `delta` in the caller's transaction (the row is locked
/// until it ends) and returns the new count and version.
pub async fn bump<C: ConnectionTrait>(
    txn: &C,
    user: Uuid,
    delta: i64,
) -> Result<Unread, sea_orm::DbErr> {
    let backend = txn.get_database_backend();
    let sql = match backend {
        sea_orm::DatabaseBackend::Postgres => {
            "INSERT INTO unread_counters (user_id, unread, version) VALUES ($1, $2, 1) \
             ON CONFLICT (user_id) DO UPDATE SET unread = unread_counters.unread + excluded.unread, \
             version = unread_counters.version + 1 RETURNING unread, version"
        }
        _ => {
            "INSERT INTO unread_counters (user_id, unread, version) VALUES (?, ?, 1) \
             ON CONFLICT (user_id) DO UPDATE SET unread = unread_counters.unread + excluded.unread, \
             version = unread_counters.version + 1 RETURNING unread, version"
        }
    };
    let row = txn
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            sql,
            [user.into(), delta.into()],
        ))
        .await?
        .ok_or_else(|| sea_orm::DbErr::RecordNotFound("unread counter".into()))?;
    Ok(Unread {
        user_id: user,
        unread: row.try_get("", "unread")?,
        version: row.try_get("", "version")?,
    })
}

/// Writes `u` to Redis unless a newer copy is there.
pub async fn publish_unread(state: &AppState, u: Unread) -> anyhow::Result<()> {
    let _: i64 = SET_IF_NEWER
        .call(
            &state.redis.next().clone(),
            vec![state.keys.notifications_unread(u.user_id)],
            vec![u.version.to_string(), u.unread.max(0).to_string()],
        )
        .await?;
    Ok(())
}

/// A notification as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: Uuid,
    /// The event type it came from (a name of the event catalogue, docs/messaging.md).
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

/// The notification's stored links (JSON text), or an error naming the row.
fn data_of(m: &notification::Model) -> Result<Value, BadStoredValue> {
    serde_json::from_str(&m.data).map_err(|e| BadStoredValue {
        table: "notifications",
        id: m.id.to_string(),
        column: "data",
        value: m.data.clone(),
        reason: e.to_string(),
    })
}

impl TryFrom<&notification::Model> for NotificationView {
    type Error = BadStoredValue;
    fn try_from(m: &notification::Model) -> Result<Self, BadStoredValue> {
        Ok(Self {
            id: m.id,
            kind: m.kind.clone(),
            title: m.title.clone(),
            body: m.body.clone(),
            data: data_of(m)?,
            created_at: m.created_at,
            read: m.read_at.is_some(),
            read_at: m.read_at,
        })
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

pub fn frame(m: &notification::Model) -> Result<String, BadStoredValue> {
    Ok(serde_json::to_string(&Frame {
        kind_of_frame: "notification",
        id: m.id,
        kind: &m.kind,
        title: &m.title,
        body: &m.body,
        data: data_of(m)?,
        created_at: m.created_at,
    })
    .unwrap_or_default())
}

/// Rows per multi-row statement (far below SQLite's and PostgreSQL's bound parameters).
const ROWS_PER_STATEMENT: usize = 500;

/// Records what each of `events` (event id, what it makes) composed, in the events'
/// transaction, in a few statements for all: the channel members, the notifications (one
/// per event and user; one already recorded is not made again) and their recipients'
/// unread counts (one upsert per batch, users in id order so that two consumers lock
/// counters in the same order). Returns, per event in order, the notifications it made,
/// each with its recipient's count after the batch.
pub async fn record_all<C: ConnectionTrait>(
    txn: &C,
    now: DateTime<Utc>,
    events: &[(Uuid, &Composed)],
) -> Result<Vec<Vec<(notification::Model, Unread)>>, sea_orm::DbErr> {
    let backend = txn.get_database_backend();
    // Microseconds, as PostgreSQL keeps them: the live and feed copies say the same time
    // as the stored row (and the effects sweep recognises a feed copy by its frame).
    let now = chrono::SubsecRound::trunc_subsecs(now, 6);
    let mut members: Vec<&crate::domain::compose::Member> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (_, composed) in events {
        for m in &composed.members {
            if seen.insert((m.channel.as_str(), m.user_id)) {
                members.push(m);
            }
        }
    }
    for chunk in members.chunks(ROWS_PER_STATEMENT) {
        let mut insert = sea_orm::sea_query::Query::insert();
        insert.into_table(channel_member::Entity).columns([
            channel_member::Column::Channel,
            channel_member::Column::UserId,
            channel_member::Column::Relation,
            channel_member::Column::CreatedAt,
        ]);
        for m in chunk {
            insert
                .values([
                    m.channel.clone().into(),
                    m.user_id.into(),
                    m.relation.into(),
                    now.into(),
                ])
                .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
        }
        insert.on_conflict(
            OnConflict::columns([
                channel_member::Column::Channel,
                channel_member::Column::UserId,
            ])
            .do_nothing()
            .to_owned(),
        );
        txn.execute_raw(backend.build(&insert)).await?;
    }

    // Every draft as the row it would be, in order (ids made now increase).
    let drafted: Vec<(usize, notification::Model)> = events
        .iter()
        .enumerate()
        .flat_map(|(i, (event_id, composed))| {
            composed.drafts.iter().map(move |d| {
                (
                    i,
                    notification::Model {
                        id: common::new_id_at(now),
                        user_id: d.user_id,
                        event_id: *event_id,
                        kind: d.kind.clone(),
                        title: d.title.clone(),
                        body: d.body.clone(),
                        data: d.data.to_string(),
                        created_at: now,
                        read_at: None,
                        effects_pending: true,
                    },
                )
            })
        })
        .collect();
    let mut inserted = std::collections::HashSet::new();
    for chunk in drafted.chunks(ROWS_PER_STATEMENT) {
        let mut insert = sea_orm::sea_query::Query::insert();
        insert.into_table(notification::Entity).columns([
            notification::Column::Id,
            notification::Column::UserId,
            notification::Column::EventId,
            notification::Column::Kind,
            notification::Column::Title,
            notification::Column::Body,
            notification::Column::Data,
            notification::Column::CreatedAt,
            notification::Column::ReadAt,
            notification::Column::EffectsPending,
        ]);
        for (_, m) in chunk {
            insert
                .values([
                    m.id.into(),
                    m.user_id.into(),
                    m.event_id.into(),
                    m.kind.clone().into(),
                    m.title.clone().into(),
                    m.body.clone().into(),
                    m.data.clone().into(),
                    now.into(),
                    Option::<DateTime<Utc>>::None.into(),
                    true.into(),
                ])
                .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
        }
        insert
            .on_conflict(
                OnConflict::columns([notification::Column::EventId, notification::Column::UserId])
                    .do_nothing()
                    .to_owned(),
            )
            .returning_col(notification::Column::Id);
        for row in txn.query_all_raw(backend.build(&insert)).await? {
            inserted.insert(row.try_get::<Uuid>("", "id")?);
        }
    }

    // Each recipient's count moved once by what they received.
    let mut arrived: std::collections::BTreeMap<Uuid, i64> = std::collections::BTreeMap::new();
    for (_, m) in drafted.iter().filter(|(_, m)| inserted.contains(&m.id)) {
        *arrived.entry(m.user_id).or_default() += 1;
    }
    let counts = bump_all(txn, &arrived).await?;
    let mut made: Vec<Vec<(notification::Model, Unread)>> = vec![Vec::new(); events.len()];
    for (i, m) in drafted {
        if inserted.contains(&m.id)
            && let Some(unread) = counts.get(&m.user_id)
        {
            made[i].push((m, *unread));
        }
    }
    Ok(made)
}

/// [`bump`] for several users at once (each user once in `deltas`): one upsert, in user
/// id order.
async fn bump_all<C: ConnectionTrait>(
    txn: &C,
    deltas: &std::collections::BTreeMap<Uuid, i64>,
) -> Result<HashMap<Uuid, Unread>, sea_orm::DbErr> {
    let mut counts = HashMap::with_capacity(deltas.len());
    let users: Vec<(&Uuid, &i64)> = deltas.iter().collect();
    for chunk in users.chunks(ROWS_PER_STATEMENT) {
        let mut insert = sea_orm::sea_query::Query::insert();
        insert.into_table(unread_counter::Entity).columns([
            unread_counter::Column::UserId,
            unread_counter::Column::Unread,
            unread_counter::Column::Version,
        ]);
        for (user, delta) in chunk {
            insert
                .values([(**user).into(), (**delta).into(), 1_i64.into()])
                .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
        }
        insert
            .on_conflict(
                OnConflict::column(unread_counter::Column::UserId)
                    .value(
                        unread_counter::Column::Unread,
                        Expr::cust("unread_counters.unread + excluded.unread"),
                    )
                    .value(
                        unread_counter::Column::Version,
                        Expr::cust("unread_counters.version + 1"),
                    )
                    .to_owned(),
            )
            .returning(sea_orm::sea_query::Query::returning().columns([
                unread_counter::Column::UserId,
                unread_counter::Column::Unread,
                unread_counter::Column::Version,
            ]));
        let backend = txn.get_database_backend();
        for row in txn.query_all_raw(backend.build(&insert)).await? {
            let user_id: Uuid = row.try_get("", "user_id")?;
            counts.insert(
                user_id,
                Unread {
                    user_id,
                    unread: row.try_get("", "unread")?,
                    version: row.try_get("", "version")?,
                },
            );
        }
    }
    Ok(counts)
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

/// Feeds and publishes a notification only if its feed does not hold it yet: the effects
/// sweep's redo of a delivery that may have happened (`LPOS` finds the same frame).
static FEED_ONCE: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        r"
if redis.call('LPOS', KEYS[1], ARGV[1]) then
  return 0
end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
",
    )
});

/// How [`deliver`] treats a notification's feed copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Just made: fed and published.
    First,
    /// Redone by the effects sweep: fed and published only if not in the feed already.
    Again,
}

/// After the commit of new notifications (in the order made): their recipients' counts
/// (each user's newest), the feed, the live copy, all in one pipeline. Answers whether
/// Redis took it all; if not, the database has the rest and the effects sweep does it
/// again. `traces[i]` is the `traceparent` of the event that made `made[i]`: the live
/// copy carries it to the hub ([`crate::ws::frames::traced`]).
pub async fn deliver(
    state: &AppState,
    made: &[(notification::Model, Unread)],
    traces: &[Option<&str>],
    delivery: Delivery,
) -> bool {
    if made.is_empty() {
        return true;
    }
    let result: anyhow::Result<()> = async {
        let pipeline = state.redis.next().pipeline();
        let mut newest: HashMap<Uuid, Unread> = HashMap::new();
        for (i, (m, unread)) in made.iter().enumerate() {
            let frame = match frame(m) {
                Ok(frame) => frame,
                Err(error) => {
                    tracing::error!(%error, "Notification not delivered live.");
                    continue;
                }
            };
            let held = newest.entry(m.user_id).or_insert(*unread);
            if unread.version > held.version {
                *held = *unread;
            }
            let feed = state.keys.notifications(m.user_id);
            let channel = state.keys.user_notifications_channel(m.user_id);
            let live = crate::ws::frames::traced(traces.get(i).copied().flatten(), &frame);
            match delivery {
                Delivery::First => {
                    let () = pipeline.lpush(feed, frame.as_str()).await?;
                    let () = pipeline.publish(channel, live).await?;
                }
                Delivery::Again => {
                    FEED_ONCE
                        .queue(&pipeline, vec![feed], vec![frame, channel, live])
                        .await?;
                }
            }
        }
        for (user, u) in &newest {
            let () = pipeline
                .ltrim(
                    state.keys.notifications(*user),
                    0,
                    common::keys::ttl::NOTIFICATIONS_KEPT - 1,
                )
                .await?;
            let () = SET_IF_NEWER
                .queue(
                    &pipeline,
                    vec![state.keys.notifications_unread(*user)],
                    vec![u.version.to_string(), u.unread.max(0).to_string()],
                )
                .await?;
        }
        let _: Vec<fred::types::Value> = pipeline.all().await?;
        Ok(())
    }
    .await;
    followed(
        result,
        made.len(),
        "Notifications stored but not delivered yet",
    )
}

/// Whether an after-commit step for `notifications` went through; if not, it is logged
/// as `what`, for the effects sweep to retry.
pub(crate) fn followed(result: anyhow::Result<()>, notifications: usize, what: &str) -> bool {
    match result {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(%error, notifications, "{what}; the effects sweep retries.");
            false
        }
    }
}

/// Marks the effects of `ids` done (the sweep leaves them alone from now on).
pub async fn effects_done<C: ConnectionTrait>(db: &C, ids: &[Uuid]) -> Result<(), sea_orm::DbErr> {
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        notification::Entity::update_many()
            .col_expr(notification::Column::EffectsPending, Expr::value(false))
            .filter(notification::Column::Id.is_in(chunk.to_vec()))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Notifications whose effects are still pending although made before `before`, oldest
/// first, at most `limit`.
pub async fn effects_pending<C: ConnectionTrait>(
    db: &C,
    before: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<notification::Model>, sea_orm::DbErr> {
    notification::Entity::find()
        .filter(notification::Column::EffectsPending.eq(true))
        .filter(notification::Column::CreatedAt.lt(before))
        .order_by_asc(notification::Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await
}

/// Each of `users`' unread count as the database has it now.
pub async fn unread_of<C: ConnectionTrait>(
    db: &C,
    users: &[Uuid],
) -> Result<HashMap<Uuid, Unread>, sea_orm::DbErr> {
    Ok(unread_counter::Entity::find()
        .filter(unread_counter::Column::UserId.is_in(users.to_vec()))
        .all(db)
        .await?
        .into_iter()
        .map(|c| {
            (
                c.user_id,
                Unread {
                    user_id: c.user_id,
                    unread: c.unread,
                    version: c.version,
                },
            )
        })
        .collect())
}

/// The user's unread count: Redis' copy, or (missing) the database's, copied back.
pub async fn unread_count(state: &AppState, user: Uuid) -> anyhow::Result<u64> {
    let cached: Option<i64> = state
        .redis
        .next()
        .hget(state.keys.notifications_unread(user), "n")
        .await?;
    if let Some(n) = cached {
        return Ok(u64::try_from(n).unwrap_or(0));
    }
    let row = unread_counter::Entity::find_by_id(user)
        .one(&state.db)
        .await?;
    let Some(row) = row else {
        return Ok(0);
    };
    publish_unread(
        state,
        Unread {
            user_id: user,
            unread: row.unread,
            version: row.version,
        },
    )
    .await?;
    Ok(u64::try_from(row.unread).unwrap_or(0))
}

/// Marks one of `user`'s notifications read. `None`: no such notification of theirs.
pub async fn mark_read(
    state: &AppState,
    user: Uuid,
    id: Uuid,
) -> anyhow::Result<Option<notification::Model>> {
    let txn = service_kit::db::begin_write(&state.db).await?;
    let flipped = notification::Entity::update_many()
        .col_expr(notification::Column::ReadAt, Expr::value(state.clock.now()))
        .filter(notification::Column::Id.eq(id))
        .filter(notification::Column::UserId.eq(user))
        .filter(notification::Column::ReadAt.is_null())
        .exec(&*txn)
        .await?
        .rows_affected;
    let unread = if flipped == 1 {
        Some(bump(&*txn, user, -1).await?)
    } else {
        None
    };
    let found = notification::Entity::find_by_id(id)
        .filter(notification::Column::UserId.eq(user))
        .one(&*txn)
        .await?;
    txn.commit().await?;
    if let Some(u) = unread {
        publish_unread(state, u).await?;
    }
    Ok(found)
}

/// Marks all of `user`'s unread notifications read; returns how many flipped and the
/// count after.
pub async fn mark_all_read(state: &AppState, user: Uuid) -> anyhow::Result<(u64, u64)> {
    let txn = service_kit::db::begin_write(&state.db).await?;
    let flipped = notification::Entity::update_many()
        .col_expr(notification::Column::ReadAt, Expr::value(state.clock.now()))
        .filter(notification::Column::UserId.eq(user))
        .filter(notification::Column::ReadAt.is_null())
        .exec(&*txn)
        .await?
        .rows_affected;
    let unread = if flipped > 0 {
        Some(bump(&*txn, user, -i64::try_from(flipped).unwrap_or(i64::MAX)).await?)
    } else {
        None
    };
    txn.commit().await?;
    let after = match unread {
        Some(u) => {
            publish_unread(state, u).await?;
            u64::try_from(u.unread).unwrap_or(0)
        }
        None => unread_count(state, user).await?,
    };
    Ok((flipped, after))
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
    Ok((rows.iter().map(frame).collect::<Result<_, _>>()?, more))
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
