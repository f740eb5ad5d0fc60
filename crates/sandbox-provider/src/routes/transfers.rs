//! Money out: `GET /bank/resolve`, `POST /transferrecipient`, `POST /transfer`,
//! `GET /transfer/verify/{reference}`.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::invalid;
use crate::app::App;
use crate::auth::SecretKey;
use crate::domain::{AccountNumber, BankCode, Currency, Reference, amount};
use crate::error::{ApiError, ok};
use crate::settle;
use crate::state::NewTransfer;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/bank/resolve", web::get().to(resolve))
        .route("/transferrecipient", web::post().to(recipient))
        .route("/transfer", web::post().to(transfer))
        .route("/transfer/verify/{reference}", web::get().to(verify));
}

/// A parsed account that resolves (`0000000000` never does).
fn account(account_number: &str, bank_code: &str) -> Result<(AccountNumber, BankCode), ApiError> {
    let account = invalid(AccountNumber::parse(account_number))?;
    let bank = invalid(BankCode::parse(bank_code))?;
    if !account.resolves() {
        return Err(ApiError::Invalid("could not resolve account name".into()));
    }
    Ok((account, bank))
}

#[derive(Deserialize)]
struct Resolve {
    account_number: String,
    bank_code: String,
}

async fn resolve(_: SecretKey, query: web::Query<Resolve>) -> Result<HttpResponse, ApiError> {
    let (account, bank) = account(&query.account_number, &query.bank_code)?;
    let data = json!({
        "account_number": account,
        "account_name": account.account_name(),
        "bank_id": bank.bank_id(),
    });
    Ok(ok("Account number resolved", data))
}

#[derive(Deserialize)]
struct Recipient {
    name: String,
    account_number: String,
    bank_code: String,
    currency: String,
}

async fn recipient(
    _: SecretKey,
    app: web::Data<App>,
    body: web::Json<Recipient>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let (account, bank) = account(&b.account_number, &b.bank_code)?;
    let currency = invalid(Currency::parse(&b.currency))?;
    if b.name.trim().is_empty() {
        return Err(ApiError::Invalid("name must not be empty".into()));
    }
    let view = app.update(|s, _| s.add_recipient(b.name, account, bank, currency));
    Ok(ok("Transfer recipient created successfully", view))
}

#[derive(Deserialize)]
struct Transfer {
    source: String,
    amount: i64,
    currency: String,
    recipient: String,
    reference: String,
    // `reason` is accepted and ignored (as every unknown field).
}

async fn transfer(
    _: SecretKey,
    app: web::Data<App>,
    body: web::Json<Transfer>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    if b.source != "balance" {
        return Err(ApiError::Invalid("source must be \"balance\"".into()));
    }
    let new = NewTransfer {
        reference: invalid(Reference::parse(&b.reference))?,
        amount: invalid(amount(b.amount))?,
        currency: invalid(Currency::parse(&b.currency))?,
        recipient: b.recipient,
    };
    let (view, created) = app.update(|s, _| s.transfer(new))?;
    if created {
        settle::schedule(&app.clone().into_inner(), view.reference.clone());
        return Ok(ok("Transfer has been queued", view));
    }
    Ok(ok("Transfer already exists", view))
}

async fn verify(
    _: SecretKey,
    app: web::Data<App>,
    reference: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let view = app.read(|s| s.transfer_view(&reference))?;
    Ok(ok("Transfer retrieved", view))
}
