//! Decisions on a pending offer: withdraw (its investor), reject and accept (the invoice's
//! seller).

use actix_web::{HttpResponse, post, web};
use common::auth::AuthUser;
use common::http::{ApiError, JsonBodyErrors, Problem, TokenErrors};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::offers::{investor, own_offer, seller};
use crate::entity::offer;
use crate::offers::{self, Change, OfferStatus, OfferView};
use crate::state::AppState;

/// Withdraw your pending offer.
#[utoipa::path(
    tag = "offers",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Offer id")),
    responses(
        (status = 200, description = "Withdrawn", body = OfferView),
        TokenErrors,
        (status = 403, description = "Not an investor, or KYC not approved", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such offer of yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The offer is no longer pending (its status is named)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/offers/{id}/withdraw")]
pub async fn withdraw(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    investor(&user)?;
    let current = own_offer(&state, &user, *id).await?;
    let o = offers::close(
        &state,
        &current,
        OfferStatus::Withdrawn,
        Change::Withdrawn,
        None,
    )
    .await?;
    Ok(HttpResponse::Ok().json(offers::view(&o)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// Shown to the investor (3 to 500 characters).
    #[serde(default)]
    #[schema(example = "The rate is too high for this debtor.")]
    pub reason: Option<String>,
}

/// The invoice's seller's offer owned by `user` (404 otherwise).
async fn offer_to(state: &AppState, user: &AuthUser, id: Uuid) -> Result<offer::Model, ApiError> {
    offers::find(&state.db, id)
        .await?
        .filter(|o| o.seller_id == user.id)
        .ok_or_else(|| offers::not_found(id))
}

/// Reject a pending offer on your invoice.
#[utoipa::path(
    tag = "offers",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Offer id")),
    request_body = RejectRequest,
    responses(
        (status = 200, description = "Rejected", body = OfferView),
        TokenErrors,
        JsonBodyErrors,
        (status = 403, description = "Not a seller, or KYC not approved", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such offer on your invoices", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The offer is no longer pending (its status is named)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/offers/{id}/reject")]
pub async fn reject(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: web::Json<RejectRequest>,
) -> Result<HttpResponse, ApiError> {
    seller(&user)?;
    let reason = match &body.reason {
        Some(r) => ApiError::text_between("reason", r, 3, 500)?.to_owned(),
        None => "rejected by the seller".to_owned(),
    };
    let current = offer_to(&state, &user, *id).await?;
    let o = offers::close(
        &state,
        &current,
        OfferStatus::Rejected,
        Change::Rejected,
        Some(&reason),
    )
    .await?;
    Ok(HttpResponse::Ok().json(offers::view(&o)))
}

/// Accept a pending offer on your invoice. Exactly one offer per invoice is ever
/// accepted: the offer is reserved and the invoice service asked to confirm (202); the
/// saga then accepts it and rejects the others, or releases it.
#[utoipa::path(
    tag = "offers",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Offer id")),
    responses(
        (status = 202, description = "Reserved; the invoice service confirms or refuses", body = OfferView),
        TokenErrors,
        (status = 403, description = "Not a seller, or KYC not approved", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such offer on your invoices", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another offer won, the offer is not pending or has expired, or the invoice is not listed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/offers/{id}/accept")]
pub async fn accept(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    seller(&user)?;
    let current = offer_to(&state, &user, *id).await?;
    let o = offers::accept(&state, &current).await?;
    tracing::info!(offer_id = %o.id, invoice_id = %o.invoice_id, "Offer reserved.");
    Ok(HttpResponse::Accepted().json(offers::view(&o)))
}
