//! `/api/marketplace` routes.

mod decisions;
mod listings;
mod market;
mod offers;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use service_kit::http::{ApiError, BearerSecurity};
use utoipa::OpenApi;
use utoipa_actix_web::scope::Scope;

use crate::domain::MarketError;
use crate::state::AppState;
use crate::store::entity::offer;
use crate::store::offers::Changed;

/// The one mapping of the domain's errors to problems.
impl From<MarketError> for ApiError {
    fn from(e: MarketError) -> Self {
        match e {
            MarketError::NotFound(_) | MarketError::NoSuchListing(_) => {
                ApiError::NotFound(e.to_string())
            }
            MarketError::NoListing => ApiError::field("invoice_id", e.to_string()),
            MarketError::Refused(why) => ApiError::Conflict(why),
            MarketError::Stale { seen, current } => {
                service_kit::http::version::stale_view("offer", seen, current.version, &*current)
            }
            MarketError::Store(e) => ApiError::Internal(e),
        }
    }
}

/// `status` with `o` as JSON and its `ETag`.
fn respond(status: StatusCode, o: &offer::Model) -> Result<HttpResponse, ApiError> {
    let view = crate::store::offers::view(o)?;
    Ok(service_kit::http::version::respond(
        status, o.version, &view,
    ))
}

/// A committed change: its after-commit effects, then `status` with the offer.
async fn committed(
    state: &AppState,
    status: StatusCode,
    changed: Changed,
) -> Result<HttpResponse, ApiError> {
    crate::outbound::after(state, std::slice::from_ref(&changed)).await;
    respond(status, &changed.offer)
}

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
