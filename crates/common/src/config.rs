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

/// Comma-separated IP addresses.
pub fn ip_list(name: &str, default: &str) -> Result<Vec<IpAddr>, ConfigError> {
    string(name, default)
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|e: std::net::AddrParseError| ConfigError {
                    name: name.to_owned(),
                    reason: format!("{s:?}: {e}"),
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
    /// Peers whose `X-Forwarded-For` is believed (the gateway).
    pub trusted_proxies: Vec<IpAddr>,
    pub max_body_bytes: usize,
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
