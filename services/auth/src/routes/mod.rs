//! `/api/auth` routes.

mod account;
mod admin;
mod jwks;
mod login;
mod ratelimit;
mod register;
mod totp;

use service_kit::http::{ApiError, BearerSecurity};
use utoipa::OpenApi;
use utoipa_actix_web::scope::Scope;

pub use ratelimit::per_ip_limit;

use crate::domain::AuthError;

/// The one mapping of the domain's errors to problems.
impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::EmailTaken | AuthError::AdminImmune | AuthError::NotInStatus(_) => {
                ApiError::Conflict(e.to_string())
            }
            AuthError::BadCredentials | AuthError::Refresh(_) => {
                ApiError::Unauthorized(e.to_string())
            }
            AuthError::Suspended => ApiError::Forbidden(e.to_string()),
            AuthError::AccountGone | AuthError::NoSuchUser(_) => ApiError::NotFound(e.to_string()),
            AuthError::Store(e) => ApiError::Internal(e),
        }
    }
}

/// The document's frame: title, tags, security scheme and shared schemas. Paths are
/// collected from the handlers registered in [`scope`].
#[derive(OpenApi)]
#[openapi(
    info(title = "Vestio auth", version = "1", description = "Accounts, tokens and signing keys."),
    modifiers(&BearerSecurity),
    tags((name = "auth", description = "Registration, login and sessions"),
         (name = "admin", description = "Operator actions"),
         (name = "health", description = "Probes"))
)]
pub struct ApiDoc;

/// The service's routes, mounted at `/api/auth` (limited per client address).
pub fn mount() -> impl actix_web::dev::HttpServiceFactory + utoipa_actix_web::OpenApiFactory {
    scope(utoipa_actix_web::scope("/api/auth"))
        .map(|s| s.wrap(actix_web::middleware::from_fn(per_ip_limit)))
}

/// Every `/api/auth` route.
pub fn scope<T: service_kit::http::Mount>(scope: Scope<T>) -> Scope<T> {
    scope
        .service(register::register)
        .service(login::login)
        .service(login::refresh)
        .service(account::logout)
        .service(account::me)
        .service(totp::status)
        .service(totp::setup)
        .service(totp::confirm)
        .service(admin::suspend)
        .service(admin::reactivate)
        .service(jwks::jwks)
}
