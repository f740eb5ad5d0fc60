//! Status changes people make: submit and cancel (the seller), verify and reject (admins).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post, web};
use common::ids::InvoiceId;
use serde::Deserialize;
use service_kit::auth::{AuthUser, RequireRole};
use service_kit::http::version::IfMatch;
use service_kit::http::{ApiError, JsonBodyErrors, TokenErrors, VersionErrors};
use utoipa::ToSchema;

use super::invoices::{own, seller};
use crate::domain::{Action, Machine};
use crate::domain::{Actor, InvoiceView};
use crate::state::AppState;
use crate::store::invoices;

/// Send a draft (or a corrected rejected invoice) for verification.
#[utoipa::path(
    tag = "lifecycle",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Invoice id")),
    responses(
        (status = 200, description = "Submitted", body = InvoiceView),
        TokenErrors,
        (status = 403, description = "Not a seller, or KYC not approved"),
        (status = 404, description = "No such invoice of yours"),
        (status = 409, description = "Not allowed in its current state (named)"),
        (status = 422, description = "Due date too soon"),
    )
)]
#[post("/{id}/submit")]
pub async fn submit(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<InvoiceId>,
) -> Result<HttpResponse, ApiError> {
    seller(&user)?;
    let current = own(&state, &user, *id).await?;
    // The state first: a listed invoice is a 409 whatever its date.
    current
        .status()?
        .apply(Action::Submit)
        .map_err(|e| ApiError::Conflict(e.to_string()))?;
    let today = state.clock.now().date_naive();
    let earliest =
        today + chrono::Days::new(u64::try_from(state.config.min_days_ahead).unwrap_or(0));
    if current.due_date < earliest {
        return Err(ApiError::field(
            "due_date",
            format!(
                "must be at least {} days ahead (on or after {earliest}) to submit",
                state.config.min_days_ahead
            ),
        ));
    }
    let changed =
        invoices::transition(&state, &current, Action::Submit, Actor::user(&user), None).await?;
    super::respond(StatusCode::OK, &changed.invoice)
}

/// Cancel: allowed until an offer is accepted.
#[utoipa::path(
    tag = "lifecycle",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Invoice id")),
    responses(
        (status = 200, description = "Cancelled", body = InvoiceView),
        TokenErrors,
        (status = 403, description = "Not a seller, or KYC not approved"),
        (status = 404, description = "No such invoice of yours"),
        (status = 409, description = "Not allowed in its current state (named)"),
    )
)]
#[post("/{id}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<InvoiceId>,
) -> Result<HttpResponse, ApiError> {
    seller(&user)?;
    let current = own(&state, &user, *id).await?;
    let changed =
        invoices::transition(&state, &current, Action::Cancel, Actor::user(&user), None).await?;
    super::respond(StatusCode::OK, &changed.invoice)
}

/// Verify a submitted invoice at the version you reviewed (`If-Match`): it is listed for
/// investors.
#[utoipa::path(
    tag = "lifecycle",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Invoice id"), ("If-Match" = String, Header, pattern = r#"^("[0-9]{1,18}"|[0-9]{1,18})$"#, description = "The invoice's ETag as you read it, e.g. \"3\": the change applies to that version or not at all (412)")),
    responses(
        (status = 200, description = "Listed", body = InvoiceView),
        TokenErrors,
        VersionErrors,
        (status = 403, description = "Not an admin"),
        (status = 404, description = "No such invoice"),
        (status = 409, description = "Not allowed in its current state (named)"),
    )
)]
#[post("/{id}/verify")]
pub async fn verify(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<InvoiceId>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    RequireRole::admin(&user)?;
    let current = invoices::get(&state.db, *id).await?;
    let seen = if_match.required()?;
    let changed = invoices::decide(
        &state,
        &current,
        Action::Verify,
        Actor::user(&user),
        None,
        seen,
    )
    .await?;
    super::respond(StatusCode::OK, &changed.invoice)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// Shown to the seller.
    #[schema(
        min_length = 3,
        max_length = 1000,
        pattern = r"\S",
        example = "The debtor's tax id does not match."
    )]
    pub reason: String,
}

/// Reject a submitted invoice with a reason, at the version you reviewed (`If-Match`); the
/// seller may edit and resubmit.
#[utoipa::path(
    tag = "lifecycle",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Invoice id"), ("If-Match" = String, Header, pattern = r#"^("[0-9]{1,18}"|[0-9]{1,18})$"#, description = "The invoice's ETag as you read it, e.g. \"3\": the change applies to that version or not at all (412)")),
    request_body = RejectRequest,
    responses(
        (status = 200, description = "Rejected", body = InvoiceView),
        TokenErrors,
        JsonBodyErrors,
        VersionErrors,
        (status = 403, description = "Not an admin"),
        (status = 404, description = "No such invoice"),
        (status = 409, description = "Not allowed in its current state (named)"),
    )
)]
#[post("/{id}/reject")]
pub async fn reject(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<InvoiceId>,
    if_match: IfMatch,
    body: web::Json<RejectRequest>,
) -> Result<HttpResponse, ApiError> {
    RequireRole::admin(&user)?;
    let reason = ApiError::text_between("reason", &body.reason, 3, 1000)?;
    let current = invoices::get(&state.db, *id).await?;
    let seen = if_match.required()?;
    let changed = invoices::decide(
        &state,
        &current,
        Action::Reject,
        Actor::user(&user),
        Some(reason),
        seen,
    )
    .await?;
    super::respond(StatusCode::OK, &changed.invoice)
}
