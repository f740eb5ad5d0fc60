//! `/api/admin` routes.

mod audit;
pub mod console;
mod dashboard;
mod users;

use service_kit::http::{ApiError, BearerSecurity};
use utoipa::OpenApi;
use utoipa_actix_web::scope::Scope;

use crate::domain::AdminError;

/// The one mapping of the domain's errors to problems.
impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::HeadMoved | AdminError::CopyUnreadable(_) => {
                ApiError::Unavailable(e.to_string())
            }
            AdminError::Store(e) => ApiError::Internal(e),
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Vestio admin", version = "1", description = "The operators' side: a tamper-evident audit log of every event of the platform and its search, the dashboard, series and user statistics, user search and the review queue."),
    modifiers(&BearerSecurity),
    tags((name = "audit", description = "Every event of the platform, once, chained (admins)"),
         (name = "dashboard", description = "The platform at a glance, series and user statistics (admins)"),
         (name = "users", description = "User search and what waits for a review (admins)"),
         (name = "health", description = "Probes"))
)]
pub struct ApiDoc;

/// The service's routes, mounted at `/api/admin`, and the console's pages at `/admin/`.
pub fn mount() -> impl actix_web::dev::HttpServiceFactory + utoipa_actix_web::OpenApiFactory {
    service_kit::http::WithPages(
        scope(utoipa_actix_web::scope("/api/admin")),
        console::pages(),
    )
}

/// Every `/api/admin` route.
pub fn scope<T: service_kit::http::Mount>(scope: Scope<T>) -> Scope<T> {
    scope
        .service(audit::search)
        .service(audit::verify)
        .service(dashboard::dashboard)
        .service(dashboard::metrics)
        .service(dashboard::user_stats)
        .service(users::search)
        .service(users::reviews)
}
