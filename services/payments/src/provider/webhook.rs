//! Provider webhooks: the signature checked on the raw bytes before anything is parsed,
//! then the event read into [`WebhookEvent`] with the key it is deduplicated by.
//!
//! | provider | signature | dedup key |
//! | --- | --- | --- |
//! | sandbox | Standard Webhooks (`webhook-id`, `webhook-timestamp` within +-300 s, `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`, several during rotation) | `webhook-id` |
//! | paystack | `x-paystack-signature`: hex HMAC-SHA512 of the body under the secret key | event name + `data.id` (charges, refunds) or `data.reference` (transfers) |

use actix_web::http::header::HeaderMap;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::Sha512;
use subtle::ConstantTimeEq;

use service_kit::webhooks::{self, Headers, WebhookSecret};

/// How a provider signs its deliveries.
#[derive(Clone)]
pub enum Scheme {
    Standard(Vec<WebhookSecret>),
    Paystack(SecretString),
}

/// Why a delivery was refused: it changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Not signed by the provider (or too old or new): 401.
    #[error("webhook signature refused: {0}")]
    Signature(String),
    /// Signed, but not an event this service can read: 400.
    #[error("webhook body refused: {0}")]
    Body(String),
}

/// What a delivery is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookKind {
    ChargeSuccess,
    ChargeFailed,
    ChargeReversed,
    TransferSuccess,
    TransferFailed,
    TransferReversed,
    RefundProcessed,
    /// An event this service does not act on (acknowledged, recorded, nothing else).
    Other(String),
}

impl WebhookKind {
    fn parse(name: &str) -> Self {
        match name {
            "charge.success" => WebhookKind::ChargeSuccess,
            "charge.failed" => WebhookKind::ChargeFailed,
            "charge.reversed" => WebhookKind::ChargeReversed,
            "transfer.success" => WebhookKind::TransferSuccess,
            "transfer.failed" => WebhookKind::TransferFailed,
            "transfer.reversed" => WebhookKind::TransferReversed,
            "refund.processed" => WebhookKind::RefundProcessed,
            other => WebhookKind::Other(other.to_owned()),
        }
    }
}

/// A verified delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// Unique per event at this provider: a redelivery has the same key.
    pub key: String,
    /// The event's name as sent (`charge.success`).
    pub name: String,
    pub kind: WebhookKind,
    /// Our reference of the charge, transfer or refunded charge.
    pub reference: String,
}

