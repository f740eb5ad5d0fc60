//! The audit log: appending (one row per event, chained), verifying the chain, searching.

use chrono::{DateTime, Utc};
use common::events::{Envelope, Event};
use sea_orm::sea_query::{LockType, OnConflict};
use sea_orm::{
    ActiveValue, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::AdminError;
use crate::domain::audit::{self, ActorRole, Entry, GENESIS, ResourceType, Subject};
use crate::domain::search::AuditQuery;
use crate::store::entity::{audit_entry, audit_head};

/// The head row's id.
const HEAD: i16 = 1;

/// The chain's head as the database holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Head {
    /// Rows in the chain.
    pub count: i64,
    /// The newest row's hash (64 zeros when empty).
    pub hash: String,
    /// The newest row's `recorded_at`.
    pub recorded_at: DateTime<Utc>,
}

impl Head {
    /// The head once `entry`, linked by `hash`, is the newest row.
    fn after(entry: &Entry, hash: String) -> Self {
        Head {
            count: entry.seq,
            hash,
            recorded_at: entry.recorded_at,
        }
    }
}

/// The head, read (on PostgreSQL) with a row lock held to the end of the transaction:
/// appenders take turns.
pub(crate) async fn head_locked<C: ConnectionTrait>(txn: &C) -> anyhow::Result<Head> {
    read_head(txn, Some(LockType::Update)).await
}

/// The head now.
pub async fn head<C: ConnectionTrait>(db: &C) -> anyhow::Result<Head> {
    read_head(db, None).await
}

