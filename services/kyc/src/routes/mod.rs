//! `/api/kyc` routes.

mod documents;
mod review;
mod status;

use service_kit::http::BearerSecurity;
use utoipa::OpenApi;
use utoipa_actix_web::scope::Scope;

#[derive(OpenApi)]
#[openapi(
    info(title = "Vestio KYC", version = "1", description = "KYC documents, their checks, submissions and admin review."),
    modifiers(&BearerSecurity),
    tags((name = "documents", description = "The caller's documents"),
         (name = "status", description = "The caller's KYC status and submission"),
         (name = "review", description = "Admin review"),
         (name = "health", description = "Probes"))
)]
pub struct ApiDoc;

/// The service's routes, mounted at `/api/kyc`.
pub fn mount() -> impl actix_web::dev::HttpServiceFactory + utoipa_actix_web::OpenApiFactory {
    scope(utoipa_actix_web::scope("/api/kyc"))
}

/// Every `/api/kyc` route.
pub fn scope<T: service_kit::http::Mount>(scope: Scope<T>) -> Scope<T> {
    scope
        .service(documents::upload)
        .service(documents::list)
        .service(documents::show)
        .service(status::status)
        .service(status::submit)
        .service(review::list)
        .service(review::detail)
        .service(review::download_file)
        .service(review::approve)
        .service(review::reject)
}
