use std::sync::Arc;

use common::clock::SharedClock;
use common::keys::Keys;
use sea_orm::DatabaseConnection;
use service_kit::outbox::RelayHandle;
use service_kit::redis::Pool;

use crate::config::PaymentsConfig;
use crate::provider::PaymentProvider;

/// What every handler, the consumer, the sweeps and the settlement worker can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub redis: Pool,
    pub keys: Keys,
    pub clock: SharedClock,
    pub relay: RelayHandle,
    pub provider: Arc<dyn PaymentProvider>,
    pub config: Arc<PaymentsConfig>,
    /// Wakes the applier of accepted webhook deliveries.
    pub webhooks: service_kit::wake::Wake,
    /// Writes webhook receipts, concurrent deliveries together.
    pub receipts: crate::store::receipts::Writer,
    /// Webhook deliveries being answered now: the applier gives way to them.
    pub answering: crate::jobs::answering::InFlight,
}

impl AppState {
    pub fn new(
        kit: &service_kit::Kit,
        relay: RelayHandle,
        provider: Arc<dyn PaymentProvider>,
        config: PaymentsConfig,
    ) -> Self {
        let receipts = crate::store::receipts::Writer::start(
            kit.db.clone(),
            kit.clock.clone(),
            config.receipt_writers,
        );
        Self {
            db: kit.db.clone(),
            redis: kit.redis.clone(),
            keys: kit.keys.clone(),
            clock: kit.clock.clone(),
            relay,
            provider,
            config: Arc::new(config),
            webhooks: service_kit::wake::Wake::default(),
            receipts,
            answering: crate::jobs::answering::InFlight::default(),
        }
    }
}
