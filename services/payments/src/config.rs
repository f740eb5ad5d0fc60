//! The payments service's settings (environment variables; see README.md for the table).

use std::time::Duration;

use secrecy::SecretString;
use service_kit::config::{self, BaseConfig, ConfigError};
use service_kit::webhooks::WebhookSecret;

/// Which provider moves the money, and how it is reached.
#[derive(Debug, Clone)]
pub enum ProviderConfig {
    /// `PAYMENTS_PROVIDER=sandbox` (the default): our simulated provider
    /// (`crates/sandbox-provider`), for `make run` and tests.
    Sandbox {
        /// `SANDBOX_URL` (http://127.0.0.1:8090): its API.
        url: String,
        /// `SANDBOX_SECRET_KEY` (sk_test_sandbox): the bearer for its API.
        secret_key: SecretString,
        /// `SANDBOX_WEBHOOK_SECRETS`: `whsec_...`, several (space-separated) during a
        /// rotation; a delivery signed by any of them is accepted.
        webhook_secrets: Vec<WebhookSecret>,
    },
    /// `PAYMENTS_PROVIDER=paystack`: Paystack's API.
    Paystack {
        /// `PAYSTACK_URL` (https://api.paystack.co).
        url: String,
        /// `PAYSTACK_SECRET_KEY`: the API bearer and the webhooks' HMAC-SHA512 key.
        secret_key: SecretString,
    },
}

