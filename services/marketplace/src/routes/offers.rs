//! Offers: make, list, read and revise (the investor). Withdraw, reject and accept are in
//! `decisions.rs`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use common::auth::Role;
use common::ids::{InvoiceId, OfferId};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service_kit::auth::AuthUser;
use service_kit::http::version::IfMatch;
use service_kit::http::{ApiError, FieldError, JsonBodyErrors, TokenErrors};
use tracing::Instrument as _;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::pricing::{PricingError, Quote, Rate, Unpriced};
use crate::state::AppState;
use crate::store::entity::{listing, offer};
use crate::store::listings::{self, LISTED};
use crate::store::offers::placing::{Placed, Placing};
use crate::store::offers::{self, MarketError, NewOffer, OfferStatus, OfferView};

pub(super) fn investor(user: &AuthUser) -> Result<(), ApiError> {
    user.require(&[Role::Investor])?;
    user.require_kyc_approved()?;
    Ok(())
}

pub(super) fn seller(user: &AuthUser) -> Result<(), ApiError> {
    user.require(&[Role::Seller])?;
    user.require_kyc_approved()?;
    Ok(())
}

fn field(name: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: name.to_owned(),
        message: message.into(),
    }
}

fn parse_rate(state: &AppState, v: &Value) -> Result<Rate, FieldError> {
    match v {
        Value::String(s) => {
            let rate =
                Rate::parse(s, state.config.max_rate).map_err(|m| field("discount_rate", m))?;
            match state.config.min_rate {
                Some(min) if rate < min => {
                    Err(field("discount_rate", format!("must be at least {min}")))
                }
                _ => Ok(rate),
            }
        }
        _ => Err(field(
            "discount_rate",
            "must be a decimal string such as \"18.5\" (annual percent)",
        )),
    }
}

fn parse_hours(state: &AppState, v: Option<&Value>) -> Result<Option<i64>, FieldError> {
    let max = state.config.max_offer_hours;
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(h) if (1..=max).contains(&h) => Ok(Some(h)),
            _ => Err(field(
                "expires_in_hours",
                format!("must be a whole number of hours from 1 to {max}"),
            )),
        },
        Some(_) => Err(field(
            "expires_in_hours",
            format!("must be a whole number of hours from 1 to {max}"),
        )),
    }
}

/// Prices an offer on `l` at `rate` made on `on`, or says which field keeps it from
/// being priced.
fn price(
    state: &AppState,
    l: &listing::Model,
    rate: Rate,
    on: NaiveDate,
) -> Result<Quote, ApiError> {
    let min = state.config.min_days_to_due;
    state
        .config
        .terms()
        .quote(l.face_minor, l.due_date, on, rate)
        .map_err(|e| match e {
            Unpriced::TooSoon { days } => ApiError::field(
                "invoice_id",
                format!(
                    "the invoice falls due in {days} days (on {}); offers need at least {min} days to maturity",
                    l.due_date
                ),
            ),
            Unpriced::Pricing(e @ (PricingError::DiscountTooLarge | PricingError::FeeTooLarge)) => {
                ApiError::field(
                    "discount_rate",
                    format!("{e} at this rate; offer a lower rate"),
                )
            }
            Unpriced::Pricing(e @ PricingError::Overflow) => {
                ApiError::field("discount_rate", e.to_string())
            }
            Unpriced::Pricing(e @ PricingError::NotInFuture) => {
                ApiError::field("invoice_id", e.to_string())
            }
        })
}

fn expiry(state: &AppState, hours: Option<i64>) -> DateTime<Utc> {
    state.clock.now() + Duration::hours(hours.unwrap_or(state.config.default_offer_hours))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfferRequest {
    /// The listed invoice.
    #[schema(value_type = Uuid)]
    pub invoice_id: Value,
    /// Annual discount rate, percent, as a decimal string (above 0, at most 60 by default,
    /// at most four decimals).
    #[schema(value_type = String, example = "18.5")]
    pub discount_rate: Value,
    /// Hours until the offer expires (default 72, at most 168).
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 168, example = 72)]
    pub expires_in_hours: Option<Value>,
}

