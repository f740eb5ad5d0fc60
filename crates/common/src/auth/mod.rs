//! Access tokens: claims, RS256 signing (auth only) and verification (every service) and
//! revocation checks. The request extractor with role guards is the service kit's
//! (`service_kit::auth::AuthUser`).
//!
//! Key distribution: auth publishes its public keys as JWKs in the Redis hash
//! `auth:jwks` (one field per `kid`) (and serves the same set at `/api/auth/.well-known/jwks.json`). Verifiers
//! load the set from Redis at start, every minute, and at once (throttled) when a token
//! names a `kid` they do not know, so a new key is usable the moment auth publishes it and
//! rotation needs no downtime. No service calls auth over HTTP.

mod claims;
mod signer;
mod verifier;

pub use claims::{Claims, KycStatus, Role};
pub use signer::{JwtSigner, SigningKey, publish_jwks, retire_jwk};
pub use verifier::{TokenError, Verifier, judge_revocation, unavailable};

/// Access tokens live at most this long (seconds).
pub const ACCESS_TOKEN_MAX_SECS: i64 = 900;
