//! `/api/invoices` routes.

mod invoices;
mod lifecycle;

use common::http::BearerSecurity;
use utoipa::OpenApi;
use utoipa_actix_web::scope::Scope;

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