/// Make an offer on a listed invoice. The price is computed now (never sent): see
/// docs/pricing.md.
#[utoipa::path(
    tag = "offers",
    security(("bearer" = [])),
    request_body = OfferRequest,
    responses(
        (status = 201, description = "The offer, priced", body = OfferView),
        TokenErrors,
        JsonBodyErrors,
        (status = 403, description = "Not an investor, or KYC not approved"),
        (status = 409, description = "You already have an active offer on it, it is at its offer limit, being accepted or no longer listed"),
    )
)]
#[post("/offers")]
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<OfferRequest>,
) -> Result<HttpResponse, ApiError> {
    investor(&user)?;
    let mut errors = Vec::new();
    let invoice_id = match body.invoice_id.as_str().map(str::parse::<Uuid>) {
        Some(Ok(id)) => Some(id),
        _ => {
            errors.push(field("invoice_id", "must be an invoice id (a UUID)"));
            None
        }
    };
    let rate = parse_rate(&state, &body.discount_rate)
        .map_err(|e| errors.push(e))
        .ok();
    let hours = parse_hours(&state, body.expires_in_hours.as_ref())
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let (Some(invoice_id), Some(rate), true) = (invoice_id, rate, errors.is_empty()) else {
        return Err(ApiError::fields(errors));
    };
    // Priced in the batch on the listing's row its claim takes (no read before it);
    // what a batch cannot place is placed alone, which says why it cannot.
    let asked = Placing {
        investor: user.id,
        invoice_id,
        rate,
        expires_at: expiry(&state, hours),
        priced_on: state.clock.now().date_naive(),
    };
    let changed = match state
        .placer
        .place(asked)
        .instrument(tracing::info_span!("place offer"))
        .await
        .map_err(|stopped| MarketError::Store(stopped.into()))?
    {
        Placed::Done(changed) => changed,
        Placed::Alone(asked) => {
            place_alone(&state, asked)
                .instrument(tracing::info_span!("place offer alone"))
                .await?
        }
    };
    let o = &changed.offer;
    tracing::info!(offer_id = %o.id, invoice_id = %o.invoice_id, investor_id = %user.id, "Offer placed.");
    super::committed(&state, StatusCode::CREATED, changed)
        .instrument(tracing::info_span!("after commit"))
        .await
}

/// Places `asked` alone: reads its listing (the listing's row, not its cached card: every
/// placed offer changes the card), prices it there, and claims the listing in a
/// transaction of its own; refused with the reason.
async fn place_alone(state: &AppState, asked: Placing) -> Result<offers::Changed, ApiError> {
    let Some(l) = listings::find(&state.db, InvoiceId(asked.invoice_id)).await? else {
        return Err(ApiError::field(
            "invoice_id",
            "no listed invoice with this id",
        ));
    };
    if l.status != LISTED {
        return Err(ApiError::Conflict(format!(
            "the invoice is {}; it takes no offers",
            l.status
        )));
    }
    let quote = price(state, &l, asked.rate, asked.priced_on)?;
    let new = NewOffer {
        priced_on: asked.priced_on,
        expires_at: asked.expires_at,
        listing: l,
        quote,
    };
    Ok(offers::changes::place_alone(state, asked.investor, new).await?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only offers on this invoice.
    #[param(value_type = Option<Uuid>)]
    pub invoice_id: Option<String>,
    /// Only offers in this status.
    #[param(value_type = Option<OfferStatus>)]
    pub status: Option<String>,
    /// Page number, 1 to 1000000.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 1_000_000)]
    pub page: Option<String>,
    /// Items per page, 1 to 100 (default 20).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 100)]
    pub per_page: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OfferPage {
    pub items: Vec<OfferView>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
}

fn parse_num(name: &str, raw: &Option<String>, default: u64, max: u64) -> Result<u64, FieldError> {
    match raw {
        None => Ok(default),
        Some(s) => match s.parse::<u64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(field(
                name,
                format!("must be a whole number from 1 to {max}"),
            )),
        },
    }
}

/// Offers, newest first: sellers see those on their own invoices, investors their own,
/// admins all.
#[utoipa::path(
    tag = "offers",
    security(("bearer" = [])),
    params(ListParams),
    responses(
        (status = 200, description = "One page of offers", body = OfferPage),
        TokenErrors,
        (status = 422, description = "Bad or unknown parameter (named in `errors`)"),
    )
)]
#[get("/offers")]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let invoice_id = match &params.invoice_id {
        None => None,
        Some(s) => match s.parse::<Uuid>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push(field("invoice_id", "must be an invoice id (a UUID)"));
                None
            }
        },
    };
    let status = match &params.status {
        None => None,
        Some(s) => match s.parse::<OfferStatus>() {
            Ok(st) => Some(st),
            Err(_) => {
                errors.push(field(
                    "status",
                    "one of pending, reserved, accepted, rejected, withdrawn, expired, lapsed",
                ));
                None
            }
        },
    };
    let page = parse_num("page", &params.page, 1, 1_000_000).map_err(|e| errors.push(e));
    let per_page = parse_num("per_page", &params.per_page, 20, 100).map_err(|e| errors.push(e));
    let (Ok(page), Ok(per_page), true) = (page, per_page, errors.is_empty()) else {
        return Err(ApiError::fields(errors));
    };
    let mut q = offer::Entity::find();
    q = match user.role {
        Role::Admin => q,
        Role::Investor => q.filter(offer::Column::InvestorId.eq(user.id)),
        Role::Seller => q.filter(offer::Column::SellerId.eq(user.id)),
    };
    if let Some(id) = invoice_id {
        q = q.filter(offer::Column::InvoiceId.eq(id));
    }
    if let Some(s) = status {
        q = q.filter(offer::Column::Status.eq(s.as_str()));
    }
    let pages = q
        .order_by_desc(offer::Column::CreatedAt)
        .order_by_desc(offer::Column::Id)
        .paginate(&state.db, per_page);
    let total = pages.num_items().await?;
    let items = pages.fetch_page(page - 1).await?;
    Ok(HttpResponse::Ok().json(OfferPage {
        items: items.iter().map(offers::view).collect::<Result<_, _>>()?,
        page,
        per_page,
        total,
    }))
}