async fn read_head<C: ConnectionTrait>(db: &C, lock: Option<LockType>) -> anyhow::Result<Head> {
    let mut find = audit_head::Entity::find_by_id(HEAD);
    if let Some(lock) = lock {
        find = find.lock(lock);
    }
    let head = find
        .one(db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the audit_head row is missing"))?;
    Ok(Head {
        count: head.count,
        hash: head.hash,
        recorded_at: head.recorded_at,
    })
}

/// Appends `event` (delivered in `envelope`) at `now`, in `txn`: the row chained to the
/// head, then the head moved to it. `None` if the event was recorded before.
pub async fn append<C: ConnectionTrait>(
    txn: &C,
    key: &[u8],
    envelope: &Envelope,
    event: &Event,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Entry>> {
    let head = head_locked(txn).await?;
    let entry = next_entry(&head, envelope, event, now)?;
    let hash = audit::link(key, &head.hash, &entry);
    let inserted = audit_entry::Entity::insert(row_of(&entry, hash.clone()))
        .on_conflict(once_per_event())
        .exec_without_returning(txn)
        .await?;
    if inserted == 0 {
        return Ok(None);
    }
    move_head(txn, head.count, Head::after(&entry, hash)).await?;
    Ok(Some(entry))
}

/// The row that follows `head` for `event` (delivered in `envelope`), recorded at `now`.
fn next_entry(
    head: &Head,
    envelope: &Envelope,
    event: &Event,
    now: DateTime<Utc>,
) -> anyhow::Result<Entry> {
    let subject = Subject::of(event);
    Ok(Entry {
        seq: head.count + 1,
        event_id: envelope.id,
        occurred_at: audit::micros(envelope.occurred_at),
        // Never before the newest row: rows are in time order whatever the clock did.
        recorded_at: audit::micros(now).max(head.recorded_at),
        producer: envelope.producer.as_str().to_owned(),
        action: event.event_type().name.to_owned(),
        actor_id: subject.actor_id,
        actor_role: subject.actor_role,
        resource_type: subject.resource_type,
        resource_id: subject.resource_id,
        payload: audit::masked_payload(event)?.to_string(),
        trace_id: audit::trace_id(envelope.traceparent.as_deref()),
    })
}

/// [`append`] for several events in one transaction, in their order: one read of the head,
/// the rows in one multi-row insert, one move of the head; one entry for each. The events
/// must be new (the consumer's inbox claimed them in this transaction): one already in the
/// log fails the whole batch (nothing is written: the caller's transaction rolls back, and
/// the consumer applies each event alone, where [`append`] finds it and skips it).
pub async fn append_all<C: ConnectionTrait>(
    txn: &C,
    key: &[u8],
    events: &[(&Envelope, &Event)],
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Entry>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let head = head_locked(txn).await?;
    let mut moved = head.clone();
    let mut entries = Vec::with_capacity(events.len());
    let mut rows = Vec::with_capacity(events.len());
    for (envelope, event) in events {
        let entry = next_entry(&moved, envelope, event, now)?;
        let hash = audit::link(key, &moved.hash, &entry);
        rows.push(row_of(&entry, hash.clone()));
        moved = Head::after(&entry, hash);
        entries.push(entry);
    }
    let inserted = audit_entry::Entity::insert_many(rows)
        .on_conflict(once_per_event())
        .exec_without_returning(txn)
        .await?;
    if inserted != entries.len() as u64 {
        anyhow::bail!(
            "{} of {} events of the batch are already in the audit log",
            entries.len() as u64 - inserted,
            entries.len()
        );
    }
    move_head(txn, head.count, moved).await?;
    Ok(entries)
}

/// An event has one row: a second insert of its row does nothing.
fn once_per_event() -> OnConflict {
    OnConflict::column(audit_entry::Column::EventId)
        .do_nothing()
        .to_owned()
}

/// The row that stores `entry`, linked by `hash`.
pub(crate) fn row_of(entry: &Entry, hash: String) -> audit_entry::ActiveModel {
    audit_entry::ActiveModel {
        seq: ActiveValue::Set(entry.seq),
        event_id: ActiveValue::Set(entry.event_id),
        occurred_at: ActiveValue::Set(entry.occurred_at),
        recorded_at: ActiveValue::Set(entry.recorded_at),
        producer: ActiveValue::Set(entry.producer.clone()),
        action: ActiveValue::Set(entry.action.clone()),
        actor_id: ActiveValue::Set(entry.actor_id),
        actor_role: ActiveValue::Set(entry.actor_role.as_str().to_owned()),
        resource_type: ActiveValue::Set(entry.resource_type.as_str().to_owned()),
        resource_id: ActiveValue::Set(entry.resource_id),
        payload: ActiveValue::Set(entry.payload.clone()),
        trace_id: ActiveValue::Set(entry.trace_id.clone()),
        hash: ActiveValue::Set(hash),
    }
}

/// Moves the head from `from` rows to `to`, only if no other appender moved it since it
/// was read ([`AdminError::HeadMoved`] otherwise: PostgreSQL's row lock on the head makes
/// that rare; this is the guard, not the mechanism).
pub(crate) async fn move_head<C: ConnectionTrait>(
    txn: &C,
    from: i64,
    to: Head,
) -> anyhow::Result<()> {
    let moved = audit_head::Entity::update_many()
        .col_expr(audit_head::Column::Count, to.count.into())
        .col_expr(audit_head::Column::Hash, to.hash.into())
        .col_expr(audit_head::Column::RecordedAt, to.recorded_at.into())
        .filter(audit_head::Column::Id.eq(HEAD))
        .filter(audit_head::Column::Count.eq(from))
        .exec(txn)
        .await?;
    if moved.rows_affected != 1 {
        return Err(AdminError::HeadMoved.into());
    }
    Ok(())
}

/// The row as an [`Entry`] (what its hash was made of), or why it cannot be one.
fn entry_of(row: &audit_entry::Model) -> Result<Entry, String> {
    Ok(Entry {
        seq: row.seq,
        event_id: row.event_id,
        occurred_at: row.occurred_at,
        recorded_at: row.recorded_at,
        producer: row.producer.clone(),
        action: row.action.clone(),
        actor_id: row.actor_id,
        actor_role: row.actor_role.parse::<ActorRole>()?,
        resource_type: row.resource_type.parse::<ResourceType>()?,
        resource_id: row.resource_id,
        payload: row.payload.clone(),
        trace_id: row.trace_id.clone(),
    })
}

/// The head as copied outside the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CopiedHead {
    pub count: i64,
    pub hash: String,
    pub copied_at: DateTime<Utc>,
}

/// The first row at fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BadRow {
    /// Its place in the chain.
    pub seq: i64,
    /// The event it records, if the row is there.
    pub event_id: Option<Uuid>,
    /// What is wrong, in words.
    pub reason: String,
}

/// What a walk of the chain found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Verification {
    /// True when every row links to the one before, the head matches the newest row, and
    /// the chain holds the head copied outside the database.
    pub ok: bool,
    /// Rows walked.
    pub rows: i64,
    /// The head in the database.
    pub head: Head,
    /// The head last copied outside the database (Redis), if any.
    pub copied_head: Option<CopiedHead>,
    /// The first row at fault (`None` when `ok`).
    pub first_bad: Option<BadRow>,
}

/// Rows read per query while walking.
const WALK_PAGE: u64 = 5_000;

