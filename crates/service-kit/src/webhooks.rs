//! Standard Webhooks signatures (<https://www.standardwebhooks.com>): the sender signs
//! `{webhook-id}.{webhook-timestamp}.{raw body}` with HMAC-SHA256 under a secret
//! `whsec_<base64 key>` and sends `webhook-signature: v1,<base64 mac>`, several of them
//! separated by spaces while a secret is rotated. The receiver accepts a delivery when one
//! of its secrets made one of the signatures, compared in constant time, and the timestamp
//! is within [`TOLERANCE_SECS`] of its clock (a replayed old delivery is refused).
//!
//! ```
//! use service_kit::webhooks::{Headers, WebhookSecret, sign, verify};
//! let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
//! let body = br#"{"type":"charge.success"}"#;
//! let signature = sign(&secret, "msg_1", 1_700_000_000, body);
//! let headers = Headers { id: "msg_1", timestamp: "1700000000", signature: &signature };
//! assert!(verify(&[secret], &headers, body, 1_700_000_100).is_ok());
//! ```

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How far a delivery's timestamp may be from the receiver's clock, either way.
pub const TOLERANCE_SECS: i64 = 300;
/// The header names.
pub const ID_HEADER: &str = "webhook-id";
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const SIGNATURE_HEADER: &str = "webhook-signature";

/// The length of a base64 HMAC-SHA256 (32 bytes).
const MAC_B64_LEN: usize = 44;
/// Longest header accepted: a rotation rarely has more than a few secrets at once.
const MAX_SIGNATURE_HEADER: usize = 1024;

/// A signing key: `whsec_` followed by the base64 of 24 to 64 random bytes.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

impl WebhookSecret {
    /// Parses `whsec_<base64>`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let b64 = s
            .trim()
            .strip_prefix("whsec_")
            .ok_or("a webhook secret starts with whsec_")?;
        let key = STANDARD
            .decode(b64)
            .map_err(|e| format!("a webhook secret is whsec_ and base64: {e}"))?;
        if !(24..=64).contains(&key.len()) {
            return Err(format!(
                "a webhook secret's key is 24 to 64 bytes, not {}",
                key.len()
            ));
        }
        Ok(Self(key))
    }

    /// A new random secret (32 bytes).
    pub fn generate() -> Self {
        use rand::RngCore;
        let mut key = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self(key)
    }

    /// The secret written as `whsec_<base64>`, to hand to the other side.
    pub fn encode(&self) -> String {
        format!("whsec_{}", STANDARD.encode(&self.0))
    }

    fn mac(&self, id: &str, timestamp: &str, body: &[u8]) -> [u8; 32] {
        // Any key length is valid for HMAC.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}

/// Parses a space-separated list of secrets (the current one first during a rotation).
pub fn parse_secrets(s: &str) -> Result<Vec<WebhookSecret>, String> {
    let secrets: Vec<_> = s
        .split_whitespace()
        .map(WebhookSecret::parse)
        .collect::<Result<_, _>>()?;
    if secrets.is_empty() {
        return Err("at least one webhook secret (whsec_...) is needed".into());
    }
    Ok(secrets)
}

/// `v1,<base64>`: the signature of one delivery under `secret`.
pub fn sign(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "v1,{}",
        STANDARD.encode(secret.mac(id, &timestamp.to_string(), body))
    )
}

