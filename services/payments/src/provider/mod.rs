//! The payment provider, behind [`PaymentProvider`]. Both providers speak Paystack's API
//! shapes (`{"status": true, "data": {...}}`; the sandbox copies them on purpose), so one
//! HTTP client ([`HttpProvider`]) serves both; they differ in how webhooks are signed
//! ([`webhook::Scheme`]): the sandbox the Standard Webhooks way, Paystack with a hex
//! HMAC-SHA512 of the body under the secret key.

pub mod webhook;

use std::time::Duration;

use async_trait::async_trait;
use common::money::Currency;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use webhook::{Scheme, WebhookEvent, WebhookKind};

use crate::config::ProviderConfig;

/// Why a provider call did not give an answer to act on. Nothing changes here on any of
/// them; the caller retries later or answers 502/503.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider could not be reached, timed out or answered 5xx: try again.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the request (4xx): trying again will not help.
    #[error("the provider refused: {0}")]
    Refused(String),
    /// Unknown to the provider (404).
    #[error("the provider does not know {0}")]
    NotFound(String),
}

/// A provider's status of a charge (money in) or transfer (money out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderStatus {
    Pending,
    Ongoing,
    Processing,
    Queued,
    Otp,
    Received,
    Success,
    Failed,
    Reversed,
    Abandoned,
    Blocked,
    Rejected,
    Processed,
}

impl ProviderStatus {
    /// Success, failed, reversed, abandoned, blocked, rejected (and a processed refund)
    /// do not change again by themselves; the rest may.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            ProviderStatus::Pending
                | ProviderStatus::Ongoing
                | ProviderStatus::Processing
                | ProviderStatus::Queued
                | ProviderStatus::Otp
                | ProviderStatus::Received
        )
    }
}

/// A checkout to start.
#[derive(Debug, Clone)]
pub struct Checkout<'a> {
    pub reference: &'a str,
    pub amount_minor: i64,
    pub currency: Currency,
    pub email: &'a str,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Initialized {
    pub authorization_url: String,
    pub reference: String,
}

/// A charge as the provider's verify call reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct Charge {
    pub reference: String,
    pub status: ProviderStatus,
    /// What was paid, in minor units.
    pub amount: i64,
    pub currency: String,
    /// What has been refunded of it (the sandbox says; Paystack's verify does not:
    /// [`PaymentProvider::refunded`] asks its refunds list).
    #[serde(default)]
    pub refunded_amount: Option<i64>,
    /// The provider's own id of the transaction (Paystack's refunds list is by it).
    #[serde(default)]
    pub id: Option<serde_json::Value>,
}

/// A transfer as the provider reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct TransferState {
    pub reference: String,
    pub status: ProviderStatus,
    pub amount: i64,
    pub currency: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ResolvedAccount {
    pub account_name: String,
}

/// A transfer to send.
#[derive(Debug, Clone)]
pub struct Transfer<'a> {
    /// Ours, and the same on every retry: the provider moves the money once per reference.
    pub reference: &'a str,
    pub amount_minor: i64,
    pub currency: Currency,
    pub recipient: &'a str,
    pub reason: &'a str,
}

