//! The invoice service's settings (environment variables; see README.md for the table).

use std::time::Duration;

use common::money::{Currency, Money};
use service_kit::config::{self, BaseConfig, ConfigError};

#[derive(Debug, Clone)]
pub struct InvoiceConfig {
    pub base: BaseConfig,
    /// Largest invoice amount, in minor units (`INVOICE_MAX_AMOUNT`, a decimal string).
    pub max_amount_minor: i64,
    /// A submitted invoice must fall due at least this many days ahead.
    pub min_days_ahead: i64,
    /// A funded invoice is overdue this many days after its due date.
    pub overdue_grace_days: i64,
    /// An overdue invoice is defaulted this many days after its due date.
    pub default_grace_days: i64,
    /// How often the overdue/default sweep runs.
    pub sweep_interval: Duration,
    /// `INVOICE_EVENT_BATCH` (64): the most waiting events the consumer applies in one
    /// transaction (1 to 500).
    pub event_batch: usize,
}

impl InvoiceConfig {
    /// The defaults on `base` (`from_env` starts from them): for tests and
    /// tools that build the service in code.
    pub fn with_base(base: BaseConfig) -> Self {
        Self {
            base,
            max_amount_minor: 1_000_000_000_000,
            min_days_ahead: 7,
            overdue_grace_days: 3,
            default_grace_days: 90,
            sweep_interval: Duration::from_secs(60),
            event_batch: 64,
        }
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        let d = Self::with_base(BaseConfig::from_env("invoice", 8083)?);
        let max_amount_minor = match config::var("INVOICE_MAX_AMOUNT") {
            None => d.max_amount_minor,
            Some(max) => Money::parse(&max, Currency::NGN)
                .map_err(|e| ConfigError {
                    name: "INVOICE_MAX_AMOUNT".into(),
                    reason: e.to_string(),
                })?
                .minor(),
        };
        Ok(Self {
            max_amount_minor,
            min_days_ahead: config::parse("INVOICE_MIN_DAYS_AHEAD", d.min_days_ahead)?,
            overdue_grace_days: config::parse("INVOICE_OVERDUE_GRACE_DAYS", d.overdue_grace_days)?,
            default_grace_days: config::parse("INVOICE_DEFAULT_GRACE_DAYS", d.default_grace_days)?,
            sweep_interval: Duration::from_secs(config::parse(
                "INVOICE_SWEEP_INTERVAL_SECS",
                d.sweep_interval.as_secs(),
            )?),
            event_batch: config::event_batch("INVOICE_EVENT_BATCH", d.event_batch)?,
            base: d.base,
        })
    }

    pub fn limits(&self) -> crate::domain::Limits {
        crate::domain::Limits {
            max_amount_minor: self.max_amount_minor,
        }
    }
}
