//! Offers in the database: placing, revising, withdrawing, rejecting, the acceptance claim
//! and the status changes of the saga. Each change is a conditional `UPDATE ... WHERE
//! status IN (...)` checked by rows affected, with the listing's active-offer count and
//! the outbox event in the same transaction; [`after`] does the after-commit effects.

use chrono::{DateTime, NaiveDate, Utc};
use common::auth::{AuthUser, Role};
use common::http::ApiError;
use common::money::{Currency, Money};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::entity::{listing, offer};
use crate::events::OfferEvent;
use crate::pricing::{Quote, Rate};
use crate::state::AppState;

/// An offer's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OfferStatus {
    /// Open: the seller may accept or reject it, the investor revise or withdraw it.
    Pending,
    /// The seller accepted it; the invoice service has not answered yet.
    Reserved,
    /// The saga finished: this offer funds the invoice.
    Accepted,
    Rejected,
    Withdrawn,
    Expired,
    /// It was accepted, but the invoice was not funded in time and is listed again.
    Lapsed,
}

impl OfferStatus {
    pub const ACTIVE: [OfferStatus; 2] = [OfferStatus::Pending, OfferStatus::Reserved];

    pub fn as_str(self) -> &'static str {
        match self {
            OfferStatus::Pending => "pending",
            OfferStatus::Reserved => "reserved",
            OfferStatus::Accepted => "accepted",
            OfferStatus::Rejected => "rejected",
            OfferStatus::Withdrawn => "withdrawn",
            OfferStatus::Expired => "expired",
            OfferStatus::Lapsed => "lapsed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            OfferStatus::Pending,
            OfferStatus::Reserved,
            OfferStatus::Accepted,
            OfferStatus::Rejected,
            OfferStatus::Withdrawn,
            OfferStatus::Expired,
            OfferStatus::Lapsed,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    pub fn is_active(self) -> bool {
        Self::ACTIVE.contains(&self)
    }
}

impl std::fmt::Display for OfferStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to an offer (events and live messages name it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Placed,
    Revised,
    Withdrawn,
    Rejected,
    Expired,
    Reserved,
    Released,
    Accepted,
    Lapsed,
}

/// A committed change, for the after-commit effects.
#[derive(Debug, Clone)]
pub struct Changed {
    pub offer: offer::Model,
    pub change: Change,
    /// The offer stopped being active (pending/reserved): `offers:count` goes down.
    pub left_active: bool,
}

pub fn status_of(o: &offer::Model) -> OfferStatus {
    OfferStatus::parse(&o.status).unwrap_or(OfferStatus::Rejected)
}

pub fn currency_of(o: &offer::Model) -> Currency {
    o.currency.parse().unwrap_or(Currency::NGN)
}

pub fn quote_of(o: &offer::Model) -> Quote {
    Quote {
        face: o.face_minor,
        days: o.days,
        rate: Rate::from_millionths(o.rate_millionths),
        discount: o.discount_minor,
        price: o.price_minor,
        fee: o.fee_minor,
    }
}

/// An offer as the API shows it: every amount a decimal string in `currency`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OfferView {
    pub id: Uuid,
    pub invoice_id: Uuid,
    pub investor_id: Uuid,
    pub seller_id: Uuid,
    /// Annual discount rate, percent.
    #[schema(example = "18.5")]
    pub discount_rate: String,
    #[schema(value_type = String, example = "NGN")]
    pub currency: Currency,
    #[schema(example = "1500000.00")]
    pub face_value: String,
    /// Face value × rate × days / 365, rounded half-up to the minor unit.
    #[schema(example = "44383.56")]
    pub discount: String,
    /// What the investor pays: face value − discount.
    #[schema(example = "1455616.44")]
    pub price: String,
    /// The platform's fee, paid by the seller.
    #[schema(example = "15000.00")]
    pub platform_fee: String,
    /// What the seller receives: price − fee.
    #[schema(example = "1440616.44")]
    pub net_proceeds: String,
    /// What the investor earns at maturity: face value − price.
    #[schema(example = "44383.56")]
    pub investor_return: String,
    /// return / price × 365 / days, percent, two decimals.
    #[schema(example = "18.55")]
    pub annualised_yield: String,
    /// Days from `priced_on` to the due date.
    pub days_to_maturity: i64,
    pub priced_on: NaiveDate,
    pub status: OfferStatus,
    /// Why it was rejected, released or lapsed.
    pub reason: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn view(o: &offer::Model) -> OfferView {
    let c = currency_of(o);
    let q = quote_of(o);
    let m = |minor| Money::from_minor(minor, c).to_decimal_string();
    OfferView {
        id: o.id,
        invoice_id: o.invoice_id,
        investor_id: o.investor_id,
        seller_id: o.seller_id,
        discount_rate: q.rate.to_string(),
        currency: c,
        face_value: m(q.face),
        discount: m(q.discount),
        price: m(q.price),
        platform_fee: m(q.fee),
        net_proceeds: m(q.net_proceeds()),
        investor_return: m(q.investor_return()),
        annualised_yield: format!("{:.2}", q.annualised_yield()),
        days_to_maturity: q.days,
        priced_on: o.priced_on,
        status: status_of(o),
        reason: o.reason.clone(),
        expires_at: o.expires_at,
        created_at: o.created_at,
        updated_at: o.updated_at,
    }
}

pub fn not_found(id: Uuid) -> ApiError {
    ApiError::NotFound(format!("no offer {id}"))
}

/// May `user` see `o`? Admins all; investors their own; sellers those on their invoices.
pub fn visible_to(o: &offer::Model, user: &AuthUser) -> bool {
    match user.role {
        Role::Admin => true,
        Role::Investor => o.investor_id == user.id,
        Role::Seller => o.seller_id == user.id,
    }
}

pub async fn find<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<offer::Model>, DbErr> {
    offer::Entity::find_by_id(id).one(db).await
}

/// The offer if `user` may see it, else 404 (another's offer does not exist for you).
pub async fn find_visible(
    state: &AppState,
    user: &AuthUser,
    id: Uuid,
) -> Result<offer::Model, ApiError> {
    find(&state.db, id)
        .await?
        .filter(|o| visible_to(o, user))
        .ok_or_else(|| not_found(id))
}

fn statuses(list: &[OfferStatus]) -> Vec<&'static str> {
    list.iter().map(|s| s.as_str()).collect()
}

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
    crate::events::add(
        &*txn,
        state.clock.as_ref(),
        &OfferEvent::of(&model, Change::Placed),
    )
    .await?;
    txn.commit().await?;
    after(
        state,
        &[Changed {
            offer: model.clone(),
            change: Change::Placed,
            left_active: false,
        }],
    )
    .await;
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
    crate::events::add(
        &*txn,
        state.clock.as_ref(),
        &OfferEvent::of(&updated, Change::Revised),
    )
    .await?;
    txn.commit().await?;
    after(
        state,
        &[Changed {
            offer: updated.clone(),
            change: Change::Revised,
            left_active: false,
        }],
    )
    .await;
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
    crate::events::add(
        &*txn,
        state.clock.as_ref(),
        &OfferEvent::of(&updated, Change::Reserved),
    )
    .await?;
    txn.commit().await?;
    after(
        state,
        &[Changed {
            offer: updated.clone(),
            change: Change::Reserved,
            left_active: false,
        }],
    )
    .await;
    Ok(updated)
}