impl ProviderConfig {
    /// The name in `POST /api/payments/webhooks/{provider}` and in the payments' rows.
    pub fn name(&self) -> &'static str {
        match self {
            ProviderConfig::Sandbox { .. } => "sandbox",
            ProviderConfig::Paystack { .. } => "paystack",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PaymentsConfig {
    pub base: BaseConfig,
    pub provider: ProviderConfig,
    /// `PAYMENTS_FUNDING_WINDOW_HOURS` (48): how long an investor has to pay an accepted
    /// offer's price.
    pub funding_window: chrono::Duration,
    /// `PAYMENTS_SWEEP_INTERVAL_SECS` (60): how often expiry and reconciliation run.
    pub sweep_interval: Duration,
    /// `PAYMENTS_RECONCILE_AFTER_SECS` (900): a payment pending this long is verified with
    /// the provider by the reconciliation sweep.
    pub reconcile_after: chrono::Duration,
    /// `PAYMENTS_WEBHOOK_WAIT_MS` (5000): how long a duplicate delivery waits for the
    /// first one's commit before answering 409 (the provider retries).
    pub webhook_wait: Duration,
    /// `PAYMENTS_WORKER_IN_PROCESS` (true): the settlement worker runs in `payments serve`;
    /// false when it runs as `payments worker` processes of its own.
    pub worker_in_process: bool,
    /// `PAYMENTS_APPLY_IN_PROCESS` (true): the applier of accepted webhook deliveries
    /// runs in `payments serve`, woken by each one; false: only `payments worker`
    /// processes apply them (they always do too), polling every second.
    pub apply_in_process: bool,
    /// `PAYMENTS_APPLY_MAX_LAG_MS` (5000): while this process is answering webhook
    /// deliveries, its applier waits for a quiet moment before a round, at most this long
    /// (then it applies rounds back to back until it has caught up): a provider's burst is
    /// answered first, its effects follow. 0: never wait.
    pub apply_max_lag: Duration,
    /// `PAYMENTS_RECEIPT_WRITERS` (1): batches of webhook receipts written side by side
    /// on PostgreSQL (SQLite: always 1).
    pub receipt_writers: usize,
    /// `PAYMENTS_SETTLEMENT_BATCH` (32, 1-256): settlement jobs (payouts, distributions,
    /// refunds) a worker takes from a queue at once: read together, their transfers sent
    /// side by side (at most 8 in flight), their outcomes recorded in one transaction.
    pub settlement_batch: usize,
    /// `PAYMENTS_WORKER_ID` (unset: the task's id): the settlement worker's queue id; a
    /// fixed one (a pod's name) lets a replaced process take back its in-flight jobs at
    /// once instead of after the dead worker's heartbeat expires.
    pub worker_id: Option<String>,
}

impl PaymentsConfig {
    /// The defaults on `base` with `provider` (`from_env` starts from them): for tests
    /// and tools that build the service in code.
    pub fn with_base(base: BaseConfig, provider: ProviderConfig) -> Self {
        Self {
            base,
            provider,
            funding_window: chrono::Duration::hours(48),
            sweep_interval: Duration::from_secs(60),
            reconcile_after: chrono::Duration::seconds(900),
            webhook_wait: Duration::from_millis(5000),
            worker_in_process: true,
            apply_in_process: true,
            apply_max_lag: Duration::from_millis(5000),
            receipt_writers: 1,
            settlement_batch: 32,
            worker_id: None,
        }
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        let provider = match config::string("PAYMENTS_PROVIDER", "sandbox").as_str() {
            "sandbox" => ProviderConfig::Sandbox {
                url: config::string("SANDBOX_URL", "http://127.0.0.1:8090"),
                secret_key: config::secret("SANDBOX_SECRET_KEY")
                    .unwrap_or_else(|| SecretString::from("sk_test_sandbox")),
                webhook_secrets: service_kit::webhooks::parse_secrets(
                    &config::var("SANDBOX_WEBHOOK_SECRETS").unwrap_or_default(),
                )
                .map_err(|reason| ConfigError {
                    name: "SANDBOX_WEBHOOK_SECRETS".into(),
                    reason,
                })?,
            },
            "paystack" => ProviderConfig::Paystack {
                url: config::string("PAYSTACK_URL", "https://api.paystack.co"),
                secret_key: config::secret("PAYSTACK_SECRET_KEY").ok_or_else(|| ConfigError {
                    name: "PAYSTACK_SECRET_KEY".into(),
                    reason: "required when PAYMENTS_PROVIDER=paystack".into(),
                })?,
            },
            other => {
                return Err(ConfigError {
                    name: "PAYMENTS_PROVIDER".into(),
                    reason: format!("{other:?} is not sandbox or paystack"),
                });
            }
        };
        let d = Self::with_base(BaseConfig::from_env("payments", 8085)?, provider);
        let hours: i64 = config::parse("PAYMENTS_FUNDING_WINDOW_HOURS", 48)?;
        if !(1..=24 * 30).contains(&hours) {
            return Err(ConfigError {
                name: "PAYMENTS_FUNDING_WINDOW_HOURS".into(),
                reason: "between 1 and 720 hours".into(),
            });
        }
        Ok(Self {
            funding_window: chrono::Duration::hours(hours),
            sweep_interval: Duration::from_secs(config::parse(
                "PAYMENTS_SWEEP_INTERVAL_SECS",
                d.sweep_interval.as_secs(),
            )?),
            reconcile_after: chrono::Duration::seconds(config::parse(
                "PAYMENTS_RECONCILE_AFTER_SECS",
                d.reconcile_after.num_seconds(),
            )?),
            webhook_wait: Duration::from_millis(config::parse(
                "PAYMENTS_WEBHOOK_WAIT_MS",
                5000u64,
            )?),
            worker_in_process: config::flag("PAYMENTS_WORKER_IN_PROCESS", true)?,
            apply_in_process: config::flag("PAYMENTS_APPLY_IN_PROCESS", true)?,
            apply_max_lag: Duration::from_millis(config::parse(
                "PAYMENTS_APPLY_MAX_LAG_MS",
                d.apply_max_lag.as_millis().try_into().unwrap_or(u64::MAX),
            )?),
            receipt_writers: config::parse("PAYMENTS_RECEIPT_WRITERS", d.receipt_writers)?.max(1),
            settlement_batch: config::batch_size(
                "PAYMENTS_SETTLEMENT_BATCH",
                d.settlement_batch,
                256,
            )?,
            worker_id: match config::var("PAYMENTS_WORKER_ID") {
                Some(id) if id.contains(['{', '}']) => {
                    return Err(ConfigError {
                        name: "PAYMENTS_WORKER_ID".into(),
                        reason: "no braces".into(),
                    });
                }
                other => other,
            },
            ..d
        })
    }
}
