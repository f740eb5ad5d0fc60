//! The writes: each change is a conditional `UPDATE ... WHERE status IN (...)` checked by
//! rows affected, with the listing's active-offer count and the outbox event in the same
//! transaction. Every transaction takes the listing row first (one lock order).

use chrono::{DateTime, NaiveDate, Utc};
use common::auth::AuthUser;
use common::http::ApiError;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use super::{Change, Changed, OfferStatus, after, find, not_found, status_of, statuses};
use crate::entity::{listing, offer};
use crate::events::OfferEvent;
use crate::pricing::Quote;
use crate::state::AppState;

/// Moves `o` from one of `from` to `to` if it is still in one of them, with the reason,
/// the listing's active count and the event. `None` when it had already moved on.
pub async fn set_status<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn common::Clock,
    o: &offer::Model,
    from: &[OfferStatus],
    to: OfferStatus,
    change: Change,
    reason: Option<&str>,
) -> anyhow::Result<Option<Changed>> {
    let Some(changed) = move_status(txn, clock, o, from, to, reason).await? else {
        return Ok(None);
    };
    let changed = Changed { change, ..changed };
    crate::events::add(txn, clock, &OfferEvent::of(&changed.offer, change)).await?;
    Ok(Some(changed))
}

/// [`set_status`] without the event (the caller writes its own).
pub async fn move_status<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn common::Clock,
    o: &offer::Model,
    from: &[OfferStatus],
    to: OfferStatus,
    reason: Option<&str>,
) -> anyhow::Result<Option<Changed>> {
    let now = clock.now();
    // The listing row first, as every writer of an invoice's offers does (accept, place,
    // the consumer): one lock order, so PostgreSQL never deadlocks an accept against a
    // withdrawal or a delisting.
    lock_listing(txn, o.invoice_id, now).await?;
    let res = offer::Entity::update_many()
        .col_expr(offer::Column::Status, Expr::value(to.as_str()))
        .col_expr(
            offer::Column::Reason,
            Expr::value(reason.map(str::to_owned)),
        )
        .col_expr(offer::Column::UpdatedAt, Expr::value(now))
        .filter(offer::Column::Id.eq(o.id))
        .filter(offer::Column::Status.is_in(statuses(from)))
        .exec(txn)
        .await?;
    if res.rows_affected == 0 {
        return Ok(None);
    }
    let left_active = from.iter().all(|s| s.is_active()) && !to.is_active();
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
    let updated = offer::Model {
        status: to.as_str().to_owned(),
        reason: reason.map(str::to_owned),
        updated_at: now,
        ..o.clone()
    };
    Ok(Some(Changed {
        offer: updated,
        change: Change::Rejected,
        left_active,
    }))
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
        let from_now = [status_of(o)];
        if let Some(c) = set_status(
            txn,
            clock,
            o,
            &from_now,
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

/// Places `investor`'s offer: a conditional update of the listing's active count (still
/// listed, not being accepted, under the limit) and one insert (the partial unique index
/// allows one active offer per investor and invoice), with the event, in one transaction.
pub async fn place(
    state: &AppState,
    investor: &AuthUser,
    new: NewOffer,
) -> Result<offer::Model, ApiError> {
    let now = state.clock.now();
    let l = &new.listing;
    let model = offer::Model {
        id: common::new_id_at(now),
        invoice_id: l.id,
        investor_id: investor.id,
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
    };
    let txn = common::db::begin_write(&state.db).await?;
    let res = listing::Entity::update_many()
        .col_expr(
            listing::Column::ActiveOffers,
            Expr::col(listing::Column::ActiveOffers).add(1),
        )
        .filter(listing::Column::Id.eq(l.id))
        .filter(listing::Column::Status.eq("listed"))
        .filter(listing::Column::ReservedOfferId.is_null())
        .filter(listing::Column::ActiveOffers.lt(state.config.max_active_offers))
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
        Err(e) if common::db::is_unique_violation(&e) => {
            return Err(ApiError::Conflict(
                "you already have an active offer on this invoice; revise it with PATCH /api/marketplace/offers/{id}".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    commit_with_event(state, txn, &model, Change::Placed).await?;
    Ok(model)
}

/// Why a listing takes no new offer.
fn closed(l: Option<listing::Model>, max: i64) -> ApiError {
    match l {
        Some(l) if l.status != "listed" => {
            ApiError::Conflict(format!("the invoice is {}; it takes no offers", l.status))
        }
        Some(l) if l.reserved_offer_id.is_some() => {
            ApiError::Conflict("an offer on this invoice is being accepted".into())
        }
        Some(_) => ApiError::Conflict(format!(
            "the invoice already has the maximum of {max} active offers"
        )),
        None => ApiError::field("invoice_id", "no listed invoice with this id"),
    }
}

/// Re-prices a pending offer (new rate and/or expiry).
pub async fn revise(
    state: &AppState,
    current: &offer::Model,
    quote: Quote,
    priced_on: NaiveDate,
    expires_at: DateTime<Utc>,
) -> Result<offer::Model, ApiError> {
    let now = state.clock.now();
    let txn = common::db::begin_write(&state.db).await?;
    let res = offer::Entity::update_many()
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
        .filter(offer::Column::Id.eq(current.id))
        .filter(offer::Column::Status.eq(OfferStatus::Pending.as_str()))
        .exec(&*txn)
        .await?;
    if res.rows_affected == 0 {
        let status = find(&*txn, current.id)
            .await?
            .map_or(OfferStatus::Rejected, |o| status_of(&o));
        txn.rollback().await?;
        return Err(not_pending(status, "revised"));
    }
    let updated = find(&*txn, current.id)
        .await?
        .ok_or_else(|| not_found(current.id))?;
    commit_with_event(state, txn, &updated, Change::Revised).await?;
    Ok(updated)
}

pub fn not_pending(status: OfferStatus, what: &str) -> ApiError {
    ApiError::Conflict(format!(
        "the offer is {status}; only a pending offer can be {what}"
    ))
}

/// A pending offer withdrawn by its investor or rejected by the seller.
pub async fn close(
    state: &AppState,
    current: &offer::Model,
    to: OfferStatus,
    change: Change,
    reason: Option<&str>,
) -> Result<offer::Model, ApiError> {
    let txn = common::db::begin_write(&state.db).await?;
    let changed = set_status(
        &*txn,
        state.clock.as_ref(),
        current,
        &[OfferStatus::Pending],
        to,
        change,
        reason,
    )
    .await?;
    let Some(changed) = changed else {
        let status = find(&*txn, current.id)
            .await?
            .map_or(OfferStatus::Rejected, |o| status_of(&o));
        txn.rollback().await?;
        return Err(not_pending(status, to.as_str()));
    };
    txn.commit().await?;
    after(state, std::slice::from_ref(&changed)).await;
    Ok(changed.offer)
}

/// The seller accepts a pending offer: the claim on the listing row (a conditional update
/// `SET reserved_offer_id = offer WHERE reserved_offer_id IS NULL AND status = 'listed'`)
/// lets exactly one offer per invoice through, however many accepts of different offers
/// race on however many instances; then the offer becomes `reserved` and `offer.reserved`
/// asks the invoice service to confirm. Losers get 409.
pub async fn accept(state: &AppState, current: &offer::Model) -> Result<offer::Model, ApiError> {
    let now = state.clock.now();
    let status = status_of(current);
    if status != OfferStatus::Pending {
        return Err(not_pending(status, "accepted"));
    }
    if current.expires_at <= now {
        return Err(ApiError::Conflict("the offer has expired".into()));
    }
    let txn = common::db::begin_write(&state.db).await?;
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
            Some(l) if l.status != "listed" => ApiError::Conflict(format!(
                "the invoice is {}; no offer can be accepted",
                l.status
            )),
            _ => ApiError::Conflict(
                "another offer on this invoice has been accepted or is being accepted".into(),
            ),
        });
    }
    let res = offer::Entity::update_many()
        .col_expr(
            offer::Column::Status,
            Expr::value(OfferStatus::Reserved.as_str()),
        )
        .col_expr(offer::Column::UpdatedAt, Expr::value(now))
        .filter(offer::Column::Id.eq(current.id))
        .filter(offer::Column::Status.eq(OfferStatus::Pending.as_str()))
        .filter(offer::Column::ExpiresAt.gt(now))
        .exec(&*txn)
        .await?;
    if res.rows_affected == 0 {
        let status = find(&*txn, current.id)
            .await?
            .map_or(OfferStatus::Rejected, |o| status_of(&o));
        txn.rollback().await?;
        return Err(not_pending(status, "accepted"));
    }
    let updated = offer::Model {
        status: OfferStatus::Reserved.as_str().to_owned(),
        updated_at: now,
        ..current.clone()
    };
    commit_with_event(state, txn, &updated, Change::Reserved).await?;
    Ok(updated)
}

/// Writes `offer`'s event of `change` in `txn`, commits, then runs the after-commit
/// effects of an offer that stays active.
async fn commit_with_event(
    state: &AppState,
    txn: common::db::WriteTxn,
    offer: &offer::Model,
    change: Change,
) -> anyhow::Result<()> {
    crate::events::add(&*txn, state.clock.as_ref(), &OfferEvent::of(offer, change)).await?;
    txn.commit().await?;
    after(
        state,
        &[Changed {
            offer: offer.clone(),
            change,
            left_active: false,
        }],
    )
    .await;
    Ok(())
}
