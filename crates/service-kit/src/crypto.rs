//! Fields encrypted at rest (AES-256-GCM): KYC's identity numbers, auth's second-factor
//! secrets.
//!
//! A stored value reads `v1:<base64 of a 12-byte random nonce || ciphertext and tag>`; the
//! `v1` names the key and format so either can change later. The key is 32 bytes, given in
//! base64 by an environment variable (wins) or read from a key file (see
//! [`FieldCipher::load`]). `openssl rand -base64 32` makes one.

use std::io::Write;
use std::path::Path;

use aes_gcm::aead::Aead;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};

const VERSION: &str = "v1:";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the key must be the base64 of exactly 32 bytes")]
    BadKey,
    #[error("the encrypted value is not in the v1 format")]
    Malformed,
    #[error("the encrypted value does not open with this key (wrong key or altered)")]
    Undecryptable,
}

/// Encrypts and decrypts a service's secret fields. `Debug` shows nothing of the key.
#[derive(Clone)]
pub struct FieldCipher {
    aead: Aes256Gcm,
}

impl std::fmt::Debug for FieldCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FieldCipher(AES-256-GCM, key hidden)")
    }
}

impl FieldCipher {
    pub fn from_key(bytes: [u8; 32]) -> Self {
        Self {
            aead: Aes256Gcm::new(&bytes.into()),
        }
    }

    /// A key given as base64 (surrounding whitespace ignored).
    pub fn from_base64(key: SecretString) -> Result<Self, CryptoError> {
        let bytes = STANDARD
            .decode(key.expose_secret().trim())
            .map_err(|_| CryptoError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadKey)?;
        Ok(Self::from_key(key))
    }

    /// The key from `key_env` (the value of the variable named `var`) if given; else from
    /// `key_file`; else, when `generate`, a new random key written to `key_file` (mode
    /// 0600, parent folders created; a file another process wrote first is used instead).
    #[tracing::instrument(skip(key_env))]
    pub fn load(
        var: &str,
        key_env: Option<SecretString>,
        key_file: &Path,
        generate: bool,
    ) -> anyhow::Result<Self> {
        if let Some(key) = key_env {
            return Self::from_base64(key).map_err(|e| anyhow::anyhow!("{var} is invalid: {e}"));
        }
        if let Some(cipher) = read_key_file(key_file)? {
            return Ok(cipher);
        }
        if !generate {
            anyhow::bail!(
                "no key: set {var} (base64 of 32 bytes, e.g. `openssl rand -base64 32`) or \
                 create {}",
                key_file.display()
            );
        }
        write_new_key_file(key_file)
    }

    /// `v1:<base64(nonce || ciphertext)>` with a fresh random nonce.
    pub fn encrypt(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        // AES-GCM encryption fails only past ~64 GiB of plaintext.
        let sealed = match self.aead.encrypt(&Nonce::from(nonce), plaintext.as_bytes()) {
            Ok(sealed) => sealed,
            Err(_) => unreachable!("AES-GCM refuses only plaintexts of 64 GiB or more"),
        };
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        format!("{VERSION}{}", STANDARD.encode(out))
    }

    pub fn decrypt(&self, stored: &str) -> Result<SecretString, CryptoError> {
        let encoded = stored.strip_prefix(VERSION).ok_or(CryptoError::Malformed)?;
        let raw = STANDARD
            .decode(encoded)
            .map_err(|_| CryptoError::Malformed)?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Malformed);
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Malformed)?;
        let plain = self
            .aead
            .decrypt(&Nonce::from(nonce), sealed)
            .map_err(|_| CryptoError::Undecryptable)?;
        let plain = String::from_utf8(plain).map_err(|_| CryptoError::Malformed)?;
        Ok(SecretString::from(plain))
    }
}

