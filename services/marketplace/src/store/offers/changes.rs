//! The writes: each change is a conditional `UPDATE ... WHERE status IN (...)` checked by
//! rows affected, with the listing's active-offer count and the outbox event in the same
//! transaction. Every transaction takes the listing row first (one lock order).

use chrono::{DateTime, NaiveDate, Utc};
use common::ids::OfferId;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use super::{Change, Changed, MarketError, OfferStatus, find, status_of, statuses};
use crate::domain::pricing::Quote;
use crate::state::AppState;
use crate::store::entity::{listing, offer};

/// Which offer rows a change applies to: those still in one of `statuses` and, for a
/// decision made on a version someone saw, still at that `version`.
#[derive(Debug, Clone, Copy)]
pub struct From<'a> {
    pub statuses: &'a [OfferStatus],
    pub version: Option<i64>,
}

impl<'a> From<'a> {
    /// In one of `statuses`, whatever its version (the platform's own moves: the saga,
    /// a delisting).
    pub fn any(statuses: &'a [OfferStatus]) -> Self {
        Self {
            statuses,
            version: None,
        }
    }

    /// In one of `statuses` and still at `version`.
    pub fn at(statuses: &'a [OfferStatus], version: i64) -> Self {
        Self {
            statuses,
            version: Some(version),
        }
    }
}

/// Moves `o` from `from` to `to` if it is still there, with the reason, the listing's
/// active count and the event. `None` when it had already moved on (or, with a version,
/// changed).
pub async fn set_status<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn common::Clock,
    o: &offer::Model,
    from: From<'_>,
    to: OfferStatus,
    change: Change,
    reason: Option<&str>,
) -> anyhow::Result<Option<Changed>> {
    let Some(changed) = move_status(txn, clock, o, from, to, reason).await? else {
        return Ok(None);
    };
    let changed = Changed { change, ..changed };
    super::events::add(
        txn,
        clock,
        super::events::offer_changed(&changed.offer, change)?,
    )
    .await?;
    Ok(Some(changed))
}

/// [`set_status`] without the event (the caller writes its own).
pub async fn move_status<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn common::Clock,
    o: &offer::Model,
    from: From<'_>,
    to: OfferStatus,
    reason: Option<&str>,
) -> anyhow::Result<Option<Changed>> {
    let now = clock.now();
    // The listing row first, as every writer of an invoice's offers does (accept, place,
    // the consumer): one lock order, so PostgreSQL never deadlocks an accept against a
    // withdrawal or a delisting.
    lock_listing(txn, o.invoice_id, now).await?;
    let mut update = offer::Entity::update_many()
        .col_expr(offer::Column::Status, Expr::value(to.as_str()))
        .col_expr(
            offer::Column::Reason,
            Expr::value(reason.map(str::to_owned)),
        )
        .col_expr(offer::Column::UpdatedAt, Expr::value(now))
        .col_expr(offer::Column::Version, bump())
        .filter(offer::Column::Id.eq(o.id))
        .filter(offer::Column::Status.is_in(statuses(from.statuses)));
    if let Some(v) = from.version {
        update = update.filter(offer::Column::Version.eq(v));
    }
    let Some(updated) = update.exec_with_returning(txn).await?.into_iter().next() else {
        return Ok(None);
    };
    let left_active = from.statuses.iter().all(|s| s.is_active()) && !to.is_active();
    if left_active {
        listing::Entity::update_many()
            .col_expr(
                listing::Column::ActiveOffers,
                Expr::col(listing::Column::ActiveOffers).sub(1),
            )
            .filter(listing::Column::Id.eq(o.invoice_id))
            .filter(listing::Column::ActiveOffers.gt(0))
            .exec(txn)
            .await?;
    }
    Ok(Some(Changed {
        offer: updated,
        change: Change::Rejected,
        left_active,
    }))
}

/// `version = version + 1`: every change of an offer makes a new version.
fn bump() -> sea_orm::sea_query::SimpleExpr {
    Expr::col(offer::Column::Version).add(1)
}

