use std::sync::Arc;

use common::clock::SharedClock;
use common::keys::Keys;
use common::outbox::RelayHandle;
use common::ratelimit::RateLimiter;
use common::redis::Pool;
use sea_orm::DatabaseConnection;

use crate::config::AuthConfig;
use crate::keystore::KeyStore;

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
    pub config: Arc<AuthConfig>,
}
