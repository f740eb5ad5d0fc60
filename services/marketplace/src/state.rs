use std::sync::Arc;

use common::clock::SharedClock;
use common::keys::Keys;
use sea_orm::DatabaseConnection;
use service_kit::cache::Cache;
use service_kit::outbox::RelayHandle;
use service_kit::redis::{PerThread, Pool};

use crate::config::MarketplaceConfig;

/// What every handler, the consumer and the sweep can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub redis: Pool,
    /// A Redis client per worker thread, for the hot reads (a listing view, trending):
    /// no hop to another thread's connection task.
    pub local_redis: PerThread,
    pub keys: Keys,
    pub clock: SharedClock,
    pub relay: RelayHandle,
    pub cache: Cache,
    pub config: Arc<MarketplaceConfig>,
    /// Rounds the background sweep has finished (a test waits on it to know the sweep
    /// looked at the clock it set).
    pub sweep_rounds: Arc<std::sync::atomic::AtomicU64>,
    /// Rebuilds of missing counters in flight (one database read per counter at a time).
    pub rebuilds: service_kit::flight::SingleFlight<Result<i64, String>>,
    /// Places the offers that arrive together in one transaction.
    pub placer: crate::store::offers::placing::Placer,
}

impl AppState {
    pub fn new(kit: &service_kit::Kit, relay: RelayHandle, config: MarketplaceConfig) -> Self {
        Self {
            db: kit.db.clone(),
            redis: kit.redis.clone(),
            local_redis: PerThread::new(&kit.base.redis_url),
            cache: Cache::new(kit.redis.clone(), kit.keys.clone()),
            keys: kit.keys.clone(),
            clock: kit.clock.clone(),
            relay,
            placer: crate::store::offers::placing::Placer::start(
                kit.db.clone(),
                kit.clock.clone(),
                config.max_active_offers,
                config.terms(),
                config.offer_batch,
                config.offer_writers,
            ),
            config: Arc::new(config),
            sweep_rounds: Arc::default(),
            rebuilds: Default::default(),
        }
    }
}
