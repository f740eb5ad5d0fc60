//! The webhook inbox (`webhook_receipts`): one row per provider event, written (by the
//! [`Writer`], many deliveries per statement) before the delivery is answered; a row with
//! an effect waits (`applied_at` null) until [`crate::jobs::webhooks`] applies it in the
//! transaction that marks it applied.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, LockBehavior, LockType, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};
use uuid::Uuid;

use crate::domain::PaymentsError;
use crate::store::entity::payment;
use crate::store::entity::webhook_receipt::{self, Column};
use crate::store::outcomes::{self, Effect, Verified};

/// The longest a failed delivery waits before its next attempt.
const MAX_BACKOFF_SECS: i64 = 3_600;

/// A provider's event to record, confirmed by the provider's verify call.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub provider: String,
    /// The provider's id of the event (`(provider, key)` is unique).
    pub key: String,
    pub event_type: String,
    /// The payment reference it is about.
    pub reference: String,
    /// What the provider says of the reference now; `None`: nothing to act on (an event
    /// this service does not act on, or a reference the provider does not know).
    pub verified: Option<Verified>,
}

/// What became of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Stored with an effect, to be applied.
    Accepted,
    /// Stored as done: it changes nothing (unknown reference, an event not acted on,
    /// figures that do not match, a transfer not final yet).
    Ignored,
    /// Recorded before.
    Duplicate,
}

impl Recorded {
    pub fn as_str(self) -> &'static str {
        match self {
            Recorded::Accepted => "accepted",
            Recorded::Ignored => "ignored",
            Recorded::Duplicate => "duplicate",
        }
    }
}

/// A receipt as it is written.
#[derive(Debug)]
struct Row {
    provider: String,
    key: String,
    event_type: String,
    payment_id: Option<Uuid>,
    effect: Option<String>,
    lane: i16,
    at: DateTime<Utc>,
}

/// Lanes receipts are shared out in (one per applier stream).
pub const LANES: i16 = 4;

/// The lane of a payment of `seller`'s.
pub fn lane_of(seller: Uuid) -> i16 {
    i16::try_from(seller.as_u128() % u128::from(LANES.unsigned_abs())).unwrap_or(0)
}

/// The rows of `deliveries` received at `now`: each with its payment (one query for
/// all) and the effect the provider's answer has on it.
async fn rows_of<C: ConnectionTrait>(
    db: &C,
    deliveries: &[Delivery],
    now: DateTime<Utc>,
) -> Result<Vec<Row>, PaymentsError> {
    let references: std::collections::HashSet<&str> =
        deliveries.iter().map(|d| d.reference.as_str()).collect();
    let payments: HashMap<String, (payment::Model, Option<Uuid>)> =
        with_sellers(db, payment::Column::Reference.is_in(references))
            .await?
            .into_iter()
            .map(|(p, seller)| (p.reference.clone(), (p, seller)))
            .collect();
    deliveries
        .iter()
        .map(|d| {
            let (p, seller) = payments
                .get(&d.reference)
                .map_or((None, None), |(p, seller)| (Some(p), *seller));
            if p.is_none() {
                tracing::warn!(
                    reference = d.reference,
                    event = d.event_type,
                    "Webhook for an unknown reference."
                );
            }
            let effect = p
                .zip(d.verified.as_ref())
                .and_then(|(p, v)| outcomes::effect_of(p, v));
            Ok(Row {
                provider: d.provider.clone(),
                key: d.key.chars().take(200).collect(),
                event_type: d.event_type.chars().take(64).collect(),
                payment_id: p.map(|p| p.id),
                effect: effect
                    .as_ref()
                    .map(serde_json::to_string)
                    .transpose()
                    .map_err(anyhow::Error::from)?,
                lane: seller.map_or(0, lane_of),
                at: now,
            })
        })
        .collect()
}

