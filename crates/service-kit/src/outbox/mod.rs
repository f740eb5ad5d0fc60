//! Transactional outbox: an event is published if and only if the change that caused it
//! committed.
//!
//! A service writes the [`Envelope`]s of a change into its own `outbox` table with
//! [`add`], in the SAME database transaction as the change. A [`Relay`] then loads unsent
//! rows (oldest first), pushes each envelope onto the `events:{service}` queue of every
//! consumer named in the catalogue ([`common::events::consumers_of`]) in one pipeline, and
//! marks the rows sent.
//!
//! # Guarantees
//!
//! - **Nothing is published for a change that rolled back**: its outbox rows rolled back
//!   with it.
//! - **Nothing is lost when the service dies between commit and push**: the row stays
//!   unsent, and the next relay to run (any instance, after any restart) pushes it.
//! - **At least once, not exactly once.** A relay that dies after pushing and before
//!   marking, or two relays racing after a lease expired, push an event twice. Consumers
//!   are idempotent through [`crate::inbox`], keyed by the envelope id. Relays take the
//!   short lease `outbox:relay:{service}` (`SET NX PX`, released with a compare-and-delete)
//!   so that two instances rarely push the same batch.
//! - **Nothing is lost when Redis crashes after taking a push**: Redis with
//!   `appendfsync everysec` can lose its last second or two of writes. The relay checks
//!   Redis's `run_id` (at most every second); when it changed, the rows sent from
//!   [`Relay::resend_window`] (5 s) before the previous check on are marked unsent and
//!   pushed again (the inboxes drop what had arrived). A graceful restart loses nothing
//!   and costs only those copies.
//! - **No ordering guarantee** for consumers: the relay pushes oldest first, but retries
//!   and parallel workers reorder. Events carry `occurred_at`; handlers must not assume
//!   order.
//! - **Latency**: call [`RelayHandle::wake`] right after committing; otherwise the relay
//!   finds the row within its poll interval.
//!
//! Sent rows are kept for [`Relay::retention`] (7 days by default; for inspection) and
//! then deleted by the relay.
//!
//! # Wiring
//!
//! Add [`Migration`] and then [`migration::Unsent`] (the relay's index) to the service's
//! `Migrator`, build one [`Relay`] at start-up, keep its
//! [`RelayHandle`] in the app state, and spawn [`Relay::run`] with the shutdown token.

pub mod entity;
pub mod migration;
mod relay;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use common::events::Envelope;
pub use migration::Migration;
pub use relay::{Relay, RelayError, RelayHandle};

fn row(envelope: &Envelope) -> Result<entity::ActiveModel, DbErr> {
    let text = serde_json::to_string(envelope)
        .map_err(|e| DbErr::Custom(format!("event envelope does not serialize: {e}")))?;
    Ok(entity::ActiveModel {
        id: ActiveValue::Set(envelope.id),
        event_type: ActiveValue::Set(envelope.event_type.clone()),
        envelope: ActiveValue::Set(text),
        created_at: ActiveValue::Set(envelope.occurred_at),
        sent_at: ActiveValue::Set(None),
    })
}

/// Records `envelope` for publishing, in the caller's transaction `txn` (the one that
/// makes the change).
pub async fn add<C: ConnectionTrait>(txn: &C, envelope: &Envelope) -> Result<(), DbErr> {
    entity::Entity::insert(row(envelope)?)
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// [`add`] for several envelopes, in one statement.
pub async fn add_all<C: ConnectionTrait>(txn: &C, envelopes: &[Envelope]) -> Result<(), DbErr> {
    if envelopes.is_empty() {
        return Ok(());
    }
    let rows = envelopes.iter().map(row).collect::<Result<Vec<_>, _>>()?;
    entity::Entity::insert_many(rows)
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// The relay's query: up to `limit` rows not sent yet, oldest first (answered from
/// [`migration::Unsent`]'s index).
pub fn unsent(limit: u64) -> sea_orm::Select<entity::Entity> {
    use sea_orm::{QueryOrder, QuerySelect};
    entity::Entity::find()
        .filter(entity::Column::SentAt.is_null())
        .order_by_asc(entity::Column::CreatedAt)
        .order_by_asc(entity::Column::Id)
        .limit(limit)
}

/// How many events wait for the relay.
pub async fn pending<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    entity::Entity::find()
        .filter(entity::Column::SentAt.is_null())
        .count(db)
        .await
}

/// Deletes the rows sent before `before`. Returns how many.
pub async fn purge_sent_before<C: ConnectionTrait>(
    db: &C,
    before: DateTime<Utc>,
) -> Result<u64, DbErr> {
    Ok(entity::Entity::delete_many()
        .filter(entity::Column::SentAt.lt(before))
        .exec(db)
        .await?
        .rows_affected)
}
