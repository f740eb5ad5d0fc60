//! `/_control/*`: no authentication, for tests, the demo and chaos. Faults on webhook
//! delivery, forced outcomes for transactions and transfers, counters.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::app::App;
use crate::error::{ApiError, ok};
use crate::state::{Faults, TransferStatus};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/_control")
            .route("/faults", web::get().to(faults))
            .route("/faults", web::post().to(set_faults))
            .route("/flush", web::post().to(flush))
            .route("/transactions/{reference}/reverse", web::post().to(reverse))
            .route("/transactions/{reference}/abandon", web::post().to(abandon))
            .route("/transfers/{reference}/complete", web::post().to(complete))
            .route("/transfers/{reference}", web::get().to(transfer))
            .route("/stats", web::get().to(stats))
            .route("/deliveries", web::get().to(deliveries)),
    );
}

async fn faults(app: web::Data<App>) -> HttpResponse {
    ok("Faults", app.faults())
}

async fn set_faults(app: web::Data<App>, body: web::Json<Faults>) -> HttpResponse {
    let faults = body.into_inner();
    tracing::info!(?faults, "Faults set.");
    app.set_faults(faults.clone());
    ok("Faults set", faults)
}

async fn flush(app: web::Data<App>) -> HttpResponse {
    app.flush();
    ok("Held deliveries released", serde_json::Value::Null)
}

async fn reverse(
    app: web::Data<App>,
    reference: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let view = app.update(|s, now| s.reverse(&reference, now))?;
    Ok(ok("Transaction reversed", view))
}

async fn abandon(
    app: web::Data<App>,
    reference: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let view = app.update(|s, now| s.abandon(&reference, now))?;
    Ok(ok("Transaction abandoned", view))
}

#[derive(Deserialize)]
struct Complete {
    status: TransferStatus,
}

async fn complete(
    app: web::Data<App>,
    reference: web::Path<String>,
    body: web::Json<Complete>,
) -> Result<HttpResponse, ApiError> {
    let to = body.status;
    if to == TransferStatus::Pending {
        return Err(ApiError::Invalid(
            "status must be success, failed or reversed".into(),
        ));
    }
    let view = app.update(|s, now| s.settle_transfer(&reference, to, now))?;
    Ok(ok("Transfer completed", view))
}

async fn transfer(
    app: web::Data<App>,
    reference: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let attempts = app
        .read(|s| s.transfer_attempts(&reference))
        .ok_or_else(|| {
            ApiError::NotFound(format!("no transfer call with reference {reference}"))
        })?;
    Ok(ok("Transfer attempts", attempts))
}

async fn stats(app: web::Data<App>) -> HttpResponse {
    ok("Stats", app.read(|s| s.stats()))
}

async fn deliveries(app: web::Data<App>) -> HttpResponse {
    ok("Deliveries", app.read(|s| s.deliveries()))
}
