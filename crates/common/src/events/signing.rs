//! Signed envelopes: a service that may push onto another's queue could otherwise forge a
//! third service's events. Each producer signs its envelopes with its own Ed25519 key
//! (its outbox relay does, as it pushes them); a consumer holds the producers' public
//! keys ([`Keyring`]) and accepts an event only with a valid signature by the key of the
//! producer the catalogue names for its type.
//!
//! The signature is the envelope's `sig` field: base64 of the Ed25519 signature of the
//! envelope's JSON without `sig`, as `serde_json` writes a [`serde_json::Value`] (keys in
//! a fixed order, no spaces), so what is signed does not depend on how a queue stored the
//! text. Keys are given as base64 of their 32 bytes: a signing key's seed
//! (`EVENT_SIGNING_KEY`) and the public keys as `service=key,service=key`
//! (`EVENT_PUBLIC_KEYS`).

use std::collections::HashMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde_json::Value;

use super::{Service, event_type};

/// The envelope field holding the signature.
pub const FIELD: &str = "sig";

/// Why a key or an envelope's signature is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("a key is not base64 of 32 bytes")]
    BadKey,
    #[error("{0:?} in EVENT_PUBLIC_KEYS is not service=key")]
    BadEntry(String),
    #[error("{0} is not signed")]
    Unsigned(String),
    #[error("{event} is signed by a key that is not {producer}'s")]
    Forged { event: String, producer: Service },
    #[error("{0} has no producer in the catalogue")]
    Unknown(String),
    #[error("no public key of {0} is configured")]
    NoKey(Service),
    #[error("the job's payload is not an envelope object")]
    NotAnEnvelope,
}

fn key_bytes(text: &str) -> Result<[u8; 32], SignatureError> {
    STANDARD
        .decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .ok_or(SignatureError::BadKey)
}

/// What is signed: the envelope's JSON without its signature.
fn signed_bytes(envelope: &serde_json::Map<String, Value>) -> Vec<u8> {
    let mut unsigned = envelope.clone();
    unsigned.remove(FIELD);
    serde_json::to_vec(&unsigned).unwrap_or_default()
}

/// A producer's signing key.
#[derive(Clone)]
pub struct Signer {
    service: Service,
    key: SigningKey,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("service", &self.service)
            .field("public", &self.public_base64())
            .finish()
    }
}

impl Signer {
    /// From the base64 of the key's 32-byte seed.
    pub fn from_base64(service: Service, seed: &str) -> Result<Self, SignatureError> {
        Ok(Self {
            service,
            key: SigningKey::from_bytes(&key_bytes(seed)?),
        })
    }

    /// A new random key (its seed: [`Self::seed_base64`]).
    pub fn generate(service: Service) -> Self {
        let seed: [u8; 32] = rand::random();
        Self {
            service,
            key: SigningKey::from_bytes(&seed),
        }
    }

    pub fn seed_base64(&self) -> String {
        STANDARD.encode(self.key.to_bytes())
    }

    pub fn public_base64(&self) -> String {
        STANDARD.encode(self.key.verifying_key().to_bytes())
    }

    pub fn service(&self) -> Service {
        self.service
    }

    /// The envelope text `envelope` (as the outbox stores it) with its signature added.
    pub fn sign_text(&self, envelope: &str) -> Result<String, SignatureError> {
        let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(envelope) else {
            return Err(SignatureError::NotAnEnvelope);
        };
        let signature = self.key.sign(&signed_bytes(&map));
        map.insert(
            FIELD.to_owned(),
            Value::String(STANDARD.encode(signature.to_bytes())),
        );
        serde_json::to_string(&map).map_err(|_| SignatureError::NotAnEnvelope)
    }
}

/// The producers' public keys a consumer checks envelopes with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keyring {
    keys: HashMap<Service, VerifyingKey>,
}