/// `rows` in the order they are inserted: by (provider, key). Two batches written side by
/// side that share a key (a redelivery whose lease was lost) take the keys' index entries
/// in the same order, so neither waits on the other in a cycle.
fn in_key_order(rows: &[Row]) -> Vec<&Row> {
    let mut ordered: Vec<&Row> = rows.iter().collect();
    ordered.sort_by(|a, b| (&a.provider, &a.key).cmp(&(&b.provider, &b.key)));
    ordered
}

/// Writes `rows` in one statement (one transaction): for each, true if it is new, false
/// if its `(provider, key)` was recorded before (or earlier in `rows`).
async fn insert_all<C: ConnectionTrait>(db: &C, rows: &[Row]) -> Result<Vec<bool>, PaymentsError> {
    let mut insert = sea_orm::sea_query::Query::insert();
    insert.into_table(webhook_receipt::Entity).columns([
        Column::Id,
        Column::Provider,
        Column::EventKey,
        Column::EventType,
        Column::PaymentId,
        Column::ReceivedAt,
        Column::Effect,
        Column::AppliedAt,
        Column::Attempts,
        Column::Lane,
    ]);
    for r in in_key_order(rows) {
        insert
            .values([
                common::new_id_at(r.at).into(),
                r.provider.clone().into(),
                r.key.clone().into(),
                r.event_type.clone().into(),
                r.payment_id.into(),
                r.at.into(),
                r.effect.clone().into(),
                r.effect.is_none().then_some(r.at).into(),
                0_i32.into(),
                r.lane.into(),
            ])
            .map_err(|e| PaymentsError::Store(e.into()))?;
    }
    insert
        .on_conflict(
            OnConflict::columns([Column::Provider, Column::EventKey])
                .do_nothing()
                .to_owned(),
        )
        .returning_col(Column::EventKey);
    let stored: std::collections::HashSet<String> = db
        .query_all_raw(db.get_database_backend().build(&insert))
        .await?
        .iter()
        .map(|row| row.try_get::<String>("", "event_key"))
        .collect::<Result<_, _>>()?;
    // The first of a key in `rows` is the one stored; the others are duplicates.
    let mut seen = std::collections::HashSet::new();
    Ok(rows
        .iter()
        .map(|r| stored.contains(&r.key) && seen.insert(r.key.as_str()))
        .collect())
}

/// Looks up and writes `deliveries` received at `now`: two statements for all.
async fn write<C: ConnectionTrait>(
    db: &C,
    deliveries: &[Delivery],
    now: DateTime<Utc>,
) -> Result<Vec<Recorded>, PaymentsError> {
    let rows = rows_of(db, deliveries, now).await?;
    let fresh = insert_all(db, &rows).await?;
    Ok(rows
        .iter()
        .zip(fresh)
        .map(|(r, fresh)| match (fresh, &r.effect) {
            (false, _) => Recorded::Duplicate,
            (true, Some(_)) => Recorded::Accepted,
            (true, None) => Recorded::Ignored,
        })
        .collect())
}

/// Most receipts written in one statement.
const WRITE_BATCH: usize = 128;

/// Writes the receipts of concurrent deliveries together: each caller waits for the
/// statement (one transaction, one commit flush) that holds its receipt; those that
/// arrive while one is written go in the next. Group commit, so a burst of deliveries
/// costs the database a statement per batch rather than per delivery.
#[derive(Clone, Debug)]
pub struct Writer(service_kit::batch::Batcher<Delivery, Result<Recorded, String>>);

impl Writer {
    /// Starts the writing task on `db`, with up to `writers` batches written at once (one
    /// on SQLite, which has one writer); it ends when the last `Writer` is dropped.
    pub fn start(
        db: sea_orm::DatabaseConnection,
        clock: common::clock::SharedClock,
        writers: usize,
    ) -> Self {
        let writers = match db.get_database_backend() {
            sea_orm::DatabaseBackend::Sqlite => 1,
            _ => writers,
        };
        Writer(service_kit::batch::Batcher::start_concurrent(
            writers,
            WRITE_BATCH,
            move |deliveries: Vec<Delivery>| {
                let db = db.clone();
                let now = clock.now();
                async move {
                    match write(&db, &deliveries, now).await {
                        Ok(recorded) => recorded.into_iter().map(Ok).collect(),
                        Err(e) => vec![Err(e.to_string()); deliveries.len()],
                    }
                }
            },
        ))
    }

