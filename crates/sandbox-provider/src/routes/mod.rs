//! The HTTP surface: server-to-server routes ([`transactions`], [`transfers`]) behind the
//! secret key, the browser's [`checkout`], and the unauthenticated [`control`] routes.

mod checkout;
mod control;
mod transactions;
mod transfers;

use actix_web::{HttpResponse, ResponseError, web};

use crate::error::{ApiError, bad_request};

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .content_type_required(false)
            .error_handler(|e, _| bad_request(e)),
    )
    .app_data(web::QueryConfig::default().error_handler(|e, _| bad_request(e)))
    .app_data(web::FormConfig::default().error_handler(|e, _| bad_request(e)))
    .app_data(web::PathConfig::default().error_handler(|e, _| bad_request(e)))
    .route("/healthz", web::get().to(healthz))
    .configure(transactions::routes)
    .configure(transfers::routes)
    .configure(checkout::routes)
    .configure(control::routes);
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// Any other path.
pub(crate) async fn not_found() -> HttpResponse {
    ApiError::NotFound("no such route".to_owned()).error_response()
}

/// A value that does not pass its parser: 422 with the reason.
fn invalid<T>(r: Result<T, String>) -> Result<T, ApiError> {
    r.map_err(ApiError::Invalid)
}
