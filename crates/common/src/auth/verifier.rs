use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use fred::clients::{Client, Pipeline};
use fred::prelude::{HashesInterface, KeysInterface};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use tokio::sync::Mutex;

use super::claims::Claims;
use crate::clock::SharedClock;
use crate::keys::Keys;
use fred::clients::Pool;

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
/// Tokens whose signature and claims were verified, remembered so a client's next request
/// with the same token skips the RSA check (times are still checked on every use, and the
/// memo is emptied whenever keys are reloaded). Bounded: emptied when full.
const MEMO_CAPACITY: usize = 4096;

struct Inner {
    keys: RwLock<HashMap<String, DecodingKey>>,
    memo: std::sync::Mutex<HashMap<Box<str>, Claims>>,
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
                memo: std::sync::Mutex::new(HashMap::new()),
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
        // A retired key must stop verifying at once: forget what it verified.
        self.memo().clear();
        Ok(n)
    }

    fn memo(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Claims>> {
        self.inner.memo.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Signature, algorithm, issuer, audience and times; no Redis. A token verified before
    /// (same bytes, keys not reloaded since) skips the signature check; its times are
    /// checked on every call.
    pub fn decode(&self, token: &str) -> Result<Claims, TokenError> {
        let remembered = self.memo().get(token).cloned();
        let claims = match remembered {
            Some(claims) => claims,
            None => {
                let claims = self.decode_signed(token)?;
                let mut memo = self.memo();
                if memo.len() >= MEMO_CAPACITY {
                    memo.clear();
                }
                memo.insert(token.into(), claims.clone());
                claims
            }
        };
        self.check_times(&claims)?;
        Ok(claims)
    }

    /// Signature, algorithm, issuer and audience.
    fn decode_signed(&self, token: &str) -> Result<Claims, TokenError> {
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
        Ok(claims)
    }

    fn check_times(&self, claims: &Claims) -> Result<(), TokenError> {
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
        Ok(())
    }

    /// The whole check: [`Self::decode`] (reloading keys once when the `kid` is new), then
    /// the blacklist and the user's "revoked before" marker. Fails closed.
    pub async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let claims = self.verify_unrevoked(token).await?;
        self.check_revocation(&claims).await?;
        Ok(claims)
    }

    /// [`Self::decode`], reloading keys once when the `kid` is new; the revocation check
    /// is left to the caller ([`Self::queue_revocation`]).
    pub async fn verify_unrevoked(&self, token: &str) -> Result<Claims, TokenError> {
        match self.decode(token) {
            Err(TokenError::UnknownKey) => {
                self.reload_for_unknown_kid().await;
                self.decode(token)
            }
            other => other,
        }
    }

    /// On an unknown kid: reloads the keys, at most once per [`UNKNOWN_KID_RELOAD`] (so
    /// tokens with made-up kids cannot make every request a Redis read), holding the lock
    /// while it reloads, so that requests arriving together with a new key wait for the
    /// one reload and then find the key, instead of being refused meanwhile.
    async fn reload_for_unknown_kid(&self) {
        let mut last = self.inner.last_reload.lock().await;
        if last.is_some_and(|t| t.elapsed() < UNKNOWN_KID_RELOAD) {
            return;
        }
        *last = Some(Instant::now());
        if let Err(e) = self.reload_keys().await {
            tracing::warn!(error = %e, "Signing keys reload failed.");
        }
    }

    /// Blacklist and "revoked before" in one pipelined round trip.
    pub async fn check_revocation(&self, claims: &Claims) -> Result<(), TokenError> {
        let pipeline = self.inner.redis.next().pipeline();
        self.queue_revocation(&pipeline, claims).await?;
        let (blacklisted, revoked_before): (i64, Option<i64>) =
            pipeline.all().await.map_err(unavailable)?;
        judge_revocation(claims, blacklisted, revoked_before)
    }

    /// Queues the revocation reads (`EXISTS` of the blacklist entry, then `GET` of the
    /// user's "revoked before" marker) on `pipeline`, so that a handler sends them in the
    /// same round trip as its own reads; hand their two answers to [`judge_revocation`].
    pub async fn queue_revocation(
        &self,
        pipeline: &Pipeline<Client>,
        claims: &Claims,
    ) -> Result<(), TokenError> {
        let names = &self.inner.names;
        let queued: Result<(), fred::error::Error> = async {
            let _: () = pipeline
                .exists(names.blacklisted(&claims.jti.to_string()))
                .await?;
            let _: () = pipeline.get(names.revoked_before(claims.sub)).await?;
            Ok(())
        }
        .await;
        queued.map_err(unavailable)
    }

    /// A pool client, for a handler building the pipeline its reads and the revocation
    /// check share.
    pub fn redis(&self) -> &Pool {
        &self.inner.redis
    }
}

/// Redis could not answer: the check fails closed.
pub fn unavailable(error: fred::error::Error) -> TokenError {
    tracing::error!(%error, "Revocation check failed; refusing the token.");
    TokenError::Unavailable
}

/// The verdict on the answers to [`Verifier::queue_revocation`].
pub fn judge_revocation(
    claims: &Claims,
    blacklisted: i64,
    revoked_before: Option<i64>,
) -> Result<(), TokenError> {
    if blacklisted > 0 {
        return Err(TokenError::Revoked);
    }
    // Issued at or before the marker's millisecond: revoked.
    if revoked_before.is_some_and(|ms| claims.issued_at_ms() <= ms) {
        return Err(TokenError::Revoked);
    }
    Ok(())
}