/// The live message on `offer:{offerId}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct LiveOffer {
    pub offer_id: Uuid,
    pub invoice_id: Uuid,
    pub status: OfferStatus,
    pub change: Change,
    pub reason: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// The live message on `seller:{sellerId}` for a new offer.
#[derive(Debug, Serialize, Deserialize)]
pub struct LiveNewOffer {
    pub change: Change,
    pub offer: OfferView,
}

/// After committed changes: the relay sends their events, subscribers hear of them, the
/// counters follow. Failures are logged: the changes themselves have happened.
pub async fn after(state: &AppState, changes: &[Changed]) {
    if changes.is_empty() {
        return;
    }
    state.relay.wake();
    for c in changes {
        let o = &c.offer;
        if c.change == Change::Placed {
            let msg = LiveNewOffer {
                change: Change::Placed,
                offer: view(o),
            };
            crate::live::publish(state, &state.keys.seller_channel(o.seller_id), &msg).await;
            crate::live::offer_placed(state, o.invoice_id).await;
        }
        let msg = LiveOffer {
            offer_id: o.id,
            invoice_id: o.invoice_id,
            status: status_of(o),
            change: c.change,
            reason: o.reason.clone(),
            updated_at: o.updated_at,
        };
        crate::live::publish(state, &state.keys.offer_channel(o.id), &msg).await;
        if c.left_active {
            crate::live::adjust_active(state, o.invoice_id, -1).await;
        }
    }
}
