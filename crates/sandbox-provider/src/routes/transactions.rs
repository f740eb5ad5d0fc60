//! Money in: `POST /transaction/initialize`, `GET /transaction/verify/{reference}`,
//! `POST /refund`.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::invalid;
use crate::app::App;
use crate::auth::SecretKey;
use crate::domain::{Currency, Reference, amount};
use crate::error::{ApiError, ok};
use crate::state::NewTransaction;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/transaction/initialize", web::post().to(initialize))
        .route("/transaction/verify/{reference}", web::get().to(verify))
        .route("/refund", web::post().to(refund));
}

#[derive(Deserialize)]
struct Initialize {
    reference: String,
    amount: i64,
    currency: String,
    email: Option<String>,
    #[serde(default)]
    metadata: Value,
    /// Where the result page links back to (`?reference=...&trxref=...` appended).
    callback_url: Option<String>,
}

async fn initialize(
    _: SecretKey,
    app: web::Data<App>,
    body: web::Json<Initialize>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    if let Some(url) = &b.callback_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(ApiError::Invalid(
            "callback_url must be an http(s) URL".into(),
        ));
    }
    let new = NewTransaction {
        reference: invalid(Reference::parse(&b.reference))?,
        amount: invalid(amount(b.amount))?,
        currency: invalid(Currency::parse(&b.currency))?,
        email: b.email,
        metadata: b.metadata,
        callback_url: b.callback_url,
    };
    let reference = new.reference.to_string();
    let access_code = app.update(|s, _| s.initialize(new))?;
    let data = json!({
        "authorization_url": format!("{}/checkout/{reference}", app.config.public_url),
        "access_code": access_code,
        "reference": reference,
    });
    Ok(ok("Authorization URL created", data))
}

async fn verify(
    _: SecretKey,
    app: web::Data<App>,
    reference: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let view = app.read(|s| s.transaction(&reference))?;
    Ok(ok("Verification successful", view))
}

#[derive(Deserialize)]
struct Refund {
    /// The transaction's reference.
    transaction: String,
    amount: Option<i64>,
}

async fn refund(
    _: SecretKey,
    app: web::Data<App>,
    body: web::Json<Refund>,
) -> Result<HttpResponse, ApiError> {
    let amount = body
        .amount
        .map(amount)
        .transpose()
        .map_err(ApiError::Invalid)?;
    let refund = app.update(|s, now| s.refund(&body.transaction, amount, now))?;
    Ok(ok("Refund has been processed", refund))
}
