//! User search and the review queue, for admins.

use actix_web::{HttpResponse, get, web};
use service_kit::auth::{AuthUser, RequireRole};
use service_kit::http::{ApiError, TokenErrors};

use crate::domain::stats::UserParams;
use crate::state::AppState;
use crate::store::queries::{self, Reviews, UserPage};

/// Users by email or name, role, KYC and account status, from admin's read model, newest
/// first in keyset pages. Suspending a user stays auth's route
/// (`POST /api/auth/users/{id}/suspend`).
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(UserParams),
    responses(
        (status = 200, description = "One page, newest first", body = UserPage),
        TokenErrors,
        (status = 403, description = "Not an admin"),
        (status = 422, description = "Unknown parameter or bad value (named in `errors`)"),
    )
)]
#[get("/users")]
pub async fn search(
    state: web::Data<AppState>,
    user: AuthUser,
    params: web::Query<UserParams>,
) -> Result<HttpResponse, ApiError> {
    RequireRole::admin(&user)?;
    let q = params.parse().map_err(ApiError::fields)?;
    Ok(HttpResponse::Ok().json(queries::users(&state.db, &q).await?))
}

/// What waits for an admin, oldest first: KYC submissions in review and submitted
/// invoices, each with the owning service's routes that decide it (the decisions stay
/// in kyc and invoice). Follows their events as they are consumed.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The queue, oldest first", body = Reviews),
        TokenErrors,
        (status = 403, description = "Not an admin"),
    )
)]
#[get("/reviews")]
pub async fn reviews(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    RequireRole::admin(&user)?;
    Ok(HttpResponse::Ok().json(queries::reviews(&state.db, state.clock.now(), 200).await?))
}
