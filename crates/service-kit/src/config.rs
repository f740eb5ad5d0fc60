//! Configuration from environment variables, with defaults that work on a laptop.
//!
//! Every service reads the same [`BaseConfig`]; service-specific settings live in the
//! service's own `config.rs` and use the helpers here. Secrets are [`SecretString`]s so
//! they never reach a log line.

use std::net::IpAddr;
use std::str::FromStr;

use secrecy::SecretString;

#[derive(Debug, thiserror::Error)]
#[error("environment variable {name} is invalid: {reason}")]
pub struct ConfigError {
    pub name: String,
    pub reason: String,
}

/// The raw value of `name`, if set and not empty.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

pub fn string(name: &str, default: &str) -> String {
    var(name).unwrap_or_else(|| default.to_owned())
}

pub fn secret(name: &str) -> Option<SecretString> {
    var(name).map(SecretString::from)
}

/// `raw` (the value of `name`) as a pool size in `1..=max`, or `default` when unset.
pub fn pool_size(
    name: &str,
    raw: Option<String>,
    default: u32,
    max: u32,
) -> Result<u32, ConfigError> {
    bounded(name, raw, default, max, "a pool size")
}

/// `raw` (the value of `name`) as a whole number of `what` in `1..=max`, or `default`
/// when unset.
fn bounded(
    name: &str,
    raw: Option<String>,
    default: u32,
    max: u32,
    what: &str,
) -> Result<u32, ConfigError> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    match raw.trim().parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(ConfigError {
            name: name.to_owned(),
            reason: format!("{raw:?} is not {what} from 1 to {max}"),
        }),
    }
}

/// The most waiting events a consumer applies in one transaction: `name` in `1..=500`, or
/// `default` when unset (see [`crate::Kit::consume_in_batches`]).
pub fn event_batch(name: &str, default: usize) -> Result<usize, ConfigError> {
    batch_size(name, default, 500)
}

/// A batch size: `name` in `1..=max`, or `default` when unset.
pub fn batch_size(name: &str, default: usize, max: u32) -> Result<usize, ConfigError> {
    let default = u32::try_from(default).unwrap_or(u32::MAX);
    let n = bounded(name, var(name), default, max, "a batch size")?;
    Ok(usize::try_from(n).unwrap_or(1))
}

/// `name` parsed as `T`, or `default` when unset.
pub fn parse<T>(name: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|e: T::Err| ConfigError {
            name: name.to_owned(),
            reason: e.to_string(),
        }),
    }
}

pub fn flag(name: &str, default: bool) -> Result<bool, ConfigError> {
    match var(name).as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => Err(ConfigError {
            name: name.to_owned(),
            reason: format!("expected true or false, got {other:?}"),
        }),
    }
}

/// An IP network: an address and a prefix length (`10.0.0.0/8`, `::1/128`). A bare
/// address is a network of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn contains(&self, ip: &IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(*ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(*ip) & mask
            }
            (IpAddr::V6(_), IpAddr::V4(ip)) => self.contains(&IpAddr::V6(ip.to_ipv6_mapped())),
            (IpAddr::V4(_), IpAddr::V6(ip)) => ip
                .to_ipv4_mapped()
                .is_some_and(|v4| self.contains(&IpAddr::V4(v4))),
        }
    }
}

impl FromStr for IpNet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|e| format!("{s:?}: {e}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: prefix must be 0 to {max}"))?,
        };
        Ok(Self { addr, prefix })
    }
}

/// Comma-separated IP addresses or networks (CIDR).
pub fn ip_list(name: &str, default: &str) -> Result<Vec<IpNet>, ConfigError> {
    string(name, default)
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse().map_err(|reason| ConfigError {
                name: name.to_owned(),
                reason,
            })
        })
        .collect()
}

/// Settings every service shares.
#[derive(Debug, Clone)]
pub struct BaseConfig {
    /// `auth`, `kyc`, ...: names the service in logs, metrics, events and the default DB file.
    pub service: &'static str,
    pub host: String,
    pub port: u16,
    /// `<SERVICE>_DATABASE_URL`, else `DATABASE_URL`, else a SQLite file in `DATA_DIR`.
    pub database_url: String,
    pub redis_url: String,
    /// Prepended to every Redis name (tests, several environments on one Redis).
    pub redis_prefix: String,
    pub data_dir: String,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    /// Peers whose `X-Forwarded-For` is believed (the gateway), as addresses or networks.
    pub trusted_proxies: Vec<IpNet>,
    pub max_body_bytes: usize,
    /// `REDIS_POOL_SIZE`: clients in the service's shared Redis pool (blocking queue reads
    /// and the pub/sub subscriber have their own connections).
    pub redis_pool_size: u32,
    /// `DATABASE_POOL_SIZE`: most database connections; unset, 16 on PostgreSQL and 8 on
    /// SQLite.
    pub database_pool_size: Option<u32>,
    /// `TASK_STALL_SECS` (60, 1-3600): how long a background task (relay, consumer,
    /// worker, sweep) may go without a heartbeat before it counts as hung and is restarted.
    pub task_stall: std::time::Duration,
    /// `EVENT_SIGNING_KEY` (base64 of a 32-byte Ed25519 seed) or `EVENT_SIGNING_KEY_FILE`:
    /// the key the service's outbox relay signs its envelopes with (unset: unsigned).
    pub event_signer: Option<common::events::signing::Signer>,
    /// `EVENT_PUBLIC_KEYS` (`service=base64,...`): the producers' public keys; when set,
    /// the service's consumers accept only events signed by their type's producer.
    pub event_keyring: Option<std::sync::Arc<common::events::signing::Keyring>>,
}

