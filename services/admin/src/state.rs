use std::sync::Arc;

use common::clock::SharedClock;
use common::keys::Keys;
use sea_orm::DatabaseConnection;
use service_kit::cache::Cache;
use service_kit::redis::Pool;

use crate::config::AdminConfig;

/// What every handler, the consumer and the jobs can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub redis: Pool,
    pub keys: Keys,
    pub clock: SharedClock,
    pub cache: Cache,
    pub config: Arc<AdminConfig>,
}

impl AppState {
    pub fn new(kit: &service_kit::Kit, config: AdminConfig) -> Self {
        Self {
            db: kit.db.clone(),
            redis: kit.redis.clone(),
            keys: kit.keys.clone(),
            clock: kit.clock.clone(),
            cache: Cache::new(kit.redis.clone(), kit.keys.clone()),
            config: Arc::new(config),
        }
    }

    /// The chain key's bytes.
    pub fn chain_key(&self) -> &[u8] {
        use secrecy::ExposeSecret;
        self.config.chain_key.expose_secret().as_bytes()
    }
}