/// Takes the listing row's lock (PostgreSQL; SQLite writes are serialised anyway).
pub async fn lock_listing<C: ConnectionTrait>(
    txn: &C,
    invoice_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    listing::Entity::update_many()
        .col_expr(listing::Column::UpdatedAt, Expr::value(now))
        .filter(listing::Column::Id.eq(invoice_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Rejects (with `reason`) every offer on `invoice_id` in one of `from`; returns the changes.
pub async fn reject_all<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn common::Clock,
    invoice_id: Uuid,
    from: &[OfferStatus],
    except: Option<Uuid>,
    reason: &str,
) -> anyhow::Result<Vec<Changed>> {
    let open = offer::Entity::find()
        .filter(offer::Column::InvoiceId.eq(invoice_id))
        .filter(offer::Column::Status.is_in(statuses(from)))
        .order_by_asc(offer::Column::Id)
        .all(txn)
        .await?;
    let mut changes = Vec::new();
    for o in open.iter().filter(|o| Some(o.id) != except) {
        let from_now = [status_of(o)?];
        if let Some(c) = set_status(
            txn,
            clock,
            o,
            From::any(&from_now),
            OfferStatus::Rejected,
            Change::Rejected,
            Some(reason),
        )
        .await?
        {
            changes.push(c);
        }
    }
    Ok(changes)
}

/// A new offer, priced.
pub struct NewOffer {
    pub listing: listing::Model,
    pub quote: Quote,
    pub expires_at: DateTime<Utc>,
    pub priced_on: NaiveDate,
}

/// The offer row `new` makes for `investor` at `now`.
pub fn new_offer(investor: Uuid, new: &NewOffer, now: DateTime<Utc>) -> offer::Model {
    let l = &new.listing;
    offer::Model {
        id: common::new_id_at(now),
        invoice_id: l.id,
        investor_id: investor,
        seller_id: l.seller_id,
        rate_millionths: new.quote.rate.millionths(),
        currency: l.currency.clone(),
        face_minor: new.quote.face,
        discount_minor: new.quote.discount,
        price_minor: new.quote.price,
        fee_minor: new.quote.fee,
        days: new.quote.days,
        priced_on: new.priced_on,
        status: OfferStatus::Pending.as_str().to_owned(),
        reason: None,
        expires_at: new.expires_at,
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

/// The claim an offer makes on its listing, for each of `listings`: one more active
/// offer, if the listing is still listed, not being accepted and under `max_active`.
pub fn claim(
    listings: impl IntoIterator<Item = Uuid>,
    max_active: i64,
) -> sea_orm::UpdateMany<listing::Entity> {
    listing::Entity::update_many()
        .col_expr(
            listing::Column::ActiveOffers,
            Expr::col(listing::Column::ActiveOffers).add(1),
        )
        .filter(listing::Column::Id.is_in(listings))
        .filter(listing::Column::Status.eq("listed"))
        .filter(listing::Column::ReservedOfferId.is_null())
        .filter(listing::Column::ActiveOffers.lt(max_active))
}

/// Places `investor`'s offer alone: a conditional update of the listing's active count
/// (still listed, not being accepted, under the limit) and one insert (the partial unique
/// index allows one active offer per investor and invoice), with the event, in one
/// transaction; refused with the reason.
pub async fn place_alone(
    state: &AppState,
    investor: Uuid,
    new: NewOffer,
) -> Result<Changed, MarketError> {
    let model = new_offer(investor, &new, state.clock.now());
    let l = &new.listing;
    let txn = service_kit::db::begin_write(&state.db).await?;
    let res = claim([l.id], state.config.max_active_offers)
        .exec(&*txn)
        .await?;
    if res.rows_affected == 0 {
        let now_listing = listing::Entity::find_by_id(l.id).one(&*txn).await?;
        txn.rollback().await?;
        return Err(closed(now_listing, state.config.max_active_offers));
    }
    let active: offer::ActiveModel = model.clone().into();
    match active.insert(&*txn).await {
        Ok(_) => {}
        Err(e) if service_kit::db::is_unique_violation(&e) => {
            return Err(MarketError::Refused(
                "you already have an active offer on this invoice; revise it with PATCH /api/marketplace/offers/{id}".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    commit_with_event(state, txn, model, Change::Placed).await
}

/// Why a listing takes no new offer.
fn closed(l: Option<listing::Model>, max: i64) -> MarketError {
    match l {
        Some(l) if l.status != "listed" => {
            MarketError::Refused(format!("the invoice is {}; it takes no offers", l.status))
        }
        Some(l) if l.reserved_offer_id.is_some() => {
            MarketError::Refused("an offer on this invoice is being accepted".into())
        }
        Some(_) => MarketError::Refused(format!(
            "the invoice already has the maximum of {max} active offers"
        )),
        None => MarketError::NoListing,
    }
}

/// Why a change of `id` found no row to change: it is no longer pending (409), or, for a
/// change made on version `seen`, it changed since (412, with the offer as it is now);
/// else it expired (only an accept checks the expiry in its update).
async fn refusal<C: ConnectionTrait>(
    txn: &C,
    id: OfferId,
    seen: Option<i64>,
    what: &str,
) -> Result<MarketError, DbErr> {
    let now = find(txn, id).await?;
    Ok(match now {
        None => MarketError::NotFound(id),
        Some(o) => match status_of(&o)? {
            status if status != OfferStatus::Pending => not_pending(status, what),
            _ => match seen {
                Some(seen) if seen != o.version => stale(&o, seen),
                _ => MarketError::Refused("the offer has expired".into()),
            },
        },
    })
}

/// Re-prices a pending offer (new rate and/or expiry); with `seen`, only if the offer is
/// still at that version.
pub async fn revise(
    state: &AppState,
    current: &offer::Model,
    seen: Option<i64>,
    quote: Quote,
    priced_on: NaiveDate,
    expires_at: DateTime<Utc>,
) -> Result<Changed, MarketError> {
    let now = state.clock.now();
    let txn = service_kit::db::begin_write(&state.db).await?;
    let mut update = offer::Entity::update_many()
        .col_expr(
            offer::Column::RateMillionths,
            Expr::value(quote.rate.millionths()),
        )
        .col_expr(offer::Column::DiscountMinor, Expr::value(quote.discount))
        .col_expr(offer::Column::PriceMinor, Expr::value(quote.price))
        .col_expr(offer::Column::FeeMinor, Expr::value(quote.fee))
        .col_expr(offer::Column::Days, Expr::value(quote.days))
        .col_expr(offer::Column::PricedOn, Expr::value(priced_on))
        .col_expr(offer::Column::ExpiresAt, Expr::value(expires_at))
        .col_expr(offer::Column::UpdatedAt, Expr::value(now))
        .col_expr(offer::Column::Version, bump())
        .filter(offer::Column::Id.eq(current.id))
        .filter(offer::Column::Status.eq(OfferStatus::Pending.as_str()));
    if let Some(v) = seen {
        update = update.filter(offer::Column::Version.eq(v));
    }
    let Some(updated) = update.exec_with_returning(&*txn).await?.into_iter().next() else {
        let err = refusal(&*txn, current.offer_id(), seen, "revised").await?;
        txn.rollback().await?;
        return Err(err);
    };
    commit_with_event(state, txn, updated, Change::Revised).await
}

/// The 412 for a decision on version `seen` of `o`, which is at another version now.
fn stale(o: &offer::Model, seen: i64) -> MarketError {
    match super::view(o) {
        Ok(current) => MarketError::Stale {
            seen,
            current: Box::new(current),
        },
        Err(e) => e.into(),
    }
}

pub fn not_pending(status: OfferStatus, what: &str) -> MarketError {
    MarketError::Refused(format!(
        "the offer is {status}; only a pending offer can be {what}"
    ))
}

/// A pending offer withdrawn by its investor or rejected by the seller; with `seen`,
/// only if it is still at that version.
pub async fn close(
    state: &AppState,
    current: &offer::Model,
    seen: Option<i64>,
    to: OfferStatus,
    change: Change,
    reason: Option<&str>,
) -> Result<Changed, MarketError> {
    if let Some(seen) = seen.filter(|v| *v != current.version) {
        return Err(stale(current, seen));
    }
    let from = From {
        statuses: &[OfferStatus::Pending],
        version: seen,
    };
    let txn = service_kit::db::begin_write(&state.db).await?;
    let changed = set_status(
        &*txn,
        state.clock.as_ref(),
        current,
        from,
        to,
        change,
        reason,
    )
    .await?;
    let Some(changed) = changed else {
        let err = refusal(&*txn, current.offer_id(), seen, to.as_str()).await?;
        txn.rollback().await?;
        return Err(err);
    };
    txn.commit().await?;
    Ok(changed)
}

/// The seller accepts a pending offer at the version they saw (`seen`): the claim on the
/// listing row (a conditional update `SET reserved_offer_id = offer WHERE
/// reserved_offer_id IS NULL AND status = 'listed'`) lets exactly one offer per invoice
/// through, however many accepts of different offers race on however many instances;
/// then the offer becomes `reserved` if it is still pending at version `seen` (a revision
/// that committed in between makes the accept a 412: the seller accepts the terms they
/// saw or nothing), and `offer.reserved` asks the invoice service to confirm. Losers get
/// 409.
pub async fn accept(
    state: &AppState,
    current: &offer::Model,
    seen: i64,
) -> Result<Changed, MarketError> {
    let now = state.clock.now();
    let status = status_of(current)?;
    if status != OfferStatus::Pending {
        return Err(not_pending(status, "accepted"));
    }
    if seen != current.version {
        return Err(stale(current, seen));
    }
    if current.expires_at <= now {
        return Err(MarketError::Refused("the offer has expired".into()));
    }
    let txn = service_kit::db::begin_write(&state.db).await?;
    let claimed = listing::Entity::update_many()
        .col_expr(listing::Column::ReservedOfferId, Expr::value(current.id))
        .col_expr(listing::Column::UpdatedAt, Expr::value(now))
        .filter(listing::Column::Id.eq(current.invoice_id))
        .filter(listing::Column::Status.eq("listed"))
        .filter(listing::Column::ReservedOfferId.is_null())
        .exec(&*txn)
        .await?;
    if claimed.rows_affected == 0 {
        let l = listing::Entity::find_by_id(current.invoice_id)
            .one(&*txn)
            .await?;
        txn.rollback().await?;
        return Err(match l {
            Some(l) if l.status != "listed" => MarketError::Refused(format!(
                "the invoice is {}; no offer can be accepted",
                l.status
            )),
            _ => MarketError::Refused(
                "another offer on this invoice has been accepted or is being accepted".into(),
            ),
        });
    }
    let reserved = offer::Entity::update_many()
        .col_expr(
            offer::Column::Status,
            Expr::value(OfferStatus::Reserved.as_str()),
        )
        .col_expr(offer::Column::UpdatedAt, Expr::value(now))
        .col_expr(offer::Column::Version, bump())
        .filter(offer::Column::Id.eq(current.id))
        .filter(offer::Column::Status.eq(OfferStatus::Pending.as_str()))
        .filter(offer::Column::Version.eq(seen))
        .filter(offer::Column::ExpiresAt.gt(now))
        .exec_with_returning(&*txn)
        .await?;
    let Some(updated) = reserved.into_iter().next() else {
        let err = refusal(&*txn, current.offer_id(), Some(seen), "accepted").await?;
        txn.rollback().await?;
        return Err(err);
    };
    commit_with_event(state, txn, updated, Change::Reserved).await
}

/// Writes `offer`'s event of `change` in `txn` and commits: the change of an offer that
/// stays active, for the caller's after-commit effects.
async fn commit_with_event(
    state: &AppState,
    txn: service_kit::db::WriteTxn,
    offer: offer::Model,
    change: Change,
) -> Result<Changed, MarketError> {
    super::events::add(
        &*txn,
        state.clock.as_ref(),
        super::events::offer_changed(&offer, change)?,
    )
    .await?;
    txn.commit().await?;
    Ok(Changed {
        offer,
        change,
        left_active: false,
    })
}