impl Keyring {
    /// From `service=base64,service=base64` (spaces and empty entries ignored).
    pub fn parse(text: &str) -> Result<Self, SignatureError> {
        let mut keys = HashMap::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (name, key) = entry
                .split_once('=')
                .ok_or_else(|| SignatureError::BadEntry(entry.to_owned()))?;
            let service = Service::named(name.trim())
                .ok_or_else(|| SignatureError::BadEntry(entry.to_owned()))?;
            let key =
                VerifyingKey::from_bytes(&key_bytes(key)?).map_err(|_| SignatureError::BadKey)?;
            keys.insert(service, key);
        }
        Ok(Self { keys })
    }

    /// The keyring of these signers' public keys.
    pub fn of(signers: &[Signer]) -> Self {
        Self {
            keys: signers
                .iter()
                .map(|s| (s.service, s.key.verifying_key()))
                .collect(),
        }
    }

    /// `service=key,...` for [`Self::parse`].
    pub fn to_text(&self) -> String {
        let mut entries: Vec<String> = self
            .keys
            .iter()
            .map(|(s, k)| format!("{}={}", s.as_str(), STANDARD.encode(k.to_bytes())))
            .collect();
        entries.sort();
        entries.join(",")
    }

    /// Whether `envelope` (a job's payload) carries a valid signature by the key of the
    /// producer the catalogue names for its type.
    pub fn verify(&self, envelope: &Value) -> Result<(), SignatureError> {
        let Value::Object(map) = envelope else {
            return Err(SignatureError::NotAnEnvelope);
        };
        let name = map
            .get("type")
            .and_then(Value::as_str)
            .ok_or(SignatureError::NotAnEnvelope)?;
        let producer = event_type(name)
            .map(|t| t.producer)
            .ok_or_else(|| SignatureError::Unknown(name.to_owned()))?;
        let key = self
            .keys
            .get(&producer)
            .ok_or(SignatureError::NoKey(producer))?;
        let signature = map
            .get(FIELD)
            .and_then(Value::as_str)
            .and_then(|s| STANDARD.decode(s).ok())
            .and_then(|b| Signature::from_slice(&b).ok())
            .ok_or_else(|| SignatureError::Unsigned(name.to_owned()))?;
        key.verify(&signed_bytes(map), &signature)
            .map_err(|_| SignatureError::Forged {
                event: name.to_owned(),
                producer,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Envelope;

    fn envelope(producer: Service, name: &str) -> String {
        let e = Envelope::untyped(
            producer,
            name,
            serde_json::json!({"user_id": uuid::Uuid::nil(), "role": "seller", "n": 1.5}),
            &crate::clock::SystemClock,
        )
        .unwrap();
        serde_json::to_string(&e).unwrap()
    }

    #[test]
    fn a_signed_envelope_verifies_after_any_reserialisation_and_nothing_else_does() {
        let auth = Signer::generate(Service::Auth);
        let kyc = Signer::generate(Service::Kyc);
        let ring = Keyring::of(&[auth.clone(), kyc.clone()]);
        let text = auth
            .sign_text(&envelope(Service::Auth, "user.registered"))
            .unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(ring.verify(&value), Ok(()));
        // Stored and read back through another serialisation: still valid.
        let again: Value =
            serde_json::from_str(&serde_json::to_string_pretty(&value).unwrap()).unwrap();
        assert_eq!(ring.verify(&again), Ok(()));
        // Unsigned.
        let plain: Value =
            serde_json::from_str(&envelope(Service::Auth, "user.registered")).unwrap();
        assert!(matches!(
            ring.verify(&plain),
            Err(SignatureError::Unsigned(_))
        ));
        // Any change of the content.
        let mut tampered = value.clone();
        tampered["payload"]["role"] = "admin".into();
        assert!(matches!(
            ring.verify(&tampered),
            Err(SignatureError::Forged { .. })
        ));
        // Another service's valid key on auth's event type: forged.
        let by_kyc: Value = serde_json::from_str(
            &kyc.sign_text(&envelope(Service::Auth, "user.registered"))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            ring.verify(&by_kyc),
            Err(SignatureError::Forged {
                event: "user.registered".into(),
                producer: Service::Auth
            })
        );
        // A consumer without the producer's key refuses rather than guesses.
        assert_eq!(
            Keyring::of(&[kyc]).verify(&value),
            Err(SignatureError::NoKey(Service::Auth))
        );
        let mut garbage = value;
        garbage[FIELD] = "not base64!".into();
        assert!(matches!(
            ring.verify(&garbage),
            Err(SignatureError::Unsigned(_))
        ));
    }

    /// Compose and the dev overlay carry dev-only seeds and the public keys every
    /// consumer checks with: each seed's public key is its service's in both keyrings.
    #[test]
    fn the_committed_dev_keys_belong_together() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
        let unquote = |v: &str| v.trim().trim_matches('"').to_owned();
        // `kyc`, the compose block `kyc-worker`, the Secret `kyc-secrets`: kyc's.
        let service = |name: &str| Service::named(name.split('-').next().unwrap_or(name));
        for (file, seed_marker, public_marker) in [
            (
                "deploy/docker-compose.yml",
                "EVENT_SIGNING_KEY:",
                "EVENT_PUBLIC_KEYS:",
            ),
            (
                "k8s/overlays/dev/kustomization.yaml",
                "- event-signing-key=",
                "value: \"admin=",
            ),
        ] {
            let text = read(file);
            let public = text
                .lines()
                .find_map(|l| {
                    l.trim().strip_prefix(public_marker).map(|v| {
                        if public_marker.starts_with("value") {
                            format!("admin={}", unquote(v))
                        } else {
                            unquote(v)
                        }
                    })
                })
                .unwrap_or_else(|| panic!("{file}: no EVENT_PUBLIC_KEYS"));
            let ring = Keyring::parse(public.trim_end_matches('"')).unwrap();
            let mut owner = None;
            let mut seeds = 0;
            for line in text.lines() {
                let t = line.trim();
                // compose: a service block `  name:`; kustomize: `- name: <svc>-secrets`.
                if line.starts_with("  ") && !line.starts_with("   ") && t.ends_with(':') {
                    owner = service(t.trim_end_matches(':'));
                }
                if let Some(name) = t.strip_prefix("- name: ") {
                    owner = service(name);
                }
                if let Some(seed) = t.strip_prefix(seed_marker) {
                    let s = owner.unwrap_or_else(|| panic!("{file}: a key outside a service"));
                    let signer = Signer::from_base64(s, &unquote(seed)).unwrap();
                    assert!(
                        ring.to_text().contains(&format!(
                            "{}={}",
                            s.as_str(),
                            signer.public_base64()
                        )),
                        "{file}: {s:?}'s public key is not its seed's"
                    );
                    seeds += 1;
                }
            }
            assert!(seeds >= 5, "{file}: every producer has a key ({seeds})");
        }
    }

    #[test]
    fn keys_round_trip_through_their_text_forms() {
        let auth = Signer::generate(Service::Auth);
        let again = Signer::from_base64(Service::Auth, &auth.seed_base64()).unwrap();
        assert_eq!(again.public_base64(), auth.public_base64());
        let ring = Keyring::of(&[auth.clone(), Signer::generate(Service::Kyc)]);
        assert_eq!(Keyring::parse(&ring.to_text()).unwrap(), ring);
        assert_eq!(Keyring::parse(" ,").unwrap(), Keyring::default());
        assert!(Keyring::parse("auth").is_err());
        assert!(Keyring::parse("nobody=AAAA").is_err());
        assert_eq!(Keyring::parse("auth=AAAA"), Err(SignatureError::BadKey));
        assert!(Signer::from_base64(Service::Auth, "short").is_err());
        assert!(
            !format!("{auth:?}").contains(&auth.seed_base64()),
            "the seed is never printed"
        );
    }
}
