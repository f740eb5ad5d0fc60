//! The sandbox's settings, from `SANDBOX_*` environment variables with defaults that fit
//! `make run` (only the webhook secrets have none).

use std::time::Duration;

use anyhow::{Context, bail};
use service_kit::webhooks::{WebhookSecret, parse_secrets};

/// Where the sandbox listens, whom it trusts and where its webhooks go.
#[derive(Clone)]
pub struct SandboxConfig {
    pub host: String,
    /// 0: any free port (tests).
    pub port: u16,
    /// The bearer token of server-to-server calls (`Authorization: Bearer <secret_key>`).
    pub secret_key: String,
    /// The base URL a browser reaches the sandbox at (`http://localhost:8080/sandbox`): the
    /// start of `authorization_url` and of the checkout page's form actions. Empty: the
    /// sandbox's own address once bound ([`crate::Sandbox::url`]).
    pub public_url: String,
    /// Where webhooks are POSTed; `None`: deliveries are only recorded.
    pub webhook_url: Option<String>,
    /// Every delivery is signed with each (several signatures while a secret is rotated).
    pub webhook_secrets: Vec<WebhookSecret>,
    /// The first retry's delay; each further retry waits twice as long.
    pub retry_base: Duration,
    /// Attempts per delivery, the first included (at least 1).
    pub max_attempts: u32,
    /// How long a transfer stays pending before its outcome (and a success before its
    /// reversal, for accounts ending in 3).
    pub transfer_delay: Duration,
}

impl std::fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("secret_key", &"..")
            .field("public_url", &self.public_url)
            .field("webhook_url", &self.webhook_url)
            .field("webhook_secrets", &self.webhook_secrets.len())
            .field("retry_base", &self.retry_base)
            .field("max_attempts", &self.max_attempts)
            .field("transfer_delay", &self.transfer_delay)
            .finish()
    }
}

pub const DEFAULT_SECRET_KEY: &str = "sk_test_sandbox";