/// The service's event signing key from `EVENT_SIGNING_KEY` or `EVENT_SIGNING_KEY_FILE`.
fn event_signer(service: &str) -> Result<Option<common::events::signing::Signer>, ConfigError> {
    let seed = match (var("EVENT_SIGNING_KEY"), var("EVENT_SIGNING_KEY_FILE")) {
        (Some(seed), _) => seed,
        (None, Some(path)) => std::fs::read_to_string(&path).map_err(|e| ConfigError {
            name: "EVENT_SIGNING_KEY_FILE".into(),
            reason: format!("cannot read {path}: {e}"),
        })?,
        (None, None) => return Ok(None),
    };
    let Some(producer) = common::events::Service::named(service) else {
        return Ok(None);
    };
    common::events::signing::Signer::from_base64(producer, &seed)
        .map(Some)
        .map_err(|e| ConfigError {
            name: "EVENT_SIGNING_KEY".into(),
            reason: e.to_string(),
        })
}

impl BaseConfig {
    pub fn from_env(service: &'static str, default_port: u16) -> Result<Self, ConfigError> {
        let data_dir = string("DATA_DIR", "data");
        let service_db = format!("{}_DATABASE_URL", service.to_ascii_uppercase());
        let database_url = var(&service_db)
            .or_else(|| var("DATABASE_URL"))
            .unwrap_or_else(|| format!("sqlite://{data_dir}/{service}.db?mode=rwc"));
        Ok(Self {
            service,
            host: string("HOST", "127.0.0.1"),
            port: parse("PORT", default_port)?,
            database_url,
            redis_url: string("REDIS_URL", "redis://127.0.0.1:6379"),
            redis_prefix: string("REDIS_PREFIX", ""),
            data_dir,
            jwt_issuer: string("JWT_ISSUER", "vestio-auth"),
            jwt_audience: string("JWT_AUDIENCE", "vestio"),
            trusted_proxies: ip_list("TRUSTED_PROXIES", "")?,
            max_body_bytes: parse("MAX_BODY_BYTES", 256 * 1024)?,
            redis_pool_size: pool_size("REDIS_POOL_SIZE", var("REDIS_POOL_SIZE"), 4, 64)?,
            database_pool_size: match var("DATABASE_POOL_SIZE") {
                None => None,
                raw => Some(pool_size("DATABASE_POOL_SIZE", raw, 16, 256)?),
            },
            task_stall: std::time::Duration::from_secs(u64::from(bounded(
                "TASK_STALL_SECS",
                var("TASK_STALL_SECS"),
                60,
                3600,
                "a number of seconds",
            )?)),
            event_signer: event_signer(service)?,
            event_keyring: match var("EVENT_PUBLIC_KEYS") {
                None => None,
                Some(text) => Some(std::sync::Arc::new(
                    common::events::signing::Keyring::parse(&text).map_err(|e| ConfigError {
                        name: "EVENT_PUBLIC_KEYS".into(),
                        reason: e.to_string(),
                    })?,
                )),
            },
        })
    }

    /// The service's database, its pool sized by `DATABASE_POOL_SIZE`, with every pending
    /// migration of `M` applied.
    pub async fn database<M: sea_orm_migration::MigratorTrait>(
        &self,
    ) -> Result<sea_orm::DatabaseConnection, sea_orm::DbErr> {
        let db = crate::db::connect_sized(&self.database_url, self.database_pool_size).await?;
        M::up(&db, None).await?;
        Ok(db)
    }

    /// The service's shared Redis pool of `REDIS_POOL_SIZE` clients.
    pub async fn redis(&self) -> Result<crate::redis::Pool, fred::error::Error> {
        crate::redis::pool(&self.redis_url, self.redis_pool_size as usize).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_contain_their_addresses_only() {
        let net: IpNet = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains(&"10.1.200.3".parse().unwrap()));
        assert!(!net.contains(&"10.2.0.1".parse().unwrap()));
        let one: IpNet = "127.0.0.1".parse().unwrap();
        assert!(one.contains(&"127.0.0.1".parse().unwrap()));
        assert!(!one.contains(&"127.0.0.2".parse().unwrap()));
        assert!(one.contains(&"::ffff:127.0.0.1".parse().unwrap()));
        let all: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(&"8.8.8.8".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<IpNet>().is_err());
        assert!("nonsense".parse::<IpNet>().is_err());
    }

    #[test]
    fn pool_sizes_are_bounded_and_named_in_their_error() {
        assert_eq!(pool_size("P", None, 4, 64).unwrap(), 4);
        assert_eq!(pool_size("P", Some(" 12 ".into()), 4, 64).unwrap(), 12);
        for bad in ["0", "65", "-1", "four"] {
            let err = pool_size("P", Some(bad.into()), 4, 64).unwrap_err();
            assert_eq!(err.name, "P");
            assert!(err.reason.contains("from 1 to 64"), "{err}");
        }
    }

    #[test]
    fn parse_names_the_variable_in_its_error() {
        // SAFETY-free: a name nobody sets.
        let err = ConfigError {
            name: "X".into(),
            reason: "bad".into(),
        };
        assert_eq!(err.to_string(), "environment variable X is invalid: bad");
        assert_eq!(parse::<u16>("VESTIO_SURELY_UNSET_VAR", 7).ok(), Some(7));
    }
}
