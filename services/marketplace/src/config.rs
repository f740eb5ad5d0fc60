//! The marketplace service's settings (environment variables; see README.md for the table).

use std::time::Duration;

use rust_decimal::Decimal;
use service_kit::config::{self, BaseConfig, ConfigError};

use crate::domain::pricing::Rate;

#[derive(Debug, Clone)]
pub struct MarketplaceConfig {
    pub base: BaseConfig,
    /// Highest annual discount rate an offer may carry (`MARKETPLACE_MAX_RATE`, percent;
    /// the lowest is always above 0).
    pub max_rate: Rate,
    /// Lowest rate, inclusive (`MARKETPLACE_MIN_RATE`, percent); unset or 0: anything
    /// above 0.
    pub min_rate: Option<Rate>,
    /// Offers need at least this many days between today and the due date.
    pub min_days_to_due: i64,
    /// The platform fee, in basis points of the face value, paid by the seller.
    pub fee_bps: u32,
    /// At most this many active (pending or reserved) offers per invoice.
    pub max_active_offers: i64,
    /// An offer's life when `expires_in_hours` is not given.
    pub default_offer_hours: i64,
    /// The longest `expires_in_hours` accepted.
    pub max_offer_hours: i64,
    /// How often the expiry sweep runs.
    pub sweep_interval: Duration,
    /// How long an accepted offer waits for the invoice service's answer before the sweep
    /// releases it (`MARKETPLACE_RESERVATION_TIMEOUT_SECS`).
    pub reservation_timeout: Duration,
    /// Most offers placed in one transaction (`MARKETPLACE_OFFER_BATCH`, 1 to 1000): the
    /// offers that arrive while a batch is written go in the next (1: each alone).
    pub offer_batch: usize,
    /// Batches of offers written at once on PostgreSQL (`MARKETPLACE_OFFER_WRITERS`, 1 to
    /// 16): a batch's time is mostly its round trips waiting, so writers side by side
    /// overlap their waits. SQLite writes one transaction at a time: there it is 1.
    pub offer_writers: usize,
}

impl MarketplaceConfig {
    /// The defaults on `base` (`from_env` starts from them): for tests and
    /// tools that build the service in code.
    pub fn with_base(base: BaseConfig) -> Self {
        Self {
            base,
            max_rate: Rate::from_millionths(60 * 10_000),
            min_rate: None,
            min_days_to_due: 7,
            fee_bps: 100,
            max_active_offers: 20,
            default_offer_hours: 72,
            max_offer_hours: 168,
            sweep_interval: Duration::from_secs(30),
            reservation_timeout: Duration::from_secs(300),
            offer_batch: 64,
            offer_writers: 1,
        }
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        let d = Self::with_base(BaseConfig::from_env("marketplace", 8084)?);
        let max_rate = match config::var("MARKETPLACE_MAX_RATE") {
            None => d.max_rate,
            Some(raw) => Rate::parse(&raw, Rate::ceiling()).map_err(|e| ConfigError {
                name: "MARKETPLACE_MAX_RATE".into(),
                reason: e,
            })?,
        };
        let min_rate = match config::var("MARKETPLACE_MIN_RATE") {
            None => None,
            Some(raw) if raw.trim().parse::<Decimal>() == Ok(Decimal::ZERO) => None,
            Some(raw) => Some(Rate::parse(&raw, max_rate).map_err(|e| ConfigError {
                name: "MARKETPLACE_MIN_RATE".into(),
                reason: e,
            })?),
        };
        let fee_bps: u32 = config::parse("MARKETPLACE_FEE_BPS", d.fee_bps)?;
        if fee_bps > 10_000 {
            return Err(ConfigError {
                name: "MARKETPLACE_FEE_BPS".into(),
                reason: "at most 10000 (100%)".into(),
            });
        }
        Ok(Self {
            max_rate,
            offer_batch: config::batch_size("MARKETPLACE_OFFER_BATCH", d.offer_batch, 1000)?,
            offer_writers: config::batch_size("MARKETPLACE_OFFER_WRITERS", d.offer_writers, 16)?,
            min_rate,
            min_days_to_due: config::parse("MARKETPLACE_MIN_DAYS_TO_DUE", d.min_days_to_due)?,
            fee_bps,
            max_active_offers: config::parse("MARKETPLACE_MAX_ACTIVE_OFFERS", d.max_active_offers)?,
            default_offer_hours: config::parse(
                "MARKETPLACE_OFFER_TTL_HOURS",
                d.default_offer_hours,
            )?,
            max_offer_hours: config::parse("MARKETPLACE_OFFER_MAX_TTL_HOURS", d.max_offer_hours)?,
            sweep_interval: Duration::from_secs(config::parse(
                "MARKETPLACE_SWEEP_INTERVAL_SECS",
                d.sweep_interval.as_secs(),
            )?),
            reservation_timeout: Duration::from_secs(config::parse(
                "MARKETPLACE_RESERVATION_TIMEOUT_SECS",
                d.reservation_timeout.as_secs(),
            )?),
            base: d.base,
        })
    }

    /// The configured rate ceiling as a percentage.
    pub fn max_rate_percent(&self) -> Decimal {
        self.max_rate.percent()
    }

    /// What prices an offer besides its rate.
    pub fn terms(&self) -> crate::domain::pricing::Terms {
        crate::domain::pricing::Terms {
            min_days_to_due: self.min_days_to_due,
            fee_bps: self.fee_bps,
        }
    }
}
