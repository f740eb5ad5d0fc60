use chrono::{DateTime, Utc};
use fred::prelude::HashesInterface;
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use secrecy::{ExposeSecret, SecretString};

use super::claims::{Claims, KycStatus, Role};
use crate::keys::Keys;
use fred::clients::Pool;

/// An RSA signing key and its public JWK.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    encoding: EncodingKey,
    pub jwk: Jwk,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh 2048-bit RSA key; returns the key and its PKCS#8 PEM (a secret).
    pub fn generate(kid: &str) -> anyhow::Result<(Self, SecretString)> {
        let mut rng = rand::thread_rng();
        let private = rsa::RsaPrivateKey::new(&mut rng, 2048)?;
        let pem = private.to_pkcs8_pem(LineEnding::LF)?;
        let pem = SecretString::from(pem.to_string());
        Ok((Self::from_pem(kid, &pem)?, pem))
    }

    /// A key from a PKCS#8 or PKCS#1 PEM.
    pub fn from_pem(kid: &str, pem: &SecretString) -> anyhow::Result<Self> {
        let encoding = EncodingKey::from_rsa_pem(pem.expose_secret().as_bytes())?;
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256)?;
        jwk.common.key_id = Some(kid.to_owned());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(KeyAlgorithm::RS256);
        Ok(Self {
            kid: kid.to_owned(),
            encoding,
            jwk,
        })
    }
}

/// Signs access tokens with the newest key; publishes every key's public half.
#[derive(Clone, Debug)]
pub struct JwtSigner {
    active: SigningKey,
    jwks: JwkSet,
    issuer: String,
    audience: String,
    ttl_secs: i64,
}

impl JwtSigner {
    /// `keys` must not be empty; the last is the one that signs.
    pub fn new(
        keys: Vec<SigningKey>,
        issuer: &str,
        audience: &str,
        ttl_secs: i64,
    ) -> anyhow::Result<Self> {
        let active = keys
            .last()
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no signing key"))?;
        let jwks = JwkSet {
            keys: keys.iter().map(|k| k.jwk.clone()).collect(),
        };
        Ok(Self {
            active,
            jwks,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl_secs: ttl_secs.clamp(1, super::ACCESS_TOKEN_MAX_SECS),
        })
    }

    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Claims for a new access token issued at `now`.
    pub fn claims(
        &self,
        user: uuid::Uuid,
        role: Role,
        kyc: KycStatus,
        sid: uuid::Uuid,
        now: DateTime<Utc>,
    ) -> Claims {
        let iat = now.timestamp();
        Claims {
            sub: user,
            role,
            kyc,
            jti: crate::new_id_at(now),
            sid,
            iat,
            nbf: iat,
            exp: iat + self.ttl_secs,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        }
    }

    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.active.kid.clone());
        Ok(jsonwebtoken::encode(
            &header,
            claims,
            &self.active.encoding,
        )?)
    }
}

/// Publishes the public keys for every verifier: one field per `kid` in the hash
/// `auth:jwks`. Several auth instances publish their keys side by side (a merge, never a
/// replacement), so a rotation on one instance cannot hide another's key.
pub async fn publish_jwks(redis: &Pool, keys: &Keys, jwks: &JwkSet) -> anyhow::Result<()> {
    let mut fields = Vec::with_capacity(jwks.keys.len());
    for jwk in &jwks.keys {
        if let Some(kid) = &jwk.common.key_id {
            fields.push((kid.clone(), serde_json::to_string(jwk)?));
        }
    }
    if !fields.is_empty() {
        let _: () = redis.hset(keys.jwks(), fields).await?;
    }
    Ok(())
}

/// Withdraws a retired key from `auth:jwks`; tokens it signed are refused from then on.
pub async fn retire_jwk(redis: &Pool, keys: &Keys, kid: &str) -> anyhow::Result<bool> {
    let removed: i64 = redis.hdel(keys.jwks(), kid).await?;
    Ok(removed > 0)
}