/// What moves money. Every call is safe to repeat with the same reference.
#[async_trait]
pub trait PaymentProvider: Send + Sync {
    /// `sandbox` or `paystack`: the `{provider}` of the webhook route.
    fn name(&self) -> &'static str;
    async fn initialize(&self, c: Checkout<'_>) -> Result<Initialized, ProviderError>;
    async fn verify(&self, reference: &str) -> Result<Charge, ProviderError>;
    async fn resolve_account(
        &self,
        bank_code: &str,
        account_number: &str,
    ) -> Result<ResolvedAccount, ProviderError>;
    /// The provider's recipient code for a resolved account.
    async fn recipient(
        &self,
        name: &str,
        bank_code: &str,
        account_number: &str,
        currency: Currency,
    ) -> Result<String, ProviderError>;
    async fn transfer(&self, t: Transfer<'_>) -> Result<TransferState, ProviderError>;
    async fn verify_transfer(&self, reference: &str) -> Result<TransferState, ProviderError>;
    /// Refunds `amount_minor` of the charge `reference`.
    async fn refund(&self, reference: &str, amount_minor: i64) -> Result<(), ProviderError>;
    /// How much of the charge `reference` has been refunded or is being refunded (a
    /// failed refund does not count): asked before refunding, so a worker that died
    /// after asking for a refund never asks twice.
    async fn refunded(&self, reference: &str) -> Result<i64, ProviderError>;
    /// Checks a delivery's signature on the raw body and says what it is about.
    fn verify_webhook(
        &self,
        headers: &actix_web::http::header::HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<WebhookEvent, webhook::Refused>;
}

/// The provider `config` names.
pub fn from_config(config: &ProviderConfig) -> anyhow::Result<HttpProvider> {
    Ok(match config {
        ProviderConfig::Sandbox {
            url,
            secret_key,
            webhook_secrets,
        } => HttpProvider::new(
            "sandbox",
            url,
            secret_key.clone(),
            Scheme::Standard(webhook_secrets.clone()),
        )?,
        ProviderConfig::Paystack { url, secret_key } => HttpProvider::new(
            "paystack",
            url,
            secret_key.clone(),
            Scheme::Paystack(secret_key.clone()),
        )?,
    })
}

/// A provider with Paystack's API shapes over HTTP.
pub struct HttpProvider {
    name: &'static str,
    url: String,
    secret: SecretString,
    scheme: Scheme,
    client: reqwest::Client,
}

#[derive(Deserialize)]
struct Envelope<T> {
    status: bool,
    #[serde(default)]
    message: String,
    data: Option<T>,
}

impl HttpProvider {
    pub fn new(
        name: &'static str,
        url: &str,
        secret: SecretString,
        scheme: Scheme,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            name,
            url: url.trim_end_matches('/').to_owned(),
            secret,
            scheme,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(3))
                .build()?,
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<T, ProviderError> {
        let res = request
            .bearer_auth(self.secret.expose_secret())
            .send()
            .await
            .map_err(|e| ProviderError::Unavailable(format!("{what}: {e}")))?;
        let status = res.status();
        let body = res
            .bytes()
            .await
            .map_err(|e| ProviderError::Unavailable(format!("{what}: {e}")))?;
        let parsed: Result<Envelope<T>, _> = serde_json::from_slice(&body);
        if status.is_server_error() {
            return Err(ProviderError::Unavailable(format!("{what}: {status}")));
        }
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(ProviderError::NotFound(what.to_owned()));
        }
        match parsed {
            Ok(Envelope {
                status: true,
                data: Some(data),
                ..
            }) if status.is_success() => Ok(data),
            Ok(e) => Err(ProviderError::Refused(format!(
                "{what}: {status} {}",
                e.message
            ))),
            Err(e) if status.is_success() => Err(ProviderError::Unavailable(format!(
                "{what}: an answer that does not parse: {e}"
            ))),
            Err(_) => Err(ProviderError::Refused(format!("{what}: {status}"))),
        }
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(format!("{}{path}", self.url))
    }

    fn post(&self, path: &str, body: serde_json::Value) -> reqwest::RequestBuilder {
        self.client.post(format!("{}{path}", self.url)).json(&body)
    }
}

/// A path segment from our own references and codes (letters, digits, `-_.`), so
/// nothing can be injected into the provider's URL.
fn segment(s: &str) -> Result<&str, ProviderError> {
    if !s.is_empty()
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        Ok(s)
    } else {
        Err(ProviderError::Refused(format!("{s:?} is not a reference")))
    }
}

#[async_trait]
impl PaymentProvider for HttpProvider {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn initialize(&self, c: Checkout<'_>) -> Result<Initialized, ProviderError> {
        let body = json!({
            "reference": c.reference,
            "amount": c.amount_minor,
            "currency": c.currency.code(),
            "email": c.email,
        });
        self.call(self.post("/transaction/initialize", body), "initialize")
            .await
    }

