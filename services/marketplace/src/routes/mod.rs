//! `/api/marketplace` routes.

mod decisions;
mod listings;
mod market;
mod offers;

use common::http::BearerSecurity;
use utoipa::OpenApi;
use utoipa_actix_web::scope::Scope;

#[derive(OpenApi)]
#[openapi(
    info(title = "Vestio marketplace", version = "1", description = "Listings, offers and their acceptance, trending and market stats."),
    modifiers(&BearerSecurity),
    tags((name = "listings", description = "Listed invoices with their offer summary"),
         (name = "offers", description = "Make, revise, withdraw, reject and accept offers"),
         (name = "market", description = "Trending invoices and market stats"),
         (name = "health", description = "Probes"))
)]
pub struct ApiDoc;

/// The service's routes, mounted at `/api/marketplace`.
pub fn mount() -> impl actix_web::dev::HttpServiceFactory + utoipa_actix_web::OpenApiFactory {
    scope(utoipa_actix_web::scope("/api/marketplace"))
}

/// Every `/api/marketplace` route.
pub fn scope<T: service_kit::http::Mount>(scope: Scope<T>) -> Scope<T> {
    scope
        .service(listings::show)
        .service(market::market_stats)
        .service(market::trending)
        .service(offers::create)
        .service(offers::list)
        .service(offers::show)
        .service(offers::revise)
        .service(decisions::withdraw)
        .service(decisions::reject)
        .service(decisions::accept)
}