/// One offer, with the same visibility as the list (another's is a 404).
#[utoipa::path(
    tag = "offers",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Offer id")),
    responses(
        (status = 200, description = "The offer (its version also as `ETag`)", body = OfferView),
        TokenErrors,
        (status = 404, description = "No such offer visible to you"),
    )
)]
#[get("/offers/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<OfferId>,
) -> Result<HttpResponse, ApiError> {
    let o = offers::find_visible(&state, &user, *id).await?;
    super::respond(StatusCode::OK, &o)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviseRequest {
    /// A new annual discount rate (decimal string); the offer is priced again today.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "17.25")]
    pub discount_rate: Option<Value>,
    /// A new expiry, in hours from now.
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 168)]
    pub expires_in_hours: Option<Value>,
}

/// The investor's own offer owned by `user` (404 otherwise).
pub(super) async fn own_offer(
    state: &AppState,
    user: &AuthUser,
    id: OfferId,
) -> Result<offer::Model, ApiError> {
    Ok(offers::find(&state.db, id)
        .await?
        .filter(|o| o.investor_id == user.id)
        .ok_or(crate::domain::MarketError::NotFound(id))?)
}

/// Revise your pending offer: a new rate (priced again today) and/or a new expiry. Every
/// revision is a new version: a seller's accept of an older one is refused.
#[utoipa::path(
    tag = "offers",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Offer id"), ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^("[0-9]{1,18}"|[0-9]{1,18})$"#, description = "Optional: the offer's ETag as you read it; the change applies only to that version (else 412)")),
    request_body = ReviseRequest,
    responses(
        (status = 200, description = "The offer as revised (its new version also as `ETag`)", body = OfferView),
        TokenErrors,
        JsonBodyErrors,
        (status = 412, description = "If-Match named another version than the offer's; `current` holds it"),
        (status = 403, description = "Not an investor, or KYC not approved"),
        (status = 404, description = "No such offer of yours"),
        (status = 409, description = "The offer is no longer pending (its status is named)"),
    )
)]
#[patch("/offers/{id}")]
pub async fn revise(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<OfferId>,
    if_match: IfMatch,
    body: web::Json<ReviseRequest>,
) -> Result<HttpResponse, ApiError> {
    investor(&user)?;
    let current = own_offer(&state, &user, *id).await?;
    let mut errors = Vec::new();
    let rate = match &body.discount_rate {
        None | Some(Value::Null) => None,
        Some(v) => parse_rate(&state, v).map_err(|e| errors.push(e)).ok(),
    };
    let hours = parse_hours(&state, body.expires_in_hours.as_ref())
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    if !errors.is_empty() {
        return Err(ApiError::fields(errors));
    }
    if rate.is_none() && hours.is_none() {
        return Err(ApiError::field(
            "discount_rate",
            "give discount_rate and/or expires_in_hours",
        ));
    }
    let status = offers::status_of(&current)?;
    if status != OfferStatus::Pending {
        return Err(offers::not_pending(status, "revised").into());
    }
    let l = listings::find(&state.db, current.invoice())
        .await?
        .filter(|l| l.status == LISTED)
        .ok_or_else(|| ApiError::Conflict("the invoice is no longer listed".into()))?;
    let rate = rate.unwrap_or(Rate::from_millionths(current.rate_millionths));
    let quote = price(&state, &l, rate, state.clock.now().date_naive())?;
    let expires_at = match hours {
        Some(h) => expiry(&state, Some(h)),
        None => current.expires_at,
    };
    let changed = offers::revise(
        &state,
        &current,
        if_match.0,
        quote,
        state.clock.now().date_naive(),
        expires_at,
    )
    .await?;
    super::committed(&state, StatusCode::OK, changed).await
}
