use std::sync::Arc;

use common::clock::SharedClock;
use common::keys::Keys;
use sea_orm::DatabaseConnection;
use service_kit::outbox::RelayHandle;
use service_kit::ratelimit::RateLimiter;
use service_kit::redis::Pool;

use crate::config::KycConfig;
use crate::identity::IdentityVerifier;
use crate::store::crypto::IdentityCipher;
use crate::store::storage::DocumentStore;

/// What every handler and the worker can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub redis: Pool,
    pub keys: Keys,
    pub clock: SharedClock,
    pub relay: RelayHandle,
    pub storage: Arc<dyn DocumentStore>,
    pub cipher: IdentityCipher,
    pub verifier: Arc<dyn IdentityVerifier>,
    pub limiter: RateLimiter,
    pub config: Arc<KycConfig>,
}

impl AppState {
    /// The state from the kit's connections and the configured storage, identity key and
    /// identity verifier.
    pub fn new(
        kit: &service_kit::Kit,
        relay: RelayHandle,
        config: KycConfig,
    ) -> anyhow::Result<Self> {
        let storage = crate::store::storage::from_config(&config.storage)?;
        let cipher = IdentityCipher::load(
            crate::store::crypto::KEY_VAR,
            config.identity_key.clone(),
            &config.identity_key_file,
            config.generate_identity_key,
        )?;
        Ok(Self {
            db: kit.db.clone(),
            redis: kit.redis.clone(),
            limiter: RateLimiter::new(kit.redis.clone(), kit.keys.clone())
                .with_clock(kit.clock.clone()),
            keys: kit.keys.clone(),
            clock: kit.clock.clone(),
            relay,
            storage,
            cipher,
            verifier: crate::identity::from_env()?,
            config: Arc::new(config),
        })
    }
}