    /// Records `d`; answers once it is committed.
    pub async fn record(&self, d: Delivery) -> Result<Recorded, PaymentsError> {
        self.0
            .submit(d)
            .await
            .map_err(|e| PaymentsError::Store(e.into()))?
            .map_err(|e| PaymentsError::Store(anyhow::anyhow!("writing a webhook receipt: {e}")))
    }
}

/// A waiting delivery: its row, the payment and the effect to apply.
#[derive(Debug, Clone)]
pub struct Waiting {
    pub id: Uuid,
    pub payment_id: Uuid,
    pub attempts: i32,
    /// The stored effect, or why it cannot be read.
    pub effect: Result<Effect, String>,
}

impl Waiting {
    fn of(row: webhook_receipt::Model) -> Self {
        let effect = match (&row.effect, row.payment_id) {
            (Some(json), Some(_)) => serde_json::from_str(json)
                .map_err(|e| format!("the stored effect {json:?} does not read: {e}")),
            (None, _) => Err("a waiting receipt without an effect".to_owned()),
            (Some(_), None) => Err("a waiting receipt without a payment".to_owned()),
        };
        Waiting {
            id: row.id,
            payment_id: row.payment_id.unwrap_or_default(),
            attempts: row.attempts,
            effect,
        }
    }
}

fn due(now: DateTime<Utc>) -> Condition {
    Condition::all().add(Column::AppliedAt.is_null()).add(
        Condition::any()
            .add(Column::ApplyAfter.is_null())
            .add(Column::ApplyAfter.lte(now)),
    )
}

/// Up to `limit` deliveries due at `now` (of `lane`, or all), oldest first, taken for
/// this transaction (PostgreSQL: rows another transaction holds are skipped; SQLite: the
/// write transaction holds the database).
pub async fn take_due<C: ConnectionTrait>(
    txn: &C,
    now: DateTime<Utc>,
    lane: Option<i16>,
    limit: u64,
) -> Result<Vec<Waiting>, PaymentsError> {
    Ok(webhook_receipt::Entity::find()
        .filter(due(now))
        .apply_if(lane, |q, lane| q.filter(Column::Lane.eq(lane)))
        .order_by_asc(Column::Id)
        .limit(limit)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .all(txn)
        .await?
        .into_iter()
        .map(Waiting::of)
        .collect())
}

/// The delivery `id` if it still waits (and no other transaction holds it), taken.
pub async fn take<C: ConnectionTrait>(txn: &C, id: Uuid) -> Result<Option<Waiting>, PaymentsError> {
    Ok(webhook_receipt::Entity::find_by_id(id)
        .filter(Column::AppliedAt.is_null())
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .one(txn)
        .await?
        .map(Waiting::of))
}

/// A payment and its financing's seller, as [`with_sellers`] reads them.
#[derive(sea_orm::FromQueryResult)]
struct OfSeller {
    #[sea_orm(nested)]
    payment: payment::Model,
    seller_id: Option<Uuid>,
}

/// The payments `filter` finds, each with its financing's seller (one statement, the
/// financing's one column).
async fn with_sellers<C: ConnectionTrait>(
    db: &C,
    filter: impl sea_orm::sea_query::IntoCondition,
) -> Result<Vec<(payment::Model, Option<Uuid>)>, PaymentsError> {
    use crate::store::entity::financing;
    use sea_orm::JoinType;
    let of_financing: sea_orm::RelationDef = payment::Entity::belongs_to(financing::Entity)
        .from(payment::Column::FinancingId)
        .to(financing::Column::Id)
        .into();
    Ok(payment::Entity::find()
        .filter(filter)
        .join(JoinType::LeftJoin, of_financing)
        .column_as(financing::Column::SellerId, "seller_id")
        .into_model::<OfSeller>()
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.payment, row.seller_id))
        .collect())
}

