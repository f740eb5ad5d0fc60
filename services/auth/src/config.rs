//! Auth's settings (environment variables; see README.md for the table).

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use service_kit::config::{self, BaseConfig, ConfigError};
use service_kit::ratelimit::Quota;

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub base: BaseConfig,
    /// Folder of RSA private keys `<kid>.pem`; the greatest kid signs.
    pub keys_dir: PathBuf,
    /// Generate a key when the folder is empty (local use; off in Kubernetes), and the
    /// second factors' key when its file is missing.
    pub generate_key: bool,
    /// Base64 AES-256 key encrypting second-factor secrets at rest (`AUTH_TOTP_KEY`);
    /// else read from `totp_key_file`.
    pub totp_key: Option<SecretString>,
    /// `AUTH_TOTP_KEY_FILE`, default `<keys_dir>/totp.key`.
    pub totp_key_file: PathBuf,
    pub access_ttl_secs: i64,
    pub refresh_ttl_days: i64,
    /// Failed logins allowed per (client IP, email).
    pub login_failures: Quota,
    /// Requests allowed per client IP on `/api/auth`.
    pub requests_per_ip: Quota,
}

impl AuthConfig {
    /// The defaults on `base` (`from_env` starts from them): for tests and
    /// tools that build the service in code.
    pub fn with_base(base: BaseConfig) -> Self {
        Self {
            keys_dir: PathBuf::from(&base.data_dir).join("keys"),
            generate_key: true,
            totp_key: None,
            totp_key_file: PathBuf::from(&base.data_dir).join("keys").join("totp.key"),
            access_ttl_secs: 900,
            refresh_ttl_days: 30,
            login_failures: Quota::new(5, Duration::from_secs(900)),
            requests_per_ip: Quota::new(300, Duration::from_secs(60)),
            base,
        }
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        let d = Self::with_base(BaseConfig::from_env("auth", 8081)?);
        let quota = |burst: &str, period: &str, default: Quota| -> Result<Quota, ConfigError> {
            Ok(Quota {
                burst: config::parse(burst, default.burst)?,
                period: Duration::from_secs(config::parse(period, default.period.as_secs())?),
            })
        };
        let keys_dir = config::var("JWT_KEYS_DIR").map_or(d.keys_dir, PathBuf::from);
        Ok(Self {
            totp_key: config::secret("AUTH_TOTP_KEY"),
            totp_key_file: config::var("AUTH_TOTP_KEY_FILE")
                .map_or_else(|| keys_dir.join("totp.key"), PathBuf::from),
            keys_dir,
            generate_key: config::flag("JWT_GENERATE_KEY", d.generate_key)?,
            access_ttl_secs: config::parse("ACCESS_TOKEN_TTL_SECS", d.access_ttl_secs)?,
            refresh_ttl_days: config::parse("REFRESH_TOKEN_TTL_DAYS", d.refresh_ttl_days)?,
            login_failures: quota(
                "LOGIN_FAILURES_BURST",
                "LOGIN_FAILURES_PERIOD_SECS",
                d.login_failures,
            )?,
            requests_per_ip: quota(
                "AUTH_RATE_BURST",
                "AUTH_RATE_PERIOD_SECS",
                d.requests_per_ip,
            )?,
            base: d.base,
        })
    }
}
