//! The notifications service's settings (environment variables; see README.md for the table).

use std::time::Duration;

use secrecy::SecretString;
use service_kit::config::{self, BaseConfig, ConfigError};

/// Where push messages go.
#[derive(Debug, Clone)]
pub enum PushProvider {
    /// Logs each push (the default: nothing leaves the machine).
    Log,
    /// An FCM-style HTTP endpoint (`PUSH_HTTP_URL`), bearer `PUSH_HTTP_TOKEN`.
    Http {
        url: String,
        token: Option<SecretString>,
        timeout: Duration,
    },
}

impl PushProvider {
    /// The longest one push may take (the HTTP timeout).
    pub fn timeout(&self) -> Duration {
        match self {
            Self::Log => Duration::ZERO,
            Self::Http { timeout, .. } => *timeout,
        }
    }
}

#[derive(Debug, Clone)]
pub struct WsConfig {
    /// A WebSocket ticket is good for this long (`WS_TICKET_TTL_SECS`, 30).
    pub ticket_ttl_secs: u64,
    /// Frames waiting for one client at most (`WS_BUFFER`, 256); a client that falls this
    /// far behind is closed (4008) so it never slows the others.
    pub buffer: usize,
    /// Server pings this often (`WS_PING_INTERVAL_SECS`, 15).
    pub ping_interval: Duration,
    /// A client silent (no pong, no frame) this long is closed (`WS_CLIENT_TIMEOUT_SECS`, 45).
    pub client_timeout: Duration,
    /// Open connections' tokens are checked against the blacklist and "revoked before"
    /// markers this often (`WS_REVOCATION_CHECK_MS`, 2000).
    pub revocation_check: Duration,
    /// Channels one connection may subscribe to (`WS_MAX_SUBSCRIPTIONS`, 50).
    pub max_subscriptions: usize,
    /// At most this many missed notifications replayed by one `resume` (`WS_RESUME_MAX`, 200).
    pub resume_max: u64,
}

#[derive(Debug, Clone)]
pub struct NotificationsConfig {
    pub base: BaseConfig,
    pub ws: WsConfig,
    pub push: PushProvider,
    /// Push attempts before a job is dead-lettered (`PUSH_MAX_ATTEMPTS`, 5).
    pub push_max_attempts: u32,
    /// First retry backoff of a failed push (`PUSH_BACKOFF_MS`, 1000).
    pub push_backoff: Duration,
    /// Devices one user may register (`NOTIFICATIONS_MAX_DEVICES`, 10).
    pub max_devices: u64,
    /// `NOTIFICATIONS_EVENT_BATCH` (64): the most waiting events the consumer applies in
    /// one transaction (1 to 500).
    pub event_batch: usize,
}

impl NotificationsConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let d = Self::with_base(BaseConfig::from_env("notifications", 8087)?);
        let secs = |name: &str, default: Duration| -> Result<Duration, ConfigError> {
            Ok(Duration::from_secs(config::parse(name, default.as_secs())?))
        };
        let millis = |name: &str, default: Duration| -> Result<Duration, ConfigError> {
            let ms = u64::try_from(default.as_millis()).unwrap_or(u64::MAX);
            Ok(Duration::from_millis(config::parse(name, ms)?))
        };
        let ws = WsConfig {
            ticket_ttl_secs: config::parse("WS_TICKET_TTL_SECS", d.ws.ticket_ttl_secs)?,
            buffer: config::parse("WS_BUFFER", d.ws.buffer)?,
            ping_interval: secs("WS_PING_INTERVAL_SECS", d.ws.ping_interval)?,
            client_timeout: secs("WS_CLIENT_TIMEOUT_SECS", d.ws.client_timeout)?,
            revocation_check: millis("WS_REVOCATION_CHECK_MS", d.ws.revocation_check)?,
            max_subscriptions: config::parse("WS_MAX_SUBSCRIPTIONS", d.ws.max_subscriptions)?,
            resume_max: config::parse("WS_RESUME_MAX", d.ws.resume_max)?,
        };
        if ws.buffer == 0 {
            return Err(ConfigError {
                name: "WS_BUFFER".into(),
                reason: "must be at least 1".into(),
            });
        }
        let push = match config::string("PUSH_PROVIDER", "log").as_str() {
            "log" => PushProvider::Log,
            "http" => PushProvider::Http {
                url: config::var("PUSH_HTTP_URL").ok_or_else(|| ConfigError {
                    name: "PUSH_HTTP_URL".into(),
                    reason: "required when PUSH_PROVIDER=http".into(),
                })?,
                token: config::secret("PUSH_HTTP_TOKEN"),
                timeout: Duration::from_millis(config::parse("PUSH_HTTP_TIMEOUT_MS", 5000)?),
            },
            other => {
                return Err(ConfigError {
                    name: "PUSH_PROVIDER".into(),
                    reason: format!("{other:?}: expected \"log\" or \"http\""),
                });
            }
        };
        Ok(Self {
            ws,
            push,
            push_max_attempts: config::parse("PUSH_MAX_ATTEMPTS", d.push_max_attempts)?,
            push_backoff: millis("PUSH_BACKOFF_MS", d.push_backoff)?,
            max_devices: config::parse("NOTIFICATIONS_MAX_DEVICES", d.max_devices)?,
            event_batch: config::event_batch("NOTIFICATIONS_EVENT_BATCH", d.event_batch)?,
            base: d.base,
        })
    }

    /// The defaults on `base` (`from_env` starts from them), with the log provider.
    pub fn with_base(base: BaseConfig) -> Self {
        Self {
            base,
            ws: WsConfig {
                ticket_ttl_secs: 30,
                buffer: 256,
                ping_interval: Duration::from_secs(15),
                client_timeout: Duration::from_secs(45),
                revocation_check: Duration::from_millis(2000),
                max_subscriptions: 50,
                resume_max: 200,
            },
            push: PushProvider::Log,
            push_max_attempts: 5,
            push_backoff: Duration::from_millis(1000),
            max_devices: 10,
            event_batch: 64,
        }
    }
}
