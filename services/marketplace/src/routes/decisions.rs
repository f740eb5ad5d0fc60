//! Decisions on a pending offer: withdraw (its investor), reject and accept (the invoice's
//! seller).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post, web};
use common::ids::OfferId;
use serde::Deserialize;
use service_kit::auth::AuthUser;
use service_kit::http::version::IfMatch;
use service_kit::http::{ApiError, JsonBodyErrors, TokenErrors, VersionErrors};
use utoipa::ToSchema;

use super::offers::{investor, own_offer, seller};
use crate::state::AppState;
use crate::store::entity::offer;
use crate::store::offers::{self, Change, OfferStatus, OfferView};

/// Withdraw your pending offer.
#[utoipa::path(
    tag = "offers",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Offer id"), ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^("[0-9]{1,18}"|[0-9]{1,18})$"#, description = "Optional: the offer's ETag as you read it; the change applies only to that version (else 412)")),
    responses(
        (status = 200, description = "Withdrawn", body = OfferView),
        TokenErrors,
        (status = 400, description = "If-Match names no single strong ETag"),
        (status = 412, description = "If-Match named another version than the offer's; `current` holds it"),
        (status = 403, description = "Not an investor, or KYC not approved"),
        (status = 404, description = "No such offer of yours"),
        (status = 409, description = "The offer is no longer pending (its status is named)"),
    )
)]
#[post("/offers/{id}/withdraw")]
pub async fn withdraw(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<OfferId>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    investor(&user)?;
    let current = own_offer(&state, &user, *id).await?;
    let changed = offers::close(
        &state,
        &current,
        if_match.0,
        OfferStatus::Withdrawn,
        Change::Withdrawn,
        None,
    )
    .await?;
    super::committed(&state, StatusCode::OK, changed).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// Shown to the investor (3 to 500 characters, not all white space).
    #[serde(default)]
    #[schema(
        example = "The rate is too high for this debtor.",
        min_length = 3,
        max_length = 500,
        pattern = r"\S"
    )]
    pub reason: Option<String>,
}

/// The invoice's seller's offer owned by `user` (404 otherwise).
async fn offer_to(
    state: &AppState,
    user: &AuthUser,
    id: OfferId,
) -> Result<offer::Model, ApiError> {
    Ok(offers::find(&state.db, id)
        .await?
        .filter(|o| o.seller_id == user.id)
        .ok_or(crate::domain::MarketError::NotFound(id))?)
}

/// Reject a pending offer on your invoice, at the version you reviewed (`If-Match`).
#[utoipa::path(
    tag = "offers",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Offer id"), ("If-Match" = String, Header, pattern = r#"^("[0-9]{1,18}"|[0-9]{1,18})$"#, description = "The offer's ETag as you read it, e.g. \"1\": the decision applies to that version or not at all (412)")),
    request_body = RejectRequest,
    responses(
        (status = 200, description = "Rejected", body = OfferView),
        TokenErrors,
        JsonBodyErrors,
        VersionErrors,
        (status = 403, description = "Not a seller, or KYC not approved"),
        (status = 404, description = "No such offer on your invoices"),
        (status = 409, description = "The offer is no longer pending (its status is named)"),
    )
)]
#[post("/offers/{id}/reject")]
pub async fn reject(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<OfferId>,
    if_match: IfMatch,
    body: web::Json<RejectRequest>,
) -> Result<HttpResponse, ApiError> {
    seller(&user)?;
    let reason = match &body.reason {
        Some(r) => ApiError::text_between("reason", r, 3, 500)?.to_owned(),
        None => "rejected by the seller".to_owned(),
    };
    let current = offer_to(&state, &user, *id).await?;
    let seen = if_match.required()?;
    let changed = offers::close(
        &state,
        &current,
        Some(seen),
        OfferStatus::Rejected,
        Change::Rejected,
        Some(&reason),
    )
    .await?;
    super::committed(&state, StatusCode::OK, changed).await
}

/// Accept a pending offer on your invoice, at the version you reviewed (`If-Match`: the
/// offer's `ETag`): if the investor revised it since, nothing is accepted (412, with the
/// offer as it is now). Exactly one offer per invoice is ever accepted: the offer is
/// reserved and the invoice service asked to confirm (202); the saga then accepts it and
/// rejects the others, or releases it.
#[utoipa::path(
    tag = "offers",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Offer id"), ("If-Match" = String, Header, pattern = r#"^("[0-9]{1,18}"|[0-9]{1,18})$"#, description = "The offer's ETag as you read it, e.g. \"1\": the decision applies to that version or not at all (412)")),
    responses(
        (status = 202, description = "Reserved; the invoice service confirms or refuses", body = OfferView),
        TokenErrors,
        VersionErrors,
        (status = 403, description = "Not a seller, or KYC not approved"),
        (status = 404, description = "No such offer on your invoices"),
        (status = 409, description = "Another offer won, the offer is not pending or has expired, or the invoice is not listed"),
    )
)]
#[post("/offers/{id}/accept")]
pub async fn accept(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<OfferId>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    seller(&user)?;
    let current = offer_to(&state, &user, *id).await?;
    let seen = if_match.required()?;
    let changed = offers::accept(&state, &current, seen).await?;
    let o = &changed.offer;
    tracing::info!(offer_id = %o.id, invoice_id = %o.invoice_id, version = o.version, "Offer reserved.");
    super::committed(&state, StatusCode::ACCEPTED, changed).await
}
