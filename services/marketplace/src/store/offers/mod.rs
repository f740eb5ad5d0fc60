//! Offers: their statuses, how the API shows them, who may see them. The writes (placing,
//! revising, withdrawing, rejecting, the acceptance claim, the saga's status changes) are
//! in [`changes`], each with its event ([`events`]) in the same transaction; what follows
//! a commit is the caller's ([`crate::outbound::after`]).

use common::auth::Role;
use common::enums::{BadStoredValue, stored};
use common::ids::OfferId;
use common::money::{Currency, Money};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait};
use service_kit::auth::AuthUser;

use crate::domain::pricing::{Quote, Rate};
use crate::state::AppState;
use crate::store::entity::offer;

pub mod changes;
pub mod events;
pub mod placing;

pub use changes::{
    From, NewOffer, accept, close, lock_listing, move_status, not_pending, place_alone, reject_all,
    revise, set_status,
};

pub use crate::domain::{Change, MarketError, OfferStatus, OfferView};

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

impl std::convert::From<DbErr> for MarketError {
    fn from(e: DbErr) -> Self {
        Self::Store(e.into())
    }
}

impl std::convert::From<BadStoredValue> for MarketError {
    fn from(e: BadStoredValue) -> Self {
        Self::Store(e.into())
    }
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
) -> Result<offer::Model, MarketError> {
    find(&state.db, id)
        .await?
        .filter(|o| visible_to(o, user))
        .ok_or(MarketError::NotFound(id))
}

pub(crate) fn statuses(list: &[OfferStatus]) -> Vec<&'static str> {
    list.iter().map(|s| s.as_str()).collect()
}
