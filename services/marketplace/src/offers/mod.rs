//! Offers: their statuses, how the API shows them, who may see them, and what happens
//! after a change commits ([`after`]). The writes (placing, revising, withdrawing,
//! rejecting, the acceptance claim, the saga's status changes) are in [`changes`].

use chrono::{DateTime, NaiveDate, Utc};
use common::auth::{AuthUser, Role};
use common::enums::{BadStoredValue, stored};
use common::http::ApiError;
use common::ids::OfferId;
use common::money::{Currency, Money};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::entity::offer;
use crate::pricing::{Quote, Rate};
use crate::state::AppState;

pub mod changes;

pub use changes::{
    From, NewOffer, accept, close, lock_listing, move_status, not_pending, place, reject_all,
    revise, set_status, stale,
};

/// An offer's status and what happened to it are the shared contract's
/// (`common::events::marketplace`): events, the API and live messages use the same words.
pub use common::events::marketplace::{OfferChange as Change, OfferStatus};

/// A committed change, for the after-commit effects.
#[derive(Debug, Clone)]
pub struct Changed {
    pub offer: offer::Model,
    pub change: Change,
    /// The offer stopped being active (pending/reserved): `offers:count` goes down.
    pub left_active: bool,
}

/// The offer's status, or an error naming the row if the stored word is not one.
pub fn status_of(o: &offer::Model) -> Result<OfferStatus, BadStoredValue> {
    stored("offers", o.id, "status", &o.status)
}

/// The offer's currency, or an error naming the row.
pub fn currency_of(o: &offer::Model) -> Result<Currency, BadStoredValue> {
    stored("offers", o.id, "currency", &o.currency)
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
    /// Bumped by every change; also the `ETag`. The seller's accept and reject name the
    /// version they decided on in `If-Match`.
    #[schema(minimum = 1, example = 1)]
    pub version: i64,
}

pub fn view(o: &offer::Model) -> Result<OfferView, BadStoredValue> {
    let c = currency_of(o)?;
    let q = quote_of(o);
    let m = |minor| Money::from_minor(minor, c).to_decimal_string();
    Ok(OfferView {
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
        status: status_of(o)?,
        reason: o.reason.clone(),
        expires_at: o.expires_at,
        created_at: o.created_at,
        updated_at: o.updated_at,
        version: o.version,
    })
}

/// `status` with `o` as JSON and its `ETag`.
pub fn respond(
    status: actix_web::http::StatusCode,
    o: &offer::Model,
) -> Result<actix_web::HttpResponse, ApiError> {
    Ok(common::http::version::respond(status, o.version, &view(o)?))
}

pub fn not_found(id: OfferId) -> ApiError {
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

pub async fn find<C: ConnectionTrait>(db: &C, id: OfferId) -> Result<Option<offer::Model>, DbErr> {
    offer::Entity::find_by_id(id.uuid()).one(db).await
}

/// The offer if `user` may see it, else 404 (another's offer does not exist for you).
pub async fn find_visible(
    state: &AppState,
    user: &AuthUser,
    id: OfferId,
) -> Result<offer::Model, ApiError> {
    find(&state.db, id)
        .await?
        .filter(|o| visible_to(o, user))
        .ok_or_else(|| not_found(id))
}

pub(crate) fn statuses(list: &[OfferStatus]) -> Vec<&'static str> {
    list.iter().map(|s| s.as_str()).collect()
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
        let (view, status) = match view(o).and_then(|v| Ok((v, status_of(o)?))) {
            Ok(ok) => ok,
            Err(error) => {
                tracing::error!(%error, "Offer change not published.");
                continue;
            }
        };
        if c.change == Change::Placed {
            let msg = LiveNewOffer {
                change: Change::Placed,
                offer: view,
            };
            crate::live::publish(state, &state.keys.seller_channel(o.seller_id), &msg).await;
            crate::live::offer_placed(state, o.invoice_id).await;
        }
        let msg = LiveOffer {
            offer_id: o.id,
            invoice_id: o.invoice_id,
            status,
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