/// The key in `path`, or `None` when there is no such file.
fn read_key_file(path: &Path) -> anyhow::Result<Option<FieldCipher>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => anyhow::bail!("read key file {}: {e}", path.display()),
    };
    warn_if_readable_by_others(path);
    FieldCipher::from_base64(SecretString::from(text))
        .map(Some)
        .map_err(|e| anyhow::anyhow!("key file {}: {e}", path.display()))
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "Key file is readable by others; chmod 600 it.");
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// Writes a random key to `path` atomically (a 0600 temp file renamed without clobbering).
fn write_new_key_file(path: &Path) -> anyhow::Result<FieldCipher> {
    let context = |e: std::io::Error| anyhow::anyhow!("write key file {}: {e}", path.display());
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(context)?;
    let mut key = [0u8; 32];
    OsRng.fill_bytes(&mut key);
    // tempfile creates files with mode 0600 on Unix.
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(context)?;
    writeln!(tmp, "{}", STANDARD.encode(key)).map_err(context)?;
    tmp.as_file().sync_all().map_err(context)?;
    match tmp.persist_noclobber(path) {
        Ok(_) => {
            tracing::info!(path = %path.display(), "Key generated.");
            Ok(FieldCipher::from_key(key))
        }
        // Another process generated it first: use theirs.
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => read_key_file(path)?
            .ok_or_else(|| anyhow::anyhow!("key file {} vanished", path.display())),
        Err(e) => Err(context(e.error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> FieldCipher {
        FieldCipher::from_key([7; 32])
    }

    #[test]
    fn a_number_encrypts_and_decrypts_back() {
        let c = cipher();
        let stored = c.encrypt("22212345678");
        assert!(stored.starts_with("v1:"));
        assert!(!stored.contains("22212345678"));
        assert_eq!(c.decrypt(&stored).unwrap().expose_secret(), "22212345678");
    }

    #[test]
    fn each_encryption_uses_a_fresh_nonce() {
        let c = cipher();
        let a = c.encrypt("22212345678");
        let b = c.encrypt("22212345678");
        assert_ne!(a, b);
        let nonce = |s: &str| STANDARD.decode(&s[3..]).unwrap()[..NONCE_LEN].to_vec();
        assert_ne!(nonce(&a), nonce(&b));
    }

    #[test]
    fn an_altered_ciphertext_does_not_decrypt() {
        let c = cipher();
        let stored = c.encrypt("22212345678");
        let mut raw = STANDARD.decode(&stored[3..]).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let altered = format!("v1:{}", STANDARD.encode(&raw));
        assert!(matches!(
            c.decrypt(&altered),
            Err(CryptoError::Undecryptable)
        ));
        for junk in ["", "v1:", "v2:AAAA", "v1:not base64!", "22212345678"] {
            assert!(
                matches!(c.decrypt(junk), Err(CryptoError::Malformed)),
                "{junk}"
            );
        }
    }

    #[test]
    fn another_key_cannot_decrypt() {
        let stored = cipher().encrypt("22212345678");
        let other = FieldCipher::from_key([8; 32]);
        assert!(matches!(
            other.decrypt(&stored),
            Err(CryptoError::Undecryptable)
        ));
    }

    #[test]
    fn base64_keys_must_be_32_bytes() {
        let good = SecretString::from(format!(" {}\n", STANDARD.encode([7u8; 32])));
        let from_b64 = FieldCipher::from_base64(good).unwrap();
        assert_eq!(
            from_b64
                .decrypt(&cipher().encrypt("1"))
                .unwrap()
                .expose_secret(),
            "1"
        );
        for bad in ["", "not base64", &STANDARD.encode([7u8; 16])] {
            let r = FieldCipher::from_base64(SecretString::from(bad));
            assert!(matches!(r, Err(CryptoError::BadKey)), "{bad}");
        }
    }

    #[test]
    fn debug_output_shows_nothing_of_the_key() {
        let key = [0xAB; 32];
        let shown = format!("{:?}", FieldCipher::from_key(key));
        assert_eq!(shown, "FieldCipher(AES-256-GCM, key hidden)");
        assert!(!shown.contains(&STANDARD.encode(key)));
    }

    #[test]
    fn a_key_file_is_generated_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/nested/kyc-identity.key");
        let first = FieldCipher::load("KYC_IDENTITY_KEY", None, &path, true).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let written = std::fs::read_to_string(&path).unwrap();
        let stored = first.encrypt("12345678901");

        let second = FieldCipher::load("KYC_IDENTITY_KEY", None, &path, true).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), written);
        assert_eq!(
            second.decrypt(&stored).unwrap().expose_secret(),
            "12345678901"
        );
        let without_generate = FieldCipher::load("KYC_IDENTITY_KEY", None, &path, false).unwrap();
        assert!(without_generate.decrypt(&stored).is_ok());
    }

    #[test]
    fn the_environment_key_wins_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kyc-identity.key");
        let from_file = FieldCipher::load("KYC_IDENTITY_KEY", None, &path, true).unwrap();
        let env = SecretString::from(STANDARD.encode([7u8; 32]));
        let loaded = FieldCipher::load("KYC_IDENTITY_KEY", Some(env), &path, true).unwrap();
        let stored = cipher().encrypt("12345678901");
        assert!(loaded.decrypt(&stored).is_ok());
        assert!(from_file.decrypt(&stored).is_err());
        let bad_env = FieldCipher::load(
            "KYC_IDENTITY_KEY",
            Some(SecretString::from("short")),
            &path,
            true,
        );
        assert!(
            bad_env
                .unwrap_err()
                .to_string()
                .contains("KYC_IDENTITY_KEY")
        );
    }

    #[test]
    fn no_key_and_no_generation_is_an_error_naming_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing.key");
        let err = FieldCipher::load("KYC_IDENTITY_KEY", None, &path, false).unwrap_err();
        assert!(err.to_string().contains("KYC_IDENTITY_KEY"), "{err}");
        assert!(!path.exists());
    }

    #[test]
    fn a_corrupt_key_file_is_an_error_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kyc-identity.key");
        std::fs::write(&path, "garbage").unwrap();
        assert!(FieldCipher::load("KYC_IDENTITY_KEY", None, &path, true).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "garbage");
    }
}
