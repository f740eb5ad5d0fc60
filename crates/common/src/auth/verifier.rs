use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use fred::prelude::{HashesInterface, KeysInterface};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use tokio::sync::Mutex;

use super::claims::Claims;
use crate::clock::SharedClock;
use crate::keys::Keys;
use crate::redis::Pool;

/// Why a token was refused. Every variant but `Unavailable` is a 401.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("missing bearer token")]
    Missing,
    #[error("malformed token")]
    Malformed,
    #[error("token signed with an unknown key")]
    UnknownKey,
    #[error("invalid token: {0}")]
    Invalid(String),
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("token has been revoked")]
    Revoked,
    /// Redis could not answer the revocation check: fail closed.
    #[error("cannot check the token right now")]
    Unavailable,
}

/// Allowed clock skew between auth and a verifier, in seconds.
const LEEWAY_SECS: i64 = 30;
/// At most one key reload per this long when tokens name unknown keys.
const UNKNOWN_KID_RELOAD: Duration = Duration::from_secs(1);
/// Keys are reloaded this often regardless.
const PERIODIC_RELOAD: Duration = Duration::from_secs(60);

struct Inner {
    keys: RwLock<HashMap<String, DecodingKey>>,
    last_reload: Mutex<Option<Instant>>,
    redis: Pool,
    names: Keys,
    validation: Validation,
    clock: SharedClock,
}

/// Verifies access tokens: RS256 only, `kid` selects the key, `iss`/`aud` checked, `exp`
/// and `nbf` against the injected clock, then blacklist and "revoked before" in one Redis
/// round trip. Cheap to clone.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

impl Verifier {
    /// Loads the published keys (an empty set is fine: they are reloaded when needed) and
    /// starts the periodic reload.
    pub async fn new(
        redis: Pool,
        names: Keys,
        issuer: &str,
        audience: &str,
        clock: SharedClock,
    ) -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.algorithms = vec![Algorithm::RS256];
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        // Time is checked against the injected clock below.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let verifier = Self {
            inner: Arc::new(Inner {
                keys: RwLock::new(HashMap::new()),
                last_reload: Mutex::new(None),
                redis,
                names,
                validation,
                clock,
            }),
        };
        if let Err(e) = verifier.reload_keys().await {
            tracing::warn!(error = %e, "Signing keys not loaded yet.");
        }
        let weak = Arc::downgrade(&verifier.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PERIODIC_RELOAD);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                let v = Verifier { inner };
                if let Err(e) = v.reload_keys().await {
                    tracing::warn!(error = %e, "Signing keys reload failed.");
                }
            }
        });
        verifier
    }

    /// Replaces the known keys with the set published in Redis.
    pub async fn reload_keys(&self) -> anyhow::Result<usize> {
        let raw: HashMap<String, String> =
            self.inner.redis.hgetall(self.inner.names.jwks()).await?;
        let mut map = HashMap::new();
        for (kid, json) in raw {
            let Ok(jwk) = serde_json::from_str::<Jwk>(&json) else {
                continue;
            };
            if let Ok(key) = DecodingKey::from_jwk(&jwk) {
                map.insert(kid, key);
            }
        }
        let n = map.len();
        *self.inner.keys.write().unwrap_or_else(|e| e.into_inner()) = map;
        Ok(n)
    }

    /// Signature, algorithm, issuer, audience and times; no Redis.
    pub fn decode(&self, token: &str) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(TokenError::Invalid("algorithm not allowed".into()));
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let claims = {
            let keys = self.inner.keys.read().unwrap_or_else(|e| e.into_inner());
            let key = keys.get(&kid).ok_or(TokenError::UnknownKey)?;
            jsonwebtoken::decode::<Claims>(token, key, &self.inner.validation)
                .map_err(|e| {
                    use jsonwebtoken::errors::ErrorKind as K;
                    match e.kind() {
                        K::InvalidSignature => TokenError::Invalid("bad signature".into()),
                        K::InvalidAudience => TokenError::Invalid("wrong audience".into()),
                        K::InvalidIssuer => TokenError::Invalid("wrong issuer".into()),
                        K::InvalidAlgorithm => TokenError::Invalid("algorithm not allowed".into()),
                        K::MissingRequiredClaim(c) => {
                            TokenError::Invalid(format!("missing claim {c}"))
                        }
                        _ => TokenError::Malformed,
                    }
                })?
                .claims
        };
        let now = self.inner.clock.now().timestamp();
        if claims.exp <= now - LEEWAY_SECS {
            return Err(TokenError::Expired);
        }
        if claims.nbf > now + LEEWAY_SECS {
            return Err(TokenError::NotYetValid);
        }
        if claims.exp - claims.iat > super::ACCESS_TOKEN_MAX_SECS {
            return Err(TokenError::Invalid("lifetime too long".into()));
        }
        Ok(claims)
    }

    /// The whole check: [`Self::decode`] (reloading keys once when the `kid` is new), then
    /// the blacklist and the user's "revoked before" marker. Fails closed.
    pub async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let claims = match self.decode(token) {
            Err(TokenError::UnknownKey) if self.may_reload().await => {
                let _ = self.reload_keys().await;
                self.decode(token)?
            }
            other => other?,
        };
        self.check_revocation(&claims).await?;
        Ok(claims)
    }

    /// Reloads on an unknown kid at most once per [`UNKNOWN_KID_RELOAD`], so tokens with
    /// made-up kids cannot make every request a Redis read.
    async fn may_reload(&self) -> bool {
        let mut last = self.inner.last_reload.lock().await;
        if last.is_some_and(|t| t.elapsed() < UNKNOWN_KID_RELOAD) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }

    /// Blacklist and "revoked before" in one pipelined round trip.
    pub async fn check_revocation(&self, claims: &Claims) -> Result<(), TokenError> {
        let names = &self.inner.names;
        let pipeline = self.inner.redis.next().pipeline();
        let jti = claims.jti.to_string();
        let queued: Result<(), _> = async {
            let _: () = pipeline.exists(names.blacklisted(&jti)).await?;
            let _: () = pipeline.get(names.revoked_before(claims.sub)).await?;
            Ok::<(), fred::error::Error>(())
        }
        .await;
        queued.map_err(|_| TokenError::Unavailable)?;
        let (blacklisted, revoked_before): (i64, Option<i64>) =
            pipeline.all().await.map_err(|e| {
                tracing::error!(error = %e, "Revocation check failed; refusing the token.");
                TokenError::Unavailable
            })?;
        if blacklisted > 0 {
            return Err(TokenError::Revoked);
        }
        // Issued at or before the marker's millisecond: revoked.
        if revoked_before.is_some_and(|ms| claims.issued_at_ms() <= ms) {
            return Err(TokenError::Revoked);
        }
        Ok(())
    }
}
