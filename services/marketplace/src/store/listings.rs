//! The listings read model, kept from invoice events (never from the invoice tables), and
//! how the API shows a listing.

use chrono::{DateTime, NaiveDate, Utc};
use common::auth::Role;
use common::enums::{BadStoredValue, stored};
use common::events::invoice::{InvoiceChanged, InvoiceStatus};
use common::ids::InvoiceId;
use common::money::{Currency, Money};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use service_kit::auth::AuthUser;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::MarketError;
use crate::domain::pricing::Rate;
use crate::state::AppState;
use crate::store::entity::{listing, offer};
use crate::store::offers::{self, Changed, OfferStatus};

/// A listing's `status` mirrors its invoice's; offers are taken only while it is this.
pub const LISTED: &str = InvoiceStatus::Listed.as_str();

pub async fn find<C: ConnectionTrait>(
    db: &C,
    id: InvoiceId,
) -> Result<Option<listing::Model>, sea_orm::DbErr> {
    listing::Entity::find_by_id(id.uuid()).one(db).await
}

async fn count_active<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<i64, sea_orm::DbErr> {
    use sea_orm::PaginatorTrait;
    let active: Vec<&str> = OfferStatus::ACTIVE.iter().map(|s| s.as_str()).collect();
    let n = offer::Entity::find()
        .filter(offer::Column::InvoiceId.eq(id))
        .filter(offer::Column::Status.is_in(active))
        .count(db)
        .await?;
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

/// `invoice.listed`: creates the listing or refreshes its terms, open for offers.
pub async fn listed<C: ConnectionTrait>(
    txn: &C,
    now: DateTime<Utc>,
    t: &InvoiceChanged,
) -> anyhow::Result<()> {
    let id = t.invoice_id.uuid();
    let active = count_active(txn, id).await?;
    match find(txn, t.invoice_id).await? {
        None => {
            listing::ActiveModel {
                id: Set(id),
                seller_id: Set(t.seller_id.uuid()),
                invoice_number: Set(t.invoice_number.clone()),
                debtor_name: Set(t.debtor_name.clone()),
                face_minor: Set(t.amount_minor),
                currency: Set(t.currency.code().to_owned()),
                due_date: Set(t.due_date),
                status: Set(LISTED.to_owned()),
                reserved_offer_id: Set(None),
                accepted_offer_id: Set(None),
                active_offers: Set(active),
                listed_at: Set(now),
                updated_at: Set(now),
            }
            .insert(txn)
            .await?;
        }
        Some(_) => {
            listing::Entity::update_many()
                .col_expr(listing::Column::SellerId, Expr::value(t.seller_id.uuid()))
                .col_expr(
                    listing::Column::InvoiceNumber,
                    Expr::value(t.invoice_number.clone()),
                )
                .col_expr(
                    listing::Column::DebtorName,
                    Expr::value(t.debtor_name.clone()),
                )
                .col_expr(listing::Column::FaceMinor, Expr::value(t.amount_minor))
                .col_expr(listing::Column::Currency, Expr::value(t.currency.code()))
                .col_expr(listing::Column::DueDate, Expr::value(t.due_date))
                .col_expr(listing::Column::Status, Expr::value(LISTED))
                .col_expr(
                    listing::Column::ReservedOfferId,
                    Expr::value(Option::<Uuid>::None),
                )
                .col_expr(
                    listing::Column::AcceptedOfferId,
                    Expr::value(Option::<Uuid>::None),
                )
                .col_expr(listing::Column::ActiveOffers, Expr::value(active))
                .col_expr(listing::Column::UpdatedAt, Expr::value(now))
                .filter(listing::Column::Id.eq(id))
                .exec(txn)
                .await?;
        }
    }
    Ok(())
}

/// Records the invoice's new status on its listing (nothing else changes).
pub async fn mirror<C: ConnectionTrait>(
    txn: &C,
    now: DateTime<Utc>,
    id: Uuid,
    status: InvoiceStatus,
) -> anyhow::Result<()> {
    listing::Entity::update_many()
        .col_expr(listing::Column::Status, Expr::value(status.as_str()))
        .col_expr(listing::Column::UpdatedAt, Expr::value(now))
        .filter(listing::Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

/// The invoice left `listed` (cancelled, say): the listing closes, any claim is cleared
/// and every active offer is rejected with `reason`.
pub async fn delist<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn common::Clock,
    id: Uuid,
    status: InvoiceStatus,
    reason: &str,
) -> anyhow::Result<Vec<Changed>> {
    let changes = offers::reject_all(txn, clock, id, &OfferStatus::ACTIVE, None, reason).await?;
    listing::Entity::update_many()
        .col_expr(listing::Column::Status, Expr::value(status.as_str()))
        .col_expr(
            listing::Column::ReservedOfferId,
            Expr::value(Option::<Uuid>::None),
        )
        .col_expr(listing::Column::ActiveOffers, Expr::value(0i64))
        .col_expr(listing::Column::UpdatedAt, Expr::value(clock.now()))
        .filter(listing::Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(changes)
}

/// Accepted -> listed (funding expired, or a late confirmation undone): the accepted
/// offer lapses and the listing opens again for offers.
pub async fn reopen<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn common::Clock,
    id: Uuid,
) -> anyhow::Result<Vec<Changed>> {
    let accepted = offer::Entity::find()
        .filter(offer::Column::InvoiceId.eq(id))
        .filter(offer::Column::Status.eq(OfferStatus::Accepted.as_str()))
        .all(txn)
        .await?;
    let mut changes = Vec::new();
    for o in &accepted {
        if let Some(c) = offers::set_status(
            txn,
            clock,
            o,
            offers::From::any(&[OfferStatus::Accepted]),
            OfferStatus::Lapsed,
            offers::Change::Lapsed,
            Some("the invoice was not funded in time; it is listed again"),
        )
        .await?
        {
            changes.push(c);
        }
    }
    let active = count_active(txn, id).await?;
    // An acceptance in flight keeps its claim (a late confirmation undone after a timeout
    // may arrive while the seller's next acceptance waits for its answer).
    let in_flight = offer::Entity::find()
        .filter(offer::Column::InvoiceId.eq(id))
        .filter(offer::Column::Status.eq(OfferStatus::Reserved.as_str()))
        .one(txn)
        .await?
        .map(|o| o.id);
    listing::Entity::update_many()
        .col_expr(listing::Column::Status, Expr::value(LISTED))
        .col_expr(listing::Column::ReservedOfferId, Expr::value(in_flight))
        .col_expr(
            listing::Column::AcceptedOfferId,
            Expr::value(Option::<Uuid>::None),
        )
        .col_expr(listing::Column::ActiveOffers, Expr::value(active))
        .col_expr(listing::Column::UpdatedAt, Expr::value(clock.now()))
        .filter(listing::Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(changes)
}

/// The offers on a listing, in short.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OfferSummary {
    /// Pending and reserved offers.
    pub active: i64,
    /// Offers ever placed.
    pub placed: i64,
    /// The lowest annual discount rate among active offers (best for the seller).
    #[schema(example = "16.5")]
    pub best_rate: Option<String>,
}

/// A listing as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ListingView {
    pub invoice_id: Uuid,
    pub seller_id: Uuid,
    pub invoice_number: String,
    pub debtor_name: String,
    #[schema(example = "1500000.00")]
    pub face_value: String,
    #[schema(value_type = String, example = "NGN")]
    pub currency: Currency,
    pub due_date: NaiveDate,
    /// Days from today (UTC) to the due date.
    pub days_to_due: i64,
    /// The invoice's status as marketplace last heard it; offers only while `listed`.
    pub status: InvoiceStatus,
    /// Set while an acceptance is in flight or done.
    pub reserved_offer_id: Option<Uuid>,
    pub accepted_offer_id: Option<Uuid>,
    pub offers: OfferSummary,
    pub listed_at: DateTime<Utc>,
}

/// The listing's currency, or an error naming the row.
pub fn currency_of(l: &listing::Model) -> Result<Currency, BadStoredValue> {
    stored("listings", l.id, "currency", &l.currency)
}

/// The listing's status (its invoice's, as marketplace last heard it), or an error naming
/// the row.
pub fn status_of(l: &listing::Model) -> Result<InvoiceStatus, BadStoredValue> {
    stored("listings", l.id, "status", &l.status)
}

/// The lowest active rate of each of `ids` that has active offers, in one query.
pub async fn best_rates<C: sea_orm::ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, Rate>, sea_orm::DbErr> {
    use sea_orm::QuerySelect;
    if ids.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    let active: Vec<&str> = OfferStatus::ACTIVE.iter().map(|s| s.as_str()).collect();
    let rows: Vec<(Uuid, Option<i64>)> = offer::Entity::find()
        .select_only()
        .column(offer::Column::InvoiceId)
        .column_as(offer::Column::RateMillionths.min(), "best")
        .filter(offer::Column::InvoiceId.is_in(ids.iter().copied()))
        .filter(offer::Column::Status.is_in(active))
        .group_by(offer::Column::InvoiceId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, best)| Some((id, Rate::from_millionths(best?))))
        .collect())
}