    async fn verify(&self, reference: &str) -> Result<Charge, ProviderError> {
        let path = format!("/transaction/verify/{}", segment(reference)?);
        self.call(self.get(&path), "verify").await
    }

    async fn resolve_account(
        &self,
        bank_code: &str,
        account_number: &str,
    ) -> Result<ResolvedAccount, ProviderError> {
        let req = self.get(&format!(
            "/bank/resolve?account_number={}&bank_code={}",
            segment(account_number)?,
            segment(bank_code)?
        ));
        self.call(req, "resolve account").await
    }

    async fn recipient(
        &self,
        name: &str,
        bank_code: &str,
        account_number: &str,
        currency: Currency,
    ) -> Result<String, ProviderError> {
        #[derive(Deserialize)]
        struct Recipient {
            recipient_code: String,
        }
        let body = json!({
            "type": "nuban",
            "name": name,
            "account_number": account_number,
            "bank_code": bank_code,
            "currency": currency.code(),
        });
        let r: Recipient = self
            .call(self.post("/transferrecipient", body), "create recipient")
            .await?;
        Ok(r.recipient_code)
    }

    async fn transfer(&self, t: Transfer<'_>) -> Result<TransferState, ProviderError> {
        let body = json!({
            "source": "balance",
            "amount": t.amount_minor,
            "currency": t.currency.code(),
            "recipient": t.recipient,
            "reference": t.reference,
            "reason": t.reason,
        });
        self.call(self.post("/transfer", body), "transfer").await
    }

    async fn verify_transfer(&self, reference: &str) -> Result<TransferState, ProviderError> {
        let path = format!("/transfer/verify/{}", segment(reference)?);
        self.call(self.get(&path), "verify transfer").await
    }

    async fn refund(&self, reference: &str, amount_minor: i64) -> Result<(), ProviderError> {
        let body = json!({"transaction": reference, "amount": amount_minor});
        let _: serde_json::Value = self.call(self.post("/refund", body), "refund").await?;
        Ok(())
    }

    async fn refunded(&self, reference: &str) -> Result<i64, ProviderError> {
        #[derive(Deserialize)]
        struct Refund {
            amount: i64,
            status: String,
        }
        let charge = self.verify(reference).await?;
        if let Some(amount) = charge.refunded_amount {
            return Ok(amount);
        }
        // Paystack: the transaction's refunds, by its numeric id.
        let Some(id) = charge.id.as_ref().and_then(serde_json::Value::as_u64) else {
            return Err(ProviderError::Unavailable(format!(
                "the provider says neither what was refunded of {reference} nor its id"
            )));
        };
        let refunds: Vec<Refund> = self
            .call(
                self.get(&format!("/refund?transaction={id}&perPage=100")),
                "list refunds",
            )
            .await?;
        Ok(refunds
            .iter()
            .filter(|r| r.status != "failed")
            .map(|r| r.amount)
            .sum())
    }

    fn verify_webhook(
        &self,
        headers: &actix_web::http::header::HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<WebhookEvent, webhook::Refused> {
        self.scheme.verify(headers, body, now)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// The provider's API is https: a build of this service alone (its image) must have
    /// TLS in its HTTP client. Without it reqwest refuses an https URL before connecting
    /// (a builder error); with it, a closed port is a connection error.
    #[tokio::test]
    async fn the_provider_client_speaks_https() {
        service_kit::install_tls_provider();
        let p = HttpProvider::new(
            "paystack",
            "https://127.0.0.1:1",
            SecretString::from("sk_test"),
            Scheme::Paystack(SecretString::from("sk_test")),
        )
        .unwrap();
        let e = p.get("/transaction/verify/x").send().await.unwrap_err();
        assert!(!e.is_builder(), "no TLS in this build: {e}");
        assert!(e.is_connect(), "{e}");
    }
}
