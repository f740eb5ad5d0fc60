//! Idempotent consumers: an event has its effect once, however often it is delivered.
//!
//! Events arrive at least once (a relay may push twice, a worker may die after the effect
//! and before acknowledging). A consumer records each event id in its own `inbox` table
//! with [`claim`], in the SAME transaction as the event's effect:
//!
//! - the first delivery inserts the id, applies the effect and commits both;
//! - a redelivery finds the id (`INSERT ... ON CONFLICT DO NOTHING` affects no row), does
//!   nothing and is acknowledged;
//! - a delivery whose effect fails rolls back the claim with it, so the retry applies it;
//! - two deliveries at once: on PostgreSQL the second insert waits on the first's unique
//!   key and then affects no row (or claims it, if the first rolled back); on SQLite write
//!   transactions are serialized (`BEGIN IMMEDIATE`, [`crate::db::begin_write`]).
//!
//! `ON CONFLICT DO NOTHING` raises no error, so it does not abort a PostgreSQL transaction
//! the way a caught unique violation would.
//!
//! (A Redis `SET NX` taken before the work would lose the event if the worker died after
//! taking it; the inbox commits with the effect or not at all.)
//!
//! Only effects inside the transaction are covered: anything else a handler does (publish
//! on a channel, call a provider) must be idempotent itself or go through the outbox.
//!
//! [`EventConsumer`] wires it together as a queue [`crate::queue::JobHandler`]: parse the
//! envelope, begin a write transaction, claim, run the service's [`EventHandler`], commit.
//! Add [`Migration`] to the service's `Migrator`.

mod consumer;
pub mod entity;
pub mod migration;
mod refused;

pub use refused::{refused, register_metrics};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use common::events::Envelope;
pub use consumer::{
    EventConsumer, EventHandler, FnEventHandler, Handled, StagedConsumer, StagedHandler, consume,
    consume_staged, consume_staged_batch, event_handler_fn, run_worker,
};
pub use migration::Migration;

/// Records `envelope` as handled, in the transaction of its effect. `true`: first time,
/// apply the effect; `false`: already handled (or being handled by a transaction that
/// has since committed), do nothing.
pub async fn claim<C: ConnectionTrait>(txn: &C, envelope: &Envelope) -> Result<bool, DbErr> {
    claim_at(txn, envelope, Utc::now()).await
}

/// [`claim`] with the handling time given (from the service's clock).
pub async fn claim_at<C: ConnectionTrait>(
    txn: &C,
    envelope: &Envelope,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let row = entity::ActiveModel {
        event_id: ActiveValue::Set(envelope.id),
        event_type: ActiveValue::Set(envelope.event_type.clone()),
        handled_at: ActiveValue::Set(at),
    };
    let inserted = entity::Entity::insert(row)
        .on_conflict(
            OnConflict::column(entity::Column::EventId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(inserted == 1)
}

/// [`claim_at`] for several events in one statement: the ids of those claimed now (an
/// event already handled, or claimed by a transaction that has since committed, is not
/// among them). `envelopes` must not hold an id twice.
pub async fn claim_all_at<C: ConnectionTrait>(
    txn: &C,
    envelopes: &[&Envelope],
    at: DateTime<Utc>,
) -> Result<std::collections::HashSet<uuid::Uuid>, DbErr> {
    if envelopes.is_empty() {
        return Ok(std::collections::HashSet::new());
    }
    let mut insert = sea_orm::sea_query::Query::insert();
    insert.into_table(entity::Entity).columns([
        entity::Column::EventId,
        entity::Column::EventType,
        entity::Column::HandledAt,
    ]);
    for e in envelopes {
        insert
            .values([e.id.into(), e.event_type.clone().into(), at.into()])
            .map_err(|e| DbErr::Custom(e.to_string()))?;
    }
    insert
        .on_conflict(
            OnConflict::column(entity::Column::EventId)
                .do_nothing()
                .to_owned(),
        )
        .returning_col(entity::Column::EventId);
    txn.query_all_raw(txn.get_database_backend().build(&insert))
        .await?
        .iter()
        .map(|row| row.try_get::<uuid::Uuid>("", "event_id"))
        .collect()
}

/// Whether the event `id` has been handled (committed).
pub async fn handled<C: ConnectionTrait>(db: &C, id: uuid::Uuid) -> Result<bool, DbErr> {
    Ok(entity::Entity::find_by_id(id).one(db).await?.is_some())
}

/// Forgets events handled before `before` (keep them longer than any redelivery can take:
/// days, not minutes). Returns how many.
pub async fn purge_before<C: ConnectionTrait>(db: &C, before: DateTime<Utc>) -> Result<u64, DbErr> {
    Ok(entity::Entity::delete_many()
        .filter(entity::Column::HandledAt.lt(before))
        .exec(db)
        .await?
        .rows_affected)
}