/// What a listing view reads from the database, cached as one entry
/// (`marketplace:listing:{id}`, generation scope `listing:{id}`: bumped after every
/// committed change of the listing or of its offers).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Card {
    pub listing: listing::Model,
    /// The lowest rate among the active offers, in millionths.
    pub best_rate_millionths: Option<i64>,
}

/// The card of listing `id` from the database (`None`: no such listing).
pub async fn card<C: sea_orm::ConnectionTrait>(
    db: &C,
    id: Uuid,
) -> Result<Option<Card>, sea_orm::DbErr> {
    let Some(listing) = listing::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let best = best_rates(db, &[id]).await?.remove(&id);
    Ok(Some(Card {
        listing,
        best_rate_millionths: best.map(|r| r.millionths()),
    }))
}

/// The view of `l` with its counters (active, placed) and best rate as read.
pub fn view_of(
    state: &AppState,
    l: &listing::Model,
    (active, placed): (i64, i64),
    best: Option<Rate>,
) -> Result<ListingView, MarketError> {
    let today = state.clock.now().date_naive();
    Ok(ListingView {
        invoice_id: l.id,
        seller_id: l.seller_id,
        invoice_number: l.invoice_number.clone(),
        debtor_name: l.debtor_name.clone(),
        face_value: Money::from_minor(l.face_minor, currency_of(l)?).to_decimal_string(),
        currency: currency_of(l)?,
        due_date: l.due_date,
        days_to_due: (l.due_date - today).num_days(),
        status: status_of(l)?,
        reserved_offer_id: l.reserved_offer_id,
        accepted_offer_id: l.accepted_offer_id,
        offers: OfferSummary {
            active,
            placed,
            best_rate: best.map(|r| r.to_string()),
        },
        listed_at: l.listed_at,
    })
}

/// Whether `user` may see `l`: investors while listed, sellers their own, admins all.
pub fn visible_to(user: &AuthUser, l: &listing::Model) -> bool {
    match user.role {
        Role::Admin => true,
        Role::Seller => l.seller_id == user.id,
        Role::Investor => l.status == LISTED,
    }
}

/// The listing if `user` may see it ([`visible_to`]).
pub async fn find_visible(
    state: &AppState,
    user: &AuthUser,
    id: InvoiceId,
) -> Result<listing::Model, MarketError> {
    find(&state.db, id)
        .await?
        .filter(|l| visible_to(user, l))
        .ok_or(MarketError::NoSuchListing(id))
}
