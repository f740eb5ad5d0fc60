//! The admin service's settings (environment variables; see README.md for the table).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use service_kit::config::{self, BaseConfig, ConfigError};

/// The shortest chain key accepted, in bytes.
pub const MIN_CHAIN_KEY_BYTES: usize = 32;

#[derive(Debug, Clone)]
pub struct AdminConfig {
    pub base: BaseConfig,
    /// `AUDIT_CHAIN_KEY` (required, at least 32 bytes): the key of the audit log's hash
    /// chain. The database never holds it, so whoever can write the database cannot
    /// write a chain that verifies.
    pub chain_key: SecretString,
    /// `ADMIN_HEAD_COPY_SECS` (10): how often the chain's head (count and hash) is copied
    /// outside the database (Redis `audit:head` and the log).
    pub head_copy_interval: Duration,
    /// `ADMIN_EVENT_BATCH` (64): the most waiting events the consumer records in one
    /// transaction (1 to 500).
    pub event_batch: usize,
}

impl AdminConfig {
    /// The defaults on `base` with `chain_key` (`from_env` starts from them): for tests
    /// and tools that build the service in code.
    pub fn with_base(base: BaseConfig, chain_key: SecretString) -> Self {
        Self {
            base,
            chain_key,
            head_copy_interval: Duration::from_secs(10),
            event_batch: 64,
        }
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        let key = config::secret("AUDIT_CHAIN_KEY").ok_or_else(|| ConfigError {
            name: "AUDIT_CHAIN_KEY".into(),
            reason: format!(
                "required: a secret of at least {MIN_CHAIN_KEY_BYTES} bytes (make run keeps one in $DATA_DIR/audit-chain-key)"
            ),
        })?;
        if key.expose_secret().len() < MIN_CHAIN_KEY_BYTES {
            return Err(ConfigError {
                name: "AUDIT_CHAIN_KEY".into(),
                reason: format!("at least {MIN_CHAIN_KEY_BYTES} bytes"),
            });
        }
        let d = Self::with_base(BaseConfig::from_env("admin", 8086)?, key);
        let secs: u64 = config::parse("ADMIN_HEAD_COPY_SECS", d.head_copy_interval.as_secs())?;
        if secs == 0 {
            return Err(ConfigError {
                name: "ADMIN_HEAD_COPY_SECS".into(),
                reason: "at least 1".into(),
            });
        }
        let event_batch = config::event_batch("ADMIN_EVENT_BATCH", d.event_batch)?;
        Ok(Self {
            head_copy_interval: Duration::from_secs(secs),
            event_batch,
            ..d
        })
    }
}