#[derive(Deserialize)]
struct Body {
    #[serde(alias = "type")]
    event: String,
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    reference: Option<String>,
    /// A refund names the charge it refunds.
    #[serde(default)]
    transaction_reference: Option<String>,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

impl Scheme {
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<WebhookEvent, Refused> {
        let delivery_id = match self {
            Scheme::Standard(secrets) => {
                let h = Headers {
                    id: header(headers, webhooks::ID_HEADER),
                    timestamp: header(headers, webhooks::TIMESTAMP_HEADER),
                    signature: header(headers, webhooks::SIGNATURE_HEADER),
                };
                webhooks::verify(secrets, &h, body, now)
                    .map_err(|e| Refused::Signature(e.to_string()))?;
                Some(h.id.to_owned())
            }
            Scheme::Paystack(secret) => {
                paystack_verify(secret, header(headers, "x-paystack-signature"), body)?;
                None
            }
        };
        let parsed: Body = serde_json::from_slice(body)
            .map_err(|e| Refused::Body(format!("not a provider event: {e}")))?;
        let kind = WebhookKind::parse(&parsed.event);
        let reference = match kind {
            WebhookKind::RefundProcessed => parsed.data.transaction_reference.clone(),
            _ => parsed.data.reference.clone(),
        }
        .filter(|r| !r.is_empty() && r.len() <= 100)
        .ok_or_else(|| Refused::Body(format!("{} names no reference", parsed.event)))?;
        let key = match delivery_id {
            Some(id) => id,
            // Paystack: no delivery id; the event name and the object's id (charges,
            // refunds) or reference (transfers) identify the event.
            None => {
                let object = match (&kind, &parsed.data.id) {
                    (
                        WebhookKind::TransferSuccess
                        | WebhookKind::TransferFailed
                        | WebhookKind::TransferReversed,
                        _,
                    )
                    | (_, None) => reference.clone(),
                    (_, Some(id)) => id.to_string().trim_matches('"').to_owned(),
                };
                format!("{}:{object}", parsed.event)
            }
        };
        Ok(WebhookEvent {
            key,
            name: parsed.event,
            kind,
            reference,
        })
    }
}

/// `x-paystack-signature`: hex HMAC-SHA512 of the raw body under the secret key, compared
/// in constant time after a length check (128 hex digits).
fn paystack_verify(secret: &SecretString, signature: &str, body: &[u8]) -> Result<(), Refused> {
    if signature.is_empty() {
        return Err(Refused::Signature(
            "the x-paystack-signature header is missing".into(),
        ));
    }
    if signature.len() != 128 {
        return Err(Refused::Signature("no signature matches".into()));
    }
    let mut mac = Hmac::<Sha512>::new_from_slice(secret.expose_secret().as_bytes())
        .map_err(|_| Refused::Signature("no key".into()))?;
    mac.update(body);
    let expected = hex::encode(mac.finalize().into_bytes());
    if bool::from(
        expected
            .as_bytes()
            .ct_eq(signature.to_ascii_lowercase().as_bytes()),
    ) {
        Ok(())
    } else {
        Err(Refused::Signature("no signature matches".into()))
    }
}

/// Paystack's signature of `body` under `secret` (for tests and tools).
pub fn paystack_sign(secret: &str, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha512>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn map(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_static(k),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn paystack_deliveries_are_keyed_by_event_and_object() {
        let secret = "sk_test_abc";
        let scheme = Scheme::Paystack(SecretString::from(secret));
        let body =
            br#"{"event":"charge.success","data":{"id":302961,"reference":"vst_1","amount":100}}"#;
        let sig = paystack_sign(secret, body);
        let e = scheme
            .verify(&map(&[("x-paystack-signature", sig.clone())]), body, 0)
            .unwrap();
        assert_eq!(e.key, "charge.success:302961");
        assert_eq!(e.kind, WebhookKind::ChargeSuccess);
        assert_eq!(e.reference, "vst_1");
        let transfer = br#"{"event":"transfer.success","data":{"id":9,"reference":"vst_2"}}"#;
        let e = scheme
            .verify(
                &map(&[("x-paystack-signature", paystack_sign(secret, transfer))]),
                transfer,
                0,
            )
            .unwrap();
        assert_eq!(e.key, "transfer.success:vst_2");
        // Tampered, wrong key, empty, missing.
        let tampered =
            br#"{"event":"charge.success","data":{"id":302961,"reference":"vst_1","amount":999}}"#;
        for (h, b) in [
            (map(&[("x-paystack-signature", sig.clone())]), &tampered[..]),
            (
                map(&[("x-paystack-signature", paystack_sign("other", body))]),
                &body[..],
            ),
            (map(&[("x-paystack-signature", String::new())]), &body[..]),
            (map(&[]), &body[..]),
        ] {
            assert!(matches!(
                scheme.verify(&h, b, 0),
                Err(Refused::Signature(_))
            ));
        }
    }

    #[test]
    fn a_signed_body_that_is_not_an_event_is_refused_as_a_body() {
        let secret = WebhookSecret::generate();
        let scheme = Scheme::Standard(vec![secret.clone()]);
        let body = br#"{"type":"charge.success","data":{}}"#;
        let h = map(&[
            ("webhook-id", "msg_1".into()),
            ("webhook-timestamp", "1000".into()),
            (
                "webhook-signature",
                webhooks::sign(&secret, "msg_1", 1000, body),
            ),
        ]);
        assert!(matches!(
            scheme.verify(&h, body, 1000),
            Err(Refused::Body(_))
        ));
    }
}
