use std::sync::Arc;

use common::clock::SharedClock;
use common::keys::Keys;
use sea_orm::DatabaseConnection;
use service_kit::crypto::FieldCipher;
use service_kit::outbox::RelayHandle;
use service_kit::ratelimit::RateLimiter;
use service_kit::redis::Pool;

use crate::config::AuthConfig;
use crate::store::keystore::KeyStore;

impl AppState {
    /// The client's address as a rate-limit subject (`X-Forwarded-For` believed only from
    /// `TRUSTED_PROXIES`).
    pub fn client_key(&self, req: &actix_web::HttpRequest) -> String {
        service_kit::http::client_ip(req, &self.config.base.trusted_proxies)
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "unknown".into())
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub redis: Pool,
    pub keys: Keys,
    pub keystore: KeyStore,
    pub clock: SharedClock,
    pub limiter: RateLimiter,
    pub relay: RelayHandle,
    /// Encrypts second-factor secrets at rest (`AUTH_TOTP_KEY` or its file).
    pub totp_cipher: FieldCipher,
    pub config: Arc<AuthConfig>,
}

impl AppState {
    pub fn new(
        kit: &service_kit::Kit,
        keystore: KeyStore,
        relay: RelayHandle,
        totp_cipher: FieldCipher,
        config: AuthConfig,
    ) -> Self {
        Self {
            totp_cipher,
            db: kit.db.clone(),
            redis: kit.redis.clone(),
            keys: kit.keys.clone(),
            keystore,
            limiter: RateLimiter::new(kit.redis.clone(), kit.keys.clone())
                .with_clock(kit.clock.clone()),
            clock: kit.clock.clone(),
            relay,
            config: Arc::new(config),
        }
    }
}
