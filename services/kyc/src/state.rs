use std::sync::Arc;

use common::clock::SharedClock;
use common::keys::Keys;
use common::outbox::RelayHandle;
use common::ratelimit::RateLimiter;
use common::redis::Pool;
use sea_orm::DatabaseConnection;

use crate::config::KycConfig;
use crate::crypto::IdentityCipher;
use crate::identity::IdentityVerifier;
use crate::storage::DocumentStore;

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
