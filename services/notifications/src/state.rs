use std::sync::Arc;

use common::auth::Verifier;
use common::clock::SharedClock;
use common::keys::Keys;
use sea_orm::DatabaseConnection;
use service_kit::redis::Pool;

use crate::config::NotificationsConfig;
use crate::ws::Hub;

/// What every handler, the consumer and the workers can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub redis: Pool,
    pub keys: Keys,
    pub clock: SharedClock,
    pub config: Arc<NotificationsConfig>,
    pub verifier: Verifier,
    pub hub: Hub,
}

impl AppState {
    pub fn new(
        kit: &service_kit::Kit,
        verifier: Verifier,
        hub: Hub,
        config: NotificationsConfig,
    ) -> Self {
        Self {
            db: kit.db.clone(),
            redis: kit.redis.clone(),
            keys: kit.keys.clone(),
            clock: kit.clock.clone(),
            config: Arc::new(config),
            verifier,
            hub,
        }
    }
}
