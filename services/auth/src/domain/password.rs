use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use secrecy::{ExposeSecret, SecretString};

/// A password that meets the policy: 10 to 128 characters, not all one character and not
/// all digits. No composition rules (NIST SP 800-63B: they make passwords harder to
/// remember, not harder to guess; length is what counts). [`PATTERN`] says the same to
/// clients.
pub struct Password(SecretString);

/// The policy as a JSON Schema pattern (beside `minLength` 10 and `maxLength` 128, which
/// it repeats so that generators draw from it directly): not only ASCII digits, not one
/// character repeated throughout. Inside the lookaheads the end of the input is spelled
/// `(?![\s\S])` rather than `$`, which some engines also match before a final line break.
pub const PATTERN: &str = r"^(?![0-9]*(?![\s\S]))(?!([\s\S])\1*(?![\s\S]))[\s\S]{10,128}$";

impl Password {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let n = raw.chars().count();
        if n < 10 {
            return Err("must be at least 10 characters".into());
        }
        if n > 128 {
            return Err("must be at most 128 characters".into());
        }
        if raw.chars().all(|c| c.is_ascii_digit()) {
            return Err("must not be only digits".into());
        }
        let mut chars = raw.chars();
        let first = chars.next();
        if chars.all(|c| Some(c) == first) {
            return Err("must not repeat one character".into());
        }
        Ok(Self(SecretString::from(raw.to_owned())))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// Argon2id (the crate's default parameters: 19 MiB, 2 passes). CPU-heavy: call from
/// `spawn_blocking`.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused() {
        for bad in [
            "short1",
            "aaaaaaaaaaaa",
            "\n\n\n\n\n\n\n\n\n\n",
            "1234567890123",
            &"x1".repeat(65),
        ] {
            assert!(Password::parse(bad).is_err(), "{bad:?}");
        }
        for good in [
            "correct horse 42",
            "onlyletterspassword",
            "1234567890\n",
            "пароль-очень-длинный",
        ] {
            assert!(Password::parse(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn hashes_verify_only_their_password() {
        let h = hash_password("correct horse 42").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse 42", &h));
        assert!(!verify_password("correct horse 43", &h));
        assert!(!verify_password("x", "not a hash"));
    }
}
