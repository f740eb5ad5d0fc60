//! Offers placed together (group commit): the offers that arrive while a batch is written
//! go in the next one, written in one transaction with one statement per step for all of
//! them: the listings' claim (one conditional multi-row update), the offers (one multi-row
//! insert that skips an investor's second active offer), their events (one multi-row
//! outbox insert), one commit. On PostgreSQL an offer placed alone costs about five
//! statements, each about what a whole one-row insert transaction costs the server
//! (docs/performance.md); together, a burst costs that per batch.
//!
//! A batch only places: whatever it cannot place (a listing claimed twice in one batch,
//! closed, at its limit or being accepted; an investor's second active offer; a batch
//! whose transaction failed) is handed back and placed alone ([`super::changes::place_alone`]),
//! which finds the exact reason and answers it. So the rules and their refusals live in
//! one place, and a batch only ever does what the lone path would have done.

use std::collections::{HashMap, HashSet};

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryTrait,
};
use service_kit::batch::Batcher;
use tracing::Instrument as _;
use uuid::Uuid;

use super::changes::{NewOffer, claim, new_offer};
use super::{Change, Changed};
use crate::store::entity::{listing, offer};

/// An investor's offer to place.
pub struct Placing {
    pub investor: Uuid,
    pub new: NewOffer,
}

/// What became of a [`Placing`].
pub enum Placed {
    /// Placed and committed.
    Done(Changed),
    /// Not placed in a batch: place it alone.
    Alone(Placing),
}

/// The batch writer of placed offers (one per process).
#[derive(Clone, Debug)]
pub struct Placer(Batcher<Placing, Placed>);

impl Placer {
    /// Starts the writer on `db`: at most `batch` offers per transaction, up to `writers`
    /// transactions at once on PostgreSQL (one on SQLite, which writes one at a time); a
    /// listing takes at most `max_active` active offers.
    pub fn start(
        db: DatabaseConnection,
        clock: common::clock::SharedClock,
        max_active: i64,
        batch: usize,
        writers: usize,
    ) -> Self {
        let writers = match db.get_database_backend() {
            sea_orm::DatabaseBackend::Sqlite => 1,
            _ => writers,
        };
        Placer(Batcher::start_concurrent(
            writers,
            batch,
            move |batch: Vec<Placing>| {
                let db = db.clone();
                let clock = clock.clone();
                let span = tracing::info_span!("place offers together", offers = batch.len());
                async move { place_together(&db, clock.as_ref(), max_active, batch).await }
                    .instrument(span)
            },
        ))
    }

    /// Places `p` with the offers arriving at the same time, or hands it back.
    pub async fn place(&self, p: Placing) -> Result<Placed, service_kit::batch::Stopped> {
        self.0.submit(p).await
    }
}

/// Places `batch` in one transaction; one answer per item, in order.
pub async fn place_together(
    db: &DatabaseConnection,
    clock: &dyn common::Clock,
    max_active: i64,
    batch: Vec<Placing>,
) -> Vec<Placed> {
    let now = clock.now();
    // One offer per listing per batch: the claim below adds one to a listing's count.
    let mut listings = HashSet::new();
    let firsts: Vec<bool> = batch
        .iter()
        .map(|p| listings.insert(p.new.listing.id))
        .collect();
    let models: Vec<offer::Model> = batch
        .iter()
        .zip(&firsts)
        .filter(|(_, first)| **first)
        .map(|(p, _)| new_offer(p.investor, &p.new, now))
        .collect();
    let mut placed = match write_together(db, clock, max_active, models).await {
        Ok(placed) => placed,
        Err(e) => {
            tracing::warn!(error = %e, offers = batch.len(), "Placing offers together failed; placing each alone.");
            HashMap::new()
        }
    };
    batch
        .into_iter()
        .zip(firsts)
        .map(|(p, first)| {
            let done = first
                .then(|| placed.remove(&(p.new.listing.id, p.investor)))
                .flatten();
            match done {
                Some(offer) => Placed::Done(Changed {
                    offer,
                    change: Change::Placed,
                    left_active: false,
                }),
                None => Placed::Alone(p),
            }
        })
        .collect()
}

/// Writes `models` (each on another listing) with their listings' claims and events in
/// one transaction; returns those placed by (listing, investor).
async fn write_together(
    db: &DatabaseConnection,
    clock: &dyn common::Clock,
    max_active: i64,
    models: Vec<offer::Model>,
) -> anyhow::Result<HashMap<(Uuid, Uuid), offer::Model>> {
    let txn = service_kit::db::begin_write(db).await?;
    // The lone path's claim, for every listing at once.
    let claimed: HashSet<Uuid> = claim(models.iter().map(|m| m.invoice_id), max_active)
        .exec_with_returning(&*txn)
        .await?
        .into_iter()
        .map(|l| l.id)
        .collect();
    let claimed: Vec<offer::Model> = models
        .into_iter()
        .filter(|m| claimed.contains(&m.invoice_id))
        .collect();
    if claimed.is_empty() {
        return Ok(HashMap::new());
    }
    // The offers; one that would be its investor's second active offer on the listing
    // (the partial unique index) is skipped, and its claim given back.
    let mut insert =
        offer::Entity::insert_many(claimed.iter().map(|m| offer::ActiveModel::from(m.clone())))
            .on_conflict(OnConflict::new().do_nothing().to_owned())
            .into_query();
    insert.returning_col(offer::Column::Id);
    let inserted: HashSet<Uuid> = txn
        .query_all_raw(txn.get_database_backend().build(&insert))
        .await?
        .iter()
        .map(|row| row.try_get::<Uuid>("", "id"))
        .collect::<Result<_, _>>()?;
    let (placed, refused): (Vec<offer::Model>, Vec<offer::Model>) =
        claimed.into_iter().partition(|m| inserted.contains(&m.id));
    if !refused.is_empty() {
        listing::Entity::update_many()
            .col_expr(
                listing::Column::ActiveOffers,
                Expr::col(listing::Column::ActiveOffers).sub(1),
            )
            .filter(listing::Column::Id.is_in(refused.iter().map(|m| m.invoice_id)))
            .exec(&*txn)
            .await?;
    }
    super::events::add_all(
        &*txn,
        clock,
        placed
            .iter()
            .map(|o| super::events::offer_changed(o, Change::Placed))
            .collect::<anyhow::Result<_>>()?,
    )
    .await?;
    txn.commit().await?;
    Ok(placed
        .into_iter()
        .map(|o| ((o.invoice_id, o.investor_id), o))
        .collect())
}
