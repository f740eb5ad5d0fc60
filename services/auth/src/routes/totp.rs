//! An admin's second factor (TOTP, RFC 6238): its state, set-up and confirmation. Once
//! confirmed, `POST /api/auth/login` asks for `totp_code` as well.

use actix_web::{HttpResponse, get, post, web};
use common::ids::UserId;
use serde::{Deserialize, Serialize};
use service_kit::auth::{AuthUser, RequireRole};
use service_kit::http::{ApiError, JsonBodyErrors, TokenErrors};
use utoipa::ToSchema;

use crate::domain::{AuthError, totp};
use crate::state::AppState;
use crate::store::{self, users};

/// The issuer an authenticator app shows beside the account.
const ISSUER: &str = "Vestio";

#[derive(Debug, Serialize, ToSchema)]
pub struct TotpState {
    /// A confirmed second factor: sign-in asks for a code.
    pub enabled: bool,
    /// Set up and waiting for its first code.
    pub pending: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TotpSetup {
    /// The secret, base32 (RFC 4648, no padding), for typing into an app.
    #[schema(
        example = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
        pattern = "^[A-Z2-7]{32}$"
    )]
    pub secret: String,
    /// The same as an `otpauth://` URI (for a QR code or a phone's link).
    pub otpauth_uri: String,
    /// Digits of a code.
    #[schema(example = 6)]
    pub digits: u32,
    /// Seconds a code lasts.
    #[schema(example = 30)]
    pub period: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpCode {
    /// The 6-digit code the app shows now.
    #[schema(pattern = "^[0-9]{6}$", example = "123456")]
    pub code: String,
}

/// Your second factor: on, waiting for its first code, or neither. Admins only.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The state", body = TotpState),
        TokenErrors,
        (status = 403, description = "Not an admin"),
    )
)]
#[get("/totp")]
pub async fn status(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    RequireRole::admin(&user)?;
    let found = store::totp::find(&state.db, user.id).await?;
    Ok(HttpResponse::Ok().json(TotpState {
        enabled: found.as_ref().is_some_and(|f| f.confirmed_at.is_some()),
        pending: found.as_ref().is_some_and(|f| f.confirmed_at.is_none()),
    }))
}

/// Set up a second factor: a new secret for your authenticator app (replacing one not
/// yet confirmed). It is on once `POST /api/auth/totp/confirm` takes a code of it.
/// Admins only.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The secret to add to an authenticator app", body = TotpSetup),
        TokenErrors,
        (status = 403, description = "Not an admin"),
        (status = 404, description = "Account deleted"),
        (status = 409, description = "A second factor is on already"),
    )
)]
#[post("/totp/setup")]
pub async fn setup(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    RequireRole::admin(&user)?;
    let account = users::by_id(&state.db, UserId(user.id))
        .await?
        .ok_or(AuthError::AccountGone)?;
    let secret = totp::new_secret();
    let encoded = totp::base32(&secret);
    let txn = service_kit::db::begin_write(&state.db).await?;
    let started = store::totp::set_pending(
        &txn,
        &state.totp_cipher,
        user.id,
        &encoded,
        state.clock.now(),
    )
    .await?;
    if !started {
        return Err(ApiError::Conflict(
            "a second factor is on already; an operator removes it with `auth reset-totp`".into(),
        ));
    }
    txn.commit().await?;
    tracing::info!(user_id = %user.id, "Second factor set up (pending).");
    Ok(HttpResponse::Created().json(TotpSetup {
        secret: encoded,
        otpauth_uri: totp::otpauth_uri(ISSUER, &account.email, &secret),
        digits: totp::DIGITS,
        period: totp::PERIOD_SECS,
    }))
}

/// Turn the second factor on with a code the app shows for the secret just set up.
/// Admins only.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    request_body = TotpCode,
    responses(
        (status = 200, description = "On: sign-in asks for a code from now on", body = TotpState),
        TokenErrors,
        (status = 403, description = "Not an admin"),
        (status = 409, description = "Nothing set up, or on already"),
        JsonBodyErrors,
    )
)]
#[post("/totp/confirm")]
pub async fn confirm(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<TotpCode>,
) -> Result<HttpResponse, ApiError> {
    RequireRole::admin(&user)?;
    if !totp::well_formed(&body.code) {
        return Err(ApiError::field("code", totp::CODE_FORM));
    }
    let pending = store::totp::find(&state.db, user.id)
        .await?
        .filter(|f| f.confirmed_at.is_none())
        .ok_or_else(|| {
            ApiError::Conflict(
                "nothing to confirm: set up first (POST /api/auth/totp/setup), or it is on".into(),
            )
        })?;
    let secret = store::totp::secret_of(&state.totp_cipher, &pending)?;
    let now = state.clock.now();
    let step = totp::verify(&secret, &body.code, now.timestamp(), None).ok_or_else(|| {
        ApiError::field(
            "code",
            "does not match the secret; check the device's clock",
        )
    })?;
    if !store::totp::confirm(&state.db, user.id, step, now).await? {
        return Err(ApiError::Conflict(
            "the set-up changed meanwhile; set up again".into(),
        ));
    }
    tracing::info!(user_id = %user.id, "Second factor on.");
    Ok(HttpResponse::Ok().json(TotpState {
        enabled: true,
        pending: false,
    }))
}
