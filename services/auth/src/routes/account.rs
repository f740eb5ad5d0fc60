use actix_web::{HttpResponse, get, post, web};
use common::ids::UserId;
use fred::prelude::KeysInterface;
use service_kit::auth::AuthUser;
use service_kit::http::{ApiError, TokenErrors};

use crate::domain::AuthError;
use crate::state::AppState;
use crate::store::sessions;
use crate::store::users::{self, UserView};

/// Log out: the access token is refused by every service from now on, and its session's
/// refresh tokens are revoked.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out"),
        TokenErrors,
    )
)]
#[post("/logout")]
pub async fn logout(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let remaining = (user.claims.exp - now.timestamp()).max(1) + 60;
    let key = state.keys.blacklisted(&user.claims.jti.to_string());
    let _: () = state
        .redis
        .set(
            key,
            1,
            Some(fred::types::Expiration::EX(remaining)),
            None,
            false,
        )
        .await?;
    sessions::revoke_family(&state.db, user.claims.sid, now).await?;
    tracing::info!(user_id = %user.id, "User logged out.");
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's account.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = UserView),
        TokenErrors,
        (status = 404, description = "Account deleted"),
    )
)]
#[get("/me")]
pub async fn me(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let found = users::by_id(&state.db, UserId(user.id))
        .await?
        .ok_or(AuthError::AccountGone)?;
    Ok(HttpResponse::Ok().json(UserView::try_from(&found)?))
}
