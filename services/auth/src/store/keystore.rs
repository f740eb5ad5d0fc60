//! Auth's signing keys: RSA PKCS#8 PEM files `<kid>.pem` in `JWT_KEYS_DIR`. The greatest
//! kid (kids are timestamps, so the newest) signs; every key's public half is published
//! in Redis (`auth:jwks`) for the verifiers of all services and served as a JWK set.
//!
//! Rotation without downtime: `auth rotate-key` writes a new key file (in Kubernetes: add
//! it to the Secret). Each auth instance rereads the folder every minute, publishes the
//! new public key and signs with it; verifiers learn a new kid from Redis the first time
//! they meet it. Keep the old file for at least the access-token lifetime (15 minutes),
//! then remove it and run `auth retire-key <kid>`.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use common::auth::{JwtSigner, SigningKey};
use common::clock::SharedClock;
use common::keys::Keys;
use secrecy::SecretString;
use service_kit::redis::Pool;

use crate::config::AuthConfig;

/// Loads every `*.pem` in `dir`, sorted by kid.
pub fn load_keys(dir: &Path) -> anyhow::Result<Vec<SigningKey>> {
    let mut keys = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(keys),
        Err(e) => return Err(anyhow::anyhow!("cannot read {}: {e}", dir.display())),
    };
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pem"))
        .collect();
    paths.sort();
    for path in paths {
        let Some(kid) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
            continue;
        };
        let pem = SecretString::from(std::fs::read_to_string(&path)?);
        keys.push(
            SigningKey::from_pem(&kid, &pem)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
        );
    }
    Ok(keys)
}

/// Writes a new key into `dir` (mode 0600) and returns its kid.
pub fn generate_key(dir: &Path, clock: &SharedClock) -> anyhow::Result<String> {
    use secrecy::ExposeSecret;
    std::fs::create_dir_all(dir)?;
    let kid = format!("k{}", clock.now().format("%Y%m%dT%H%M%S%3f"));
    let (_, pem) = SigningKey::generate(&kid)?;
    let path = dir.join(format!("{kid}.pem"));
    write_private(&path, pem.expose_secret())?;
    tracing::info!(%kid, path = %path.display(), "Signing key generated.");
    Ok(kid)
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

/// The signer in use, swapped when the key folder changes.
#[derive(Clone)]
pub struct KeyStore {
    current: Arc<RwLock<Arc<JwtSigner>>>,
}

impl KeyStore {
    /// Loads (or, if allowed and empty, generates) the keys and publishes them.
    pub async fn open(
        config: &AuthConfig,
        clock: &SharedClock,
        redis: &Pool,
        names: &Keys,
    ) -> anyhow::Result<Self> {
        let mut keys = load_keys(&config.keys_dir)?;
        if keys.is_empty() {
            if !config.generate_key {
                anyhow::bail!(
                    "no signing key in {} and JWT_GENERATE_KEY is off",
                    config.keys_dir.display()
                );
            }
            generate_key(&config.keys_dir, clock)?;
            keys = load_keys(&config.keys_dir)?;
        }
        let signer = Self::signer(config, keys)?;
        common::auth::publish_jwks(redis, names, signer.jwks()).await?;
        Ok(Self {
            current: Arc::new(RwLock::new(Arc::new(signer))),
        })
    }

    fn signer(config: &AuthConfig, keys: Vec<SigningKey>) -> anyhow::Result<JwtSigner> {
        JwtSigner::new(
            keys,
            &config.base.jwt_issuer,
            &config.base.jwt_audience,
            config.access_ttl_secs,
        )
    }

    pub fn signer_now(&self) -> Arc<JwtSigner> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Rereads the key folder and, if it holds keys, publishes them and signs with the
    /// newest.
    pub async fn reload(
        &self,
        config: &AuthConfig,
        redis: &Pool,
        names: &Keys,
    ) -> anyhow::Result<()> {
        let keys = load_keys(&config.keys_dir)?;
        if keys.is_empty() {
            return Ok(());
        }
        let signer = Self::signer(config, keys)?;
        common::auth::publish_jwks(redis, names, signer.jwks()).await?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(signer);
        Ok(())
    }
}

/// How often the supervised task `keys` rereads the key folder.
pub const RELOAD_EVERY: Duration = Duration::from_secs(60);

/// One round of the task `keys`.
pub async fn reload_round(state: crate::state::AppState) -> anyhow::Result<()> {
    state
        .keystore
        .reload(&state.config, &state.redis, &state.keys)
        .await
}
