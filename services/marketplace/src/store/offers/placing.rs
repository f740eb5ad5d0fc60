//! Offers placed together (group commit): the offers that arrive while a batch is written
//! go in the next one, written in one transaction with one statement per step for all of
//! them: the listings' claim (one conditional multi-row update that returns the rows it
//! took, on which each offer is priced: no read before it), the offers (one multi-row
//! insert that skips an investor's second active offer), their events (one multi-row
//! outbox insert), one commit. On PostgreSQL an offer placed alone costs about five
//! statements, each about what a whole one-row insert transaction costs the server
//! (docs/performance.md); together, a burst costs that per batch.
//!
//! A batch only places: whatever it cannot place (a listing claimed twice in one batch,
//! missing, closed, at its limit or being accepted; an offer its terms cannot price; an
//! investor's second active offer; a batch whose transaction failed) is handed back and
//! placed alone (the route reads the listing, prices it and calls
//! [`super::changes::place_alone`]),
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

use chrono::{DateTime, NaiveDate, Utc};

use super::changes::{NewOffer, claim, new_offer};
use super::{Change, Changed};
use crate::domain::pricing::{Rate, Terms};
use crate::store::entity::{listing, offer};

/// An investor's offer to place, as asked: priced when its listing is claimed.
#[derive(Debug, Clone)]
pub struct Placing {
    pub investor: Uuid,
    pub invoice_id: Uuid,
    pub rate: Rate,
    pub expires_at: DateTime<Utc>,
    /// The day it is priced on (the day it was asked).
    pub priced_on: NaiveDate,
}

impl Placing {
    /// The offer this asks for on `l`, priced by `terms`, if they price it.
    pub fn on(&self, l: &listing::Model, terms: Terms) -> Option<NewOffer> {
        let quote = terms
            .quote(l.face_minor, l.due_date, self.priced_on, self.rate)
            .ok()?;
        Some(NewOffer {
            listing: l.clone(),
            quote,
            expires_at: self.expires_at,
            priced_on: self.priced_on,
        })
    }
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
    /// listing takes at most `max_active` active offers; offers are priced by `terms`.
    pub fn start(
        db: DatabaseConnection,
        clock: common::clock::SharedClock,
        max_active: i64,
        terms: Terms,
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
                async move { place_together(&db, clock.as_ref(), max_active, terms, batch).await }
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
    terms: Terms,
    batch: Vec<Placing>,
) -> Vec<Placed> {
    let now = clock.now();
    // One offer per listing per batch: the claim below adds one to a listing's count.
    let mut listings = HashSet::new();
    let firsts: Vec<bool> = batch
        .iter()
        .map(|p| listings.insert(p.invoice_id))
        .collect();
    let asked: Vec<&Placing> = batch
        .iter()
        .zip(&firsts)
        .filter(|(_, first)| **first)
        .map(|(p, _)| p)
        .collect();
    let mut placed = match write_together(db, clock, max_active, terms, now, &asked).await {
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
                .then(|| placed.remove(&(p.invoice_id, p.investor)))
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

/// Writes the offers `asked` for (each on another listing) with their listings' claims
/// and events in one transaction, each priced on the row its claim took; returns those
/// placed by (listing, investor).
async fn write_together(
    db: &DatabaseConnection,
    clock: &dyn common::Clock,
    max_active: i64,
    terms: Terms,
    now: DateTime<Utc>,
    asked: &[&Placing],
) -> anyhow::Result<HashMap<(Uuid, Uuid), offer::Model>> {
    let txn = service_kit::db::begin_write(db).await?;
    // The lone path's claim, for every listing at once; the rows it returns are the
    // terms each offer is priced on (held by the claim until the commit).
    let claimed: HashMap<Uuid, listing::Model> =
        claim(asked.iter().map(|p| p.invoice_id), max_active)
            .exec_with_returning(&*txn)
            .await?
            .into_iter()
            .map(|l| (l.id, l))
            .collect();
    if claimed.is_empty() {
        txn.rollback().await?;
        return Ok(HashMap::new());
    }
    // Priced on the claimed rows; one the terms do not price is handed back (its claim
    // given back below, with the refused).
    let (mut priced, mut refused): (Vec<offer::Model>, Vec<Uuid>) = (Vec::new(), Vec::new());
    for p in asked {
        if let Some(l) = claimed.get(&p.invoice_id) {
            match p.on(l, terms) {
                Some(new) => priced.push(new_offer(p.investor, &new, now)),
                None => refused.push(l.id),
            }
        }
    }
    // The offers; one that would be its investor's second active offer on the listing
    // (the partial unique index) is skipped, and its claim given back.
    let inserted: HashSet<Uuid> = if priced.is_empty() {
        HashSet::new()
    } else {
        let mut insert =
            offer::Entity::insert_many(priced.iter().map(|m| offer::ActiveModel::from(m.clone())))
                .on_conflict(OnConflict::new().do_nothing().to_owned())
                .into_query();
        insert.returning_col(offer::Column::Id);
        txn.query_all_raw(txn.get_database_backend().build(&insert))
            .await?
            .iter()
            .map(|row| row.try_get::<Uuid>("", "id"))
            .collect::<Result<_, _>>()?
    };
    let (placed, skipped): (Vec<offer::Model>, Vec<offer::Model>) =
        priced.into_iter().partition(|m| inserted.contains(&m.id));
    refused.extend(skipped.iter().map(|m| m.invoice_id));
    if !refused.is_empty() {
        listing::Entity::update_many()
            .col_expr(
                listing::Column::ActiveOffers,
                Expr::col(listing::Column::ActiveOffers).sub(1),
            )
            .filter(listing::Column::Id.is_in(refused))
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
