//! The browser's side of a transaction, without authentication: `GET /checkout/{reference}`
//! (the page), `POST /checkout/{reference}/pay` and `/decline`. A form post (from the page)
//! gets an HTML result page; anything else (JSON or an empty body) gets JSON.

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use serde::Deserialize;

use crate::app::App;
use crate::domain::amount;
use crate::error::{ApiError, ok};
use crate::html;
use crate::state::TransactionView;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/checkout/{reference}", web::get().to(page))
        .route("/checkout/{reference}/pay", web::post().to(pay))
        .route("/checkout/{reference}/decline", web::post().to(decline));
}

async fn page(app: web::Data<App>, reference: web::Path<String>) -> HttpResponse {
    match app.read(|s| s.checkout(&reference)) {
        Some(c) => html_response(StatusCode::OK, html::checkout(&c, &app.config.public_url)),
        None => {
            let body = html::result("Not found", "No such payment.", None, &reference);
            html_response(StatusCode::NOT_FOUND, body)
        }
    }
}

/// The page's form: `amount` may be empty (the requested amount).
#[derive(Deserialize)]
struct PayForm {
    amount: Option<String>,
}

/// A test's or the demo's JSON body.
#[derive(Deserialize, Default)]
struct PayJson {
    amount: Option<i64>,
}

async fn pay(
    req: HttpRequest,
    app: web::Data<App>,
    reference: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let mut payload = payload.into_inner();
    let form = is_form(&req);
    let amount = if form {
        form_amount(&req, &mut payload).await
    } else {
        json_amount(&req, &mut payload).await
    };
    let result = amount.and_then(|a| app.update(|s, now| s.pay(&reference, a, now)));
    if form {
        return result_page(&app, &reference, result, "Payment successful", |v| {
            format!(
                "Paid {} minor units of {}. The merchant hears of it by webhook.",
                v.amount, v.currency
            )
        });
    }
    json_result("Payment successful", result)
}

/// The form's `amount`: empty means the requested amount.
async fn form_amount(req: &HttpRequest, payload: &mut Payload) -> Result<Option<u64>, ApiError> {
    let form = web::Form::<PayForm>::from_request(req, payload)
        .await
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let Some(raw) = form.into_inner().amount.filter(|a| !a.trim().is_empty()) else {
        return Ok(None);
    };
    let whole = raw
        .trim()
        .parse::<i64>()
        .map_err(|_| ApiError::Invalid(format!("amount must be a whole number, not {raw:?}")))?;
    amount(whole).map(Some).map_err(ApiError::Invalid)
}

/// A JSON body's `amount`; an empty body is `{}`.
async fn json_amount(req: &HttpRequest, payload: &mut Payload) -> Result<Option<u64>, ApiError> {
    let bytes = web::Bytes::from_request(req, payload)
        .await
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let body: PayJson = if bytes.trim_ascii().is_empty() {
        PayJson::default()
    } else {
        serde_json::from_slice(&bytes).map_err(|e| ApiError::BadRequest(e.to_string()))?
    };
    body.amount
        .map(amount)
        .transpose()
        .map_err(ApiError::Invalid)
}

async fn decline(
    req: HttpRequest,
    app: web::Data<App>,
    reference: web::Path<String>,
) -> HttpResponse {
    let result = app.update(|s, now| s.decline(&reference, now));
    if is_form(&req) {
        let message = |_: &TransactionView| "Nothing was paid.".to_owned();
        return result_page(&app, &reference, result, "Payment declined", message);
    }
    json_result("Payment declined", result)
}

fn json_result(message: &str, result: Result<TransactionView, ApiError>) -> HttpResponse {
    match result {
        Ok(v) => ok(message, v),
        Err(e) => e.error_response(),
    }
}

fn is_form(req: &HttpRequest) -> bool {
    req.content_type() == "application/x-www-form-urlencoded"
}

fn result_page(
    app: &App,
    reference: &str,
    result: Result<TransactionView, ApiError>,
    title: &str,
    message: impl FnOnce(&TransactionView) -> String,
) -> HttpResponse {
    let callback = app
        .read(|s| s.checkout(reference))
        .and_then(|c| c.callback_url);
    let (status, body) = match result {
        Ok(v) => (
            StatusCode::OK,
            html::result(title, &message(&v), callback.as_deref(), reference),
        ),
        Err(e) => (
            e.status_code(),
            html::result(
                "Payment not possible",
                &e.to_string(),
                callback.as_deref(),
                reference,
            ),
        ),
    };
    html_response(status, body)
}

fn html_response(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body)
}