/// The `webhook-signature` header value: one signature per secret, space-separated.
pub fn sign_all(secrets: &[WebhookSecret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| sign(s, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The three headers of a delivery, as received.
#[derive(Debug, Clone, Copy)]
pub struct Headers<'a> {
    pub id: &'a str,
    pub timestamp: &'a str,
    pub signature: &'a str,
}

/// Why a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the {0} header is missing or empty")]
    Missing(&'static str),
    #[error("webhook-timestamp is not a number of seconds")]
    BadTimestamp,
    #[error("webhook-timestamp is more than {TOLERANCE_SECS} s old")]
    TooOld,
    #[error("webhook-timestamp is more than {TOLERANCE_SECS} s in the future")]
    TooNew,
    #[error("no signature matches")]
    NoMatch,
}

/// Accepts the delivery when its timestamp is within [`TOLERANCE_SECS`] of `now` (unix
/// seconds) and one of `secrets` made one of its `v1` signatures. Every candidate is
/// checked for length first and compared in constant time; an empty or malformed
/// signature matches nothing.
pub fn verify(
    secrets: &[WebhookSecret],
    headers: &Headers<'_>,
    body: &[u8],
    now: i64,
) -> Result<(), Refused> {
    if headers.id.is_empty() || headers.id.len() > 256 {
        return Err(Refused::Missing(ID_HEADER));
    }
    if headers.timestamp.is_empty() {
        return Err(Refused::Missing(TIMESTAMP_HEADER));
    }
    if headers.signature.trim().is_empty() {
        return Err(Refused::Missing(SIGNATURE_HEADER));
    }
    if headers.timestamp.len() > 12 || !headers.timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refused::BadTimestamp);
    }
    let ts: i64 = headers
        .timestamp
        .parse()
        .map_err(|_| Refused::BadTimestamp)?;
    if now - ts > TOLERANCE_SECS {
        return Err(Refused::TooOld);
    }
    if ts - now > TOLERANCE_SECS {
        return Err(Refused::TooNew);
    }
    if headers.signature.len() > MAX_SIGNATURE_HEADER {
        return Err(Refused::NoMatch);
    }
    let expected: Vec<String> = secrets
        .iter()
        .map(|s| STANDARD.encode(s.mac(headers.id, headers.timestamp, body)))
        .collect();
    let mut matched = subtle::Choice::from(0u8);
    for candidate in headers.signature.split_whitespace() {
        let Some(mac) = candidate.strip_prefix("v1,") else {
            continue;
        };
        if mac.len() != MAC_B64_LEN {
            continue;
        }
        for e in &expected {
            matched |= e.as_bytes().ct_eq(mac.as_bytes());
        }
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(Refused::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn headers<'a>(id: &'a str, ts: &'a str, sig: &'a str) -> Headers<'a> {
        Headers {
            id,
            timestamp: ts,
            signature: sig,
        }
    }

    #[test]
    fn the_specifications_example_verifies() {
        // From the Standard Webhooks reference libraries' tests.
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let sig = sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn only_a_valid_signature_in_the_window_is_accepted() {
        let a = WebhookSecret::generate();
        let b = WebhookSecret::generate();
        let body = b"{}";
        let ts = NOW.to_string();
        let good = sign(&a, "msg_1", NOW, body);
        assert_eq!(
            verify(
                std::slice::from_ref(&a),
                &headers("msg_1", &ts, &good),
                body,
                NOW
            ),
            Ok(())
        );
        // Rotation: the receiver knows both; the sender signs with both.
        let both = sign_all(&[b.clone(), a.clone()], "msg_1", NOW, body);
        assert_eq!(
            verify(
                std::slice::from_ref(&a),
                &headers("msg_1", &ts, &both),
                body,
                NOW
            ),
            Ok(())
        );
        assert_eq!(
            verify(
                &[b.clone(), a.clone()],
                &headers("msg_1", &ts, &good),
                body,
                NOW
            ),
            Ok(())
        );
        // Wrong secret, tampered body, another id.
        let no = Err(Refused::NoMatch);
        assert_eq!(
            verify(
                std::slice::from_ref(&b),
                &headers("msg_1", &ts, &good),
                body,
                NOW
            ),
            no
        );
        assert_eq!(
            verify(
                std::slice::from_ref(&a),
                &headers("msg_1", &ts, &good),
                b"{ }",
                NOW
            ),
            no
        );
        assert_eq!(
            verify(
                std::slice::from_ref(&a),
                &headers("msg_2", &ts, &good),
                body,
                NOW
            ),
            no
        );
        // Empty, cut, unknown version.
        for bad in ["v1,", "v1", "v2,abc", &good[..good.len() - 1], "v1, ", ","] {
            let r = verify(
                std::slice::from_ref(&a),
                &headers("msg_1", &ts, bad),
                body,
                NOW,
            );
            assert!(r.is_err(), "{bad:?} accepted");
        }
        // Stale and future.
        let old = sign(&a, "msg_1", NOW - 301, body);
        let old_ts = (NOW - 301).to_string();
        assert_eq!(
            verify(
                std::slice::from_ref(&a),
                &headers("msg_1", &old_ts, &old),
                body,
                NOW
            ),
            Err(Refused::TooOld)
        );
        let late = sign(&a, "msg_1", NOW + 301, body);
        let late_ts = (NOW + 301).to_string();
        assert_eq!(
            verify(
                std::slice::from_ref(&a),
                &headers("msg_1", &late_ts, &late),
                body,
                NOW
            ),
            Err(Refused::TooNew)
        );
        // Missing headers.
        assert_eq!(
            verify(
                std::slice::from_ref(&a),
                &headers("", &ts, &good),
                body,
                NOW
            ),
            Err(Refused::Missing(ID_HEADER))
        );
        assert_eq!(
            verify(
                std::slice::from_ref(&a),
                &headers("msg_1", "", &good),
                body,
                NOW
            ),
            Err(Refused::Missing(TIMESTAMP_HEADER))
        );
        assert_eq!(
            verify(
                std::slice::from_ref(&a),
                &headers("msg_1", &ts, ""),
                body,
                NOW
            ),
            Err(Refused::Missing(SIGNATURE_HEADER))
        );
        assert_eq!(
            verify(
                std::slice::from_ref(&a),
                &headers("msg_1", "12x", &good),
                body,
                NOW
            ),
            Err(Refused::BadTimestamp)
        );
    }

    #[test]
    fn secrets_parse_and_print_the_same() {
        let s = WebhookSecret::generate();
        let again = WebhookSecret::parse(&s.encode()).unwrap();
        assert_eq!(s.0, again.0);
        assert!(WebhookSecret::parse("nope").is_err());
        assert!(WebhookSecret::parse("whsec_AAAA").is_err());
        assert!(parse_secrets(" ").is_err());
        assert_eq!(
            parse_secrets(&format!("{} {}", s.encode(), s.encode()))
                .unwrap()
                .len(),
            2
        );
    }
}