/// Walks the whole chain in order, recomputing every link with `key`, and compares its
/// end with the head row and with `copied` (the head copied outside the database).
pub async fn verify<C: ConnectionTrait>(
    db: &C,
    key: &[u8],
    copied: Option<CopiedHead>,
) -> anyhow::Result<Verification> {
    let head = head(db).await?;
    let mut previous = GENESIS.to_owned();
    let mut expected = 1_i64;
    let mut first_bad: Option<BadRow> = None;
    let mut hash_at_copy: Option<String> = None;
    'walk: loop {
        let rows = audit_entry::Entity::find()
            .filter(audit_entry::Column::Seq.gte(expected))
            .order_by_asc(audit_entry::Column::Seq)
            .limit(WALK_PAGE)
            .all(db)
            .await?;
        let full = rows.len() as u64 == WALK_PAGE;
        for row in &rows {
            if row.seq != expected {
                first_bad = Some(BadRow {
                    seq: expected,
                    event_id: None,
                    reason: format!(
                        "row {expected} is missing (removed): the next row is {}",
                        row.seq
                    ),
                });
                break 'walk;
            }
            let linked = entry_of(row).map(|e| audit::link(key, &previous, &e));
            if linked.as_deref() != Ok(row.hash.as_str()) {
                first_bad = Some(BadRow {
                    seq: row.seq,
                    event_id: Some(row.event_id),
                    reason: format!(
                        "row {} does not match its hash: it was edited, or the row before it was",
                        row.seq
                    ),
                });
                break 'walk;
            }
            if copied.as_ref().is_some_and(|c| c.count == row.seq) {
                hash_at_copy = Some(row.hash.clone());
            }
            previous.clone_from(&row.hash);
            expected += 1;
        }
        if !full {
            break;
        }
    }
    let rows = expected - 1;
    if first_bad.is_none() && (head.count != rows || head.hash != previous) {
        first_bad = Some(if head.count > rows {
            BadRow {
                seq: rows + 1,
                event_id: None,
                reason: format!(
                    "the head counts {} rows but the chain ends at row {rows}: rows {}..={} were removed",
                    head.count,
                    rows + 1,
                    head.count
                ),
            }
        } else {
            BadRow {
                seq: head.count.max(1),
                event_id: None,
                reason: format!(
                    "the head (row {}, {}) is not the chain's newest row (row {rows}): it was rewritten",
                    head.count, head.hash
                ),
            }
        });
    }
    if first_bad.is_none()
        && let Some(c) = &copied
    {
        if c.count > rows {
            first_bad = Some(BadRow {
                seq: rows + 1,
                event_id: None,
                reason: format!(
                    "the head copied outside the database at {} counted {} rows; the database has {rows}: rows {}..={} were removed",
                    c.copied_at,
                    c.count,
                    rows + 1,
                    c.count
                ),
            });
        } else if c.count > 0 && hash_at_copy.as_deref() != Some(c.hash.as_str()) {
            first_bad = Some(BadRow {
                seq: c.count,
                event_id: None,
                reason: format!(
                    "row {} is not the row the head copied at {} recorded: the chain was rewritten from there or before",
                    c.count, c.copied_at
                ),
            });
        }
    }
    Ok(Verification {
        ok: first_bad.is_none(),
        rows,
        head,
        copied_head: copied,
        first_bad,
    })
}

/// One audit row, as searches answer it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditItem {
    pub seq: i64,
    pub event_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    /// The service that told it.
    pub producer: String,
    /// The event type.
    pub action: String,
    pub actor_id: Option<Uuid>,
    pub actor_role: ActorRole,
    pub resource_type: ResourceType,
    pub resource_id: Uuid,
    /// The event's payload, personal fields masked.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// The W3C trace id of the change that caused it.
    pub trace_id: Option<String>,
    /// The row's link in the chain.
    pub hash: String,
}

/// One page of a search, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditItem>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The rows `q` asks for, newest first.
pub async fn search<C: ConnectionTrait>(db: &C, q: &AuditQuery) -> anyhow::Result<AuditPage> {
    use audit_entry::Column as A;
    let mut filter = Condition::all();
    if let Some(actor) = q.actor {
        filter = filter.add(A::ActorId.eq(actor));
    }
    if let Some(action) = q.action {
        filter = filter.add(A::Action.eq(action));
    }
    if let Some(t) = q.resource_type {
        filter = filter.add(A::ResourceType.eq(t.as_str()));
    }
    if let Some(id) = q.resource_id {
        filter = filter.add(A::ResourceId.eq(id));
    }
    if let Some(from) = q.from {
        filter = filter.add(A::RecordedAt.gte(from));
    }
    if let Some(to) = q.to {
        filter = filter.add(A::RecordedAt.lte(to));
    }
    if let Some(before) = q.before {
        filter = filter.add(A::Seq.lt(before));
    }
    let rows = audit_entry::Entity::find()
        .filter(filter)
        .order_by_desc(A::Seq)
        .limit(q.limit + 1)
        .all(db)
        .await?;
    let (rows, next_cursor) = super::keyset(rows, q.limit, |r| r.seq.to_string());
    let items = rows
        .into_iter()
        .map(|r| {
            Ok(AuditItem {
                actor_role: r.actor_role.parse().map_err(anyhow::Error::msg)?,
                resource_type: r.resource_type.parse().map_err(anyhow::Error::msg)?,
                payload: serde_json::from_str(&r.payload)?,
                seq: r.seq,
                event_id: r.event_id,
                occurred_at: r.occurred_at,
                recorded_at: r.recorded_at,
                producer: r.producer,
                action: r.action,
                actor_id: r.actor_id,
                resource_id: r.resource_id,
                trace_id: r.trace_id,
                hash: r.hash,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(AuditPage { items, next_cursor })
}