impl SandboxConfig {
    /// `SANDBOX_HOST` (127.0.0.1), `SANDBOX_PORT` (8090), `SANDBOX_SECRET_KEY`
    /// (`sk_test_sandbox`), `SANDBOX_PUBLIC_URL` (`http://localhost:8080/sandbox`),
    /// `SANDBOX_WEBHOOK_URL` (`http://127.0.0.1:8085/api/payments/webhooks/sandbox`; `off`:
    /// none), `SANDBOX_WEBHOOK_SECRETS` (required: space-separated `whsec_...`, the current
    /// one first), `SANDBOX_RETRY_BASE_MS` (1000), `SANDBOX_MAX_ATTEMPTS` (8),
    /// `SANDBOX_TRANSFER_DELAY_MS` (500).
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_vars(service_kit::config::var)
    }

    /// As [`Self::from_env`], reading the variables through `var` (set and not empty).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let string = |name: &str, default: &str| var(name).unwrap_or_else(|| default.to_owned());
        let number = |name: &str, default: u64| -> anyhow::Result<u64> {
            var(name).map_or(Ok(default), |raw| {
                raw.trim()
                    .parse()
                    .with_context(|| format!("{name} must be a whole number, not {raw:?}"))
            })
        };
        let secrets = var("SANDBOX_WEBHOOK_SECRETS").context(
            "SANDBOX_WEBHOOK_SECRETS is required: space-separated whsec_... secrets \
             (`sandbox-provider generate-secret` prints one)",
        )?;
        let webhook_secrets = parse_secrets(&secrets)
            .map_err(|e| anyhow::anyhow!("SANDBOX_WEBHOOK_SECRETS is invalid: {e}"))?;
        let webhook_url = match var("SANDBOX_WEBHOOK_URL") {
            Some(url) if url.trim().eq_ignore_ascii_case("off") => None,
            Some(url) => Some(url.trim().to_owned()),
            None => Some("http://127.0.0.1:8085/api/payments/webhooks/sandbox".to_owned()),
        };
        let port = u16::try_from(number("SANDBOX_PORT", 8090)?)
            .context("SANDBOX_PORT must be a port number")?;
        let max_attempts = u32::try_from(number("SANDBOX_MAX_ATTEMPTS", 8)?).unwrap_or(u32::MAX);
        if max_attempts == 0 {
            bail!("SANDBOX_MAX_ATTEMPTS must be at least 1");
        }
        Ok(Self {
            host: string("SANDBOX_HOST", "127.0.0.1"),
            port,
            secret_key: string("SANDBOX_SECRET_KEY", DEFAULT_SECRET_KEY),
            public_url: string("SANDBOX_PUBLIC_URL", "http://localhost:8080/sandbox"),
            webhook_url,
            webhook_secrets,
            retry_base: Duration::from_millis(number("SANDBOX_RETRY_BASE_MS", 1000)?),
            max_attempts,
            transfer_delay: Duration::from_millis(number("SANDBOX_TRANSFER_DELAY_MS", 500)?),
        })
    }

    /// A sandbox for tests: any port on 127.0.0.1, the default secret key, its own address
    /// as the public URL, retries from 20 ms, 5 attempts, transfers settled after 20 ms.
    pub fn for_tests(webhook_url: Option<String>, webhook_secrets: Vec<WebhookSecret>) -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 0,
            secret_key: DEFAULT_SECRET_KEY.to_owned(),
            public_url: String::new(),
            webhook_url,
            webhook_secrets,
            retry_base: Duration::from_millis(20),
            max_attempts: 5,
            transfer_delay: Duration::from_millis(20),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::collections::HashMap;

    use super::*;

    fn from(vars: &[(&str, &str)]) -> anyhow::Result<SandboxConfig> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        SandboxConfig::from_vars(|name| vars.get(name).cloned())
    }

    #[test]
    fn the_webhook_secrets_are_required_and_the_rest_has_defaults() {
        let err = from(&[]).unwrap_err().to_string();
        assert!(err.contains("SANDBOX_WEBHOOK_SECRETS"), "{err}");
        let secret = WebhookSecret::generate().encode();
        let c = from(&[("SANDBOX_WEBHOOK_SECRETS", &secret)]).unwrap();
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 8090));
        assert_eq!(c.secret_key, "sk_test_sandbox");
        assert_eq!(c.public_url, "http://localhost:8080/sandbox");
        assert_eq!(
            c.webhook_url.as_deref(),
            Some("http://127.0.0.1:8085/api/payments/webhooks/sandbox")
        );
        assert_eq!(c.retry_base, Duration::from_secs(1));
        assert_eq!(c.max_attempts, 8);
        assert_eq!(c.transfer_delay, Duration::from_millis(500));
    }

    #[test]
    fn every_setting_can_be_changed() {
        let two = format!(
            "{} {}",
            WebhookSecret::generate().encode(),
            WebhookSecret::generate().encode()
        );
        let c = from(&[
            ("SANDBOX_WEBHOOK_SECRETS", &two),
            ("SANDBOX_PORT", "9000"),
            ("SANDBOX_WEBHOOK_URL", "off"),
            ("SANDBOX_RETRY_BASE_MS", "5"),
            ("SANDBOX_MAX_ATTEMPTS", "2"),
        ])
        .unwrap();
        assert_eq!(c.webhook_secrets.len(), 2);
        assert_eq!(c.port, 9000);
        assert_eq!(c.webhook_url, None);
        assert_eq!(
            (c.retry_base, c.max_attempts),
            (Duration::from_millis(5), 2)
        );
        for (name, bad) in [
            ("SANDBOX_WEBHOOK_SECRETS", "nope"),
            ("SANDBOX_PORT", "70000"),
            ("SANDBOX_MAX_ATTEMPTS", "0"),
            ("SANDBOX_TRANSFER_DELAY_MS", "soon"),
        ] {
            let secret = WebhookSecret::generate().encode();
            let mut vars = vec![("SANDBOX_WEBHOOK_SECRETS", secret.as_str())];
            vars.retain(|(n, _)| *n != name);
            vars.push((name, bad));
            let err = from(&vars).unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        }
    }
}
