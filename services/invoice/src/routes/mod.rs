//! `/api/invoices` routes.

mod invoices;
mod lifecycle;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use service_kit::http::{ApiError, BearerSecurity};
use utoipa::OpenApi;
use utoipa_actix_web::scope::Scope;

use crate::domain::InvoiceError;
use crate::store::entity::invoice;

/// The one mapping of the domain's errors to problems.
impl From<InvoiceError> for ApiError {
    fn from(e: InvoiceError) -> Self {
        match e {
            InvoiceError::NotFound(_) => ApiError::NotFound(e.to_string()),
            InvoiceError::DuplicateNumber(_)
            | InvoiceError::NotEditable(_)
            | InvoiceError::NotAllowed(_) => ApiError::Conflict(e.to_string()),
            InvoiceError::Stale { seen, current } => {
                service_kit::http::version::stale_view("invoice", seen, current.version, &*current)
            }
            InvoiceError::Store(e) => ApiError::Internal(e),
        }
    }
}

/// `status` with `m` as JSON and its `ETag`.
fn respond(status: StatusCode, m: &invoice::Model) -> Result<HttpResponse, ApiError> {
    Ok(service_kit::http::version::respond(
        status,
        m.version,
        &m.view()?,
    ))
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Vestio invoices", version = "1", description = "Invoices from draft to settlement, and their search."),
    modifiers(&BearerSecurity),
    tags((name = "invoices", description = "Create, edit, read and search"),
         (name = "lifecycle", description = "Status changes people make"),
         (name = "health", description = "Probes"))
)]
pub struct ApiDoc;

/// The service's routes, mounted at `/api/invoices`.
pub fn mount() -> impl actix_web::dev::HttpServiceFactory + utoipa_actix_web::OpenApiFactory {
    scope(utoipa_actix_web::scope("/api/invoices"))
}

/// Every `/api/invoices` route.
pub fn scope<T: service_kit::http::Mount>(scope: Scope<T>) -> Scope<T> {
    scope
        .service(invoices::create)
        .service(invoices::search_invoices)
        // Before `/{id}`: "popular" is not an id.
        .service(invoices::popular)
        .service(invoices::show)
        .service(invoices::update)
        .service(invoices::history_of)
        .service(lifecycle::submit)
        .service(lifecycle::cancel)
        .service(lifecycle::verify)
        .service(lifecycle::reject)
}