/// The seller of each waiting delivery's payment (the order a batch takes their
/// payable accounts in).
pub async fn sellers_of<C: ConnectionTrait>(
    db: &C,
    due: &[Waiting],
) -> Result<HashMap<Uuid, Uuid>, PaymentsError> {
    Ok(with_sellers(
        db,
        payment::Column::Id.is_in(due.iter().map(|w| w.payment_id)),
    )
    .await?
    .into_iter()
    .filter_map(|(p, seller)| Some((p.id, seller?)))
    .collect())
}

/// Marks `ids` applied at `now` (in the transaction that applied them).
pub async fn mark_applied<C: ConnectionTrait>(
    txn: &C,
    ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<(), PaymentsError> {
    webhook_receipt::Entity::update_many()
        .col_expr(Column::AppliedAt, Expr::value(now))
        .col_expr(Column::LastError, Expr::value(Option::<String>::None))
        .filter(Column::Id.is_in(ids.iter().copied()))
        .exec(txn)
        .await?;
    Ok(())
}

/// Records a failed attempt at `w`: tried again after 2^attempts seconds (at most an
/// hour), the error kept for an operator.
pub async fn mark_failed<C: ConnectionTrait>(
    db: &C,
    w: &Waiting,
    error: &str,
    now: DateTime<Utc>,
) -> Result<(), PaymentsError> {
    let attempts = w.attempts.saturating_add(1);
    let wait = 1_i64
        .checked_shl(u32::try_from(attempts).unwrap_or(u32::MAX).min(12))
        .unwrap_or(MAX_BACKOFF_SECS)
        .min(MAX_BACKOFF_SECS);
    webhook_receipt::Entity::update_many()
        .col_expr(Column::Attempts, Expr::value(attempts))
        .col_expr(
            Column::LastError,
            Expr::value(error.chars().take(1_000).collect::<String>()),
        )
        .col_expr(
            Column::ApplyAfter,
            Expr::value(now + chrono::Duration::seconds(wait)),
        )
        .filter(Column::Id.eq(w.id))
        .filter(Column::AppliedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Deliveries accepted and not applied yet (waiting or failing), oldest first.
pub async fn unapplied<C: ConnectionTrait>(
    db: &C,
    limit: u64,
) -> Result<Vec<webhook_receipt::Model>, PaymentsError> {
    Ok(webhook_receipt::Entity::find()
        .filter(Column::AppliedAt.is_null())
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::{Row, in_key_order};

    fn row(provider: &str, key: &str) -> Row {
        Row {
            provider: provider.into(),
            key: key.into(),
            event_type: "charge.success".into(),
            payment_id: None,
            effect: None,
            lane: 0,
            at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    /// Whatever order a batch's deliveries arrived in, their receipts are inserted by
    /// provider, then key (the order that keeps side-by-side writers out of a deadlock,
    /// which the API test of side-by-side writers cannot provoke at will).
    #[test]
    fn receipts_are_inserted_by_provider_then_key_whatever_order_they_came_in() {
        let rows = [
            row("sandbox", "msg_c"),
            row("paystack", "msg_z"),
            row("sandbox", "msg_a"),
            row("sandbox", "msg_b"),
            row("paystack", "msg_a"),
        ];
        let order: Vec<(&str, &str)> = in_key_order(&rows)
            .iter()
            .map(|r| (r.provider.as_str(), r.key.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                ("paystack", "msg_a"),
                ("paystack", "msg_z"),
                ("sandbox", "msg_a"),
                ("sandbox", "msg_b"),
                ("sandbox", "msg_c"),
            ]
        );
    }
}
