use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::Duration;
use common::ids::UserId;
use serde::Deserialize;
use service_kit::http::{ApiError, JsonBodyErrors};
use utoipa::ToSchema;

use crate::domain::{AuthError, Email, RefreshRefusal, totp, verify_password};
use crate::state::AppState;
use crate::store::entity::user;
use crate::store::sessions::{self, TokenPair};
use crate::store::users;

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(example = "ada@example.com")]
    pub email: String,
    #[schema(example = "correct horse 42")]
    pub password: String,
    /// The code your authenticator app shows, once a second factor is on (admins who
    /// turned it on with `POST /api/auth/totp/setup` and `/confirm`).
    #[schema(pattern = "^[0-9]{6}$", example = "123456")]
    #[serde(default)]
    pub totp_code: Option<String>,
}

/// A hash of a random password nobody has, verified when the email is unknown so that
/// the answer takes as long as for a wrong password.
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| {
            crate::domain::hash_password(&uuid::Uuid::new_v4().to_string()).unwrap_or_default()
        })
        .clone()
}

/// Log in with email and password.
///
/// Failed attempts are limited per (client IP, email): past the limit the answer is 429
/// with `Retry-After`, even for the right password.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenPair),
        (status = 401, description = "Invalid email or password; or the account has a second factor and `totp_code` is missing, wrong or used (`errors` names `totp_code`)"),
        (status = 403, description = "Account suspended"),
        JsonBodyErrors,
        (status = 429, description = "Too many failed logins",
         headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
#[post("/login")]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    if body
        .totp_code
        .as_deref()
        .is_some_and(|c| !totp::well_formed(c))
    {
        return Err(ApiError::field("totp_code", totp::CODE_FORM));
    }
    let ip = state.client_key(&req);
    let email_key = body.email.trim().to_lowercase();
    let subject = format!("{ip}|{}", sessions::hash_token(&email_key));
    let quota = state.config.login_failures;
    let standing = state.limiter.peek("auth-login", &subject, quota).await?;
    if !standing.allowed {
        return Err(too_many(standing.retry_after.as_secs()));
    }
    let found = match Email::parse(&body.email) {
        Ok(email) => users::by_email(&state.db, email.as_str()).await?,
        Err(_) => None,
    };
    let known_hash = found.as_ref().map(|u| u.password_hash.clone());
    let password = body.password;
    let ok = web::block(move || verify_password(&password, &known_hash.unwrap_or_else(dummy_hash)))
        .await
        .map_err(ApiError::internal)?
        && found.is_some();
    let Some(user) = found.filter(|_| ok) else {
        let after = state.limiter.check("auth-login", &subject, quota).await?;
        if !after.allowed {
            return Err(too_many(after.retry_after.as_secs()));
        }
        return Err(AuthError::BadCredentials.into());
    };
    if user.status != user::ACTIVE {
        return Err(AuthError::Suspended.into());
    }
    let now = state.clock.now();
    if let Some(factor) = crate::store::totp::confirmed(&state.db, user.id).await? {
        let Some(code) = body.totp_code else {
            return Err(ApiError::unauthorized_field(
                "totp_code",
                "required: this account signs in with a code from its authenticator app",
            ));
        };
        let secret = crate::store::totp::secret_of(&state.totp_cipher, &factor)?;
        let accepted = match totp::verify(&secret, &code, now.timestamp(), factor.last_used_step) {
            Some(step) => crate::store::totp::use_step(&state.db, user.id, step).await?,
            None => false,
        };
        if !accepted {
            // A wrong code counts as a failed login (the same limit as passwords).
            let after = state.limiter.check("auth-login", &subject, quota).await?;
            if !after.allowed {
                return Err(too_many(after.retry_after.as_secs()));
            }
            return Err(ApiError::unauthorized_field(
                "totp_code",
                "wrong, or used already: wait for the next code",
            ));
        }
    }
    state.limiter.reset("auth-login", &subject).await?;
    let signer = state.keystore.signer_now();
    let family = common::new_id_at(now);
    let prepared = sessions::prepare(
        &signer,
        &user,
        family,
        Duration::days(state.config.refresh_ttl_days),
        now,
    )?;
    let txn = service_kit::db::begin_write(&state.db).await?;
    let pair = prepared.store(&txn).await?;
    txn.commit().await?;
    tracing::info!(user_id = %user.id, "User logged in.");
    Ok(HttpResponse::Ok().json(pair))
}

fn too_many(retry_after_secs: u64) -> ApiError {
    ApiError::TooManyRequests {
        detail: format!(
            "too many failed logins; try again in {} seconds",
            retry_after_secs.max(1)
        ),
        retry_after_secs: retry_after_secs.max(1),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Exchange a refresh token for new tokens. Each refresh token works once; presenting a
/// used one revokes the whole session.
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokenPair),
        (status = 401, description = "Unknown, expired, revoked or reused refresh token"),
        (status = 403, description = "Account suspended"),
        JsonBodyErrors,
    )
)]
#[post("/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let refused = |refusal: RefreshRefusal| ApiError::from(AuthError::Refresh(refusal));
    // Reads and signing first; the write transaction only uses the old token and stores
    // the new one.
    let row = sessions::find_refresh_token(&state.db, body.refresh_token.trim())
        .await?
        .ok_or_else(|| refused(RefreshRefusal::Unknown))?;
    sessions::check_usable(&row, now).map_err(refused)?;
    let user = users::by_id(&state.db, UserId(row.user_id))
        .await?
        .ok_or_else(|| refused(RefreshRefusal::Unknown))?;
    if user.status != user::ACTIVE {
        return Err(AuthError::Suspended.into());
    }
    let signer = state.keystore.signer_now();
    let prepared = sessions::prepare(
        &signer,
        &user,
        row.family_id,
        Duration::days(state.config.refresh_ttl_days),
        now,
    )?;
    let txn = service_kit::db::begin_write(&state.db).await?;
    if let Err(refusal) = sessions::use_refresh_token(&txn, &row, now).await? {
        // A reuse revoked the family: keep that.
        txn.commit().await?;
        return Err(refused(refusal));
    }
    let pair = prepared.store(&txn).await?;
    txn.commit().await?;
    Ok(HttpResponse::Ok().json(pair))
}
