//! `/api/payments` routes.

mod accounts;
mod fundings;
mod ledger;
mod payments;
mod webhooks;

use service_kit::http::{ApiError, BearerSecurity};
use utoipa::OpenApi;
use utoipa_actix_web::scope::Scope;

use crate::domain::PaymentsError;

/// The one mapping of the domain's errors to problems.
impl From<PaymentsError> for ApiError {
    fn from(e: PaymentsError) -> Self {
        match e {
            PaymentsError::NoFinancing(_) | PaymentsError::NoPayment(_) => {
                ApiError::NotFound(e.to_string())
            }
            PaymentsError::NotAwaitingFunding(_)
            | PaymentsError::WindowClosed(_)
            | PaymentsError::NotFunded
            | PaymentsError::NothingOutstanding
            | PaymentsError::IdempotencyMismatch(_) => ApiError::Conflict(e.to_string()),
            PaymentsError::AccountNotResolved(_) => {
                ApiError::field("account_number", e.to_string())
            }
            PaymentsError::Provider(_) => ApiError::Unavailable(e.to_string()),
            PaymentsError::Ledger(e) => ApiError::Internal(e.into()),
            PaymentsError::Store(e) => ApiError::Internal(e),
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Vestio payments", version = "1", description = "Funding, payouts, repayments and settlements through the payment provider, and the ledger that records them."),
    modifiers(&BearerSecurity),
    tags((name = "fundings", description = "What investors owe and pay"),
         (name = "payments", description = "Single payments"),
         (name = "accounts", description = "Where your money is sent"),
         (name = "webhooks", description = "The provider's signed notifications"),
         (name = "ledger", description = "The double-entry ledger (admins)"),
         (name = "health", description = "Probes"))
)]
pub struct ApiDoc;

/// The service's routes, mounted at `/api/payments`.
pub fn mount() -> impl actix_web::dev::HttpServiceFactory + utoipa_actix_web::OpenApiFactory {
    scope(utoipa_actix_web::scope("/api/payments"))
}

/// Every `/api/payments` route.
pub fn scope<T: service_kit::http::Mount>(scope: Scope<T>) -> Scope<T> {
    scope
        .service(fundings::list)
        .service(fundings::show)
        .service(fundings::checkout)
        .service(fundings::repayment)
        .service(payments::show)
        .service(accounts::set)
        .service(accounts::show)
        .service(webhooks::receive)
        .service(ledger::trial_balance)
        .service(ledger::reconciliation)
        .service(ledger::accounts)
        .service(ledger::entries)
}
