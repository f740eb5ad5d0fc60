//! `/api/kyc` routes.

mod documents;
mod review;
mod status;

use service_kit::http::{ApiError, BearerSecurity};
use utoipa::OpenApi;
use utoipa_actix_web::scope::Scope;

use crate::domain::KycError;

/// The one mapping of the domain's errors to problems.
impl From<KycError> for ApiError {
    fn from(e: KycError) -> Self {
        match e {
            KycError::AlreadyApproved
            | KycError::DocumentsLocked
            | KycError::AlreadySubmitted
            | KycError::MissingDocuments(_)
            | KycError::ChangedWhileSubmitting
            | KycError::AlreadyDecided { .. } => ApiError::Conflict(e.to_string()),
            KycError::NoDocument(_)
            | KycError::NoSubmission(_)
            | KycError::NotPartOf { .. }
            | KycError::FileGone(_) => ApiError::NotFound(e.to_string()),
            KycError::Stale {
                seen,
                version,
                current,
            } => service_kit::http::version::stale("submission", seen, version, *current),
            KycError::Store(e) => ApiError::Internal(e),
        }
    }
}

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
