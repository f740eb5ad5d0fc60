//! BVN and NIN: 11 digits each. Held only long enough to verify and encrypt; `Debug`
//! never prints them.

use crate::identity::IdNumberKind;

#[derive(Clone, PartialEq, Eq)]
pub struct IdentityNumber {
    kind: IdNumberKind,
    digits: String,
}

impl IdentityNumber {
    pub fn parse(kind: IdNumberKind, raw: &str) -> Result<Self, String> {
        let digits = raw.trim();
        if digits.len() != 11 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("must be exactly 11 digits".into());
        }
        Ok(Self {
            kind,
            digits: digits.to_owned(),
        })
    }

    pub fn kind(&self) -> IdNumberKind {
        self.kind
    }

    pub fn digits(&self) -> &str {
        &self.digits
    }
}

impl std::fmt::Debug for IdentityNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdentityNumber({:?}, ***)", self.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eleven_digits_are_accepted_and_surrounding_spaces_ignored() {
        let n = IdentityNumber::parse(IdNumberKind::Bvn, " 22212345678 ").unwrap();
        assert_eq!(n.digits(), "22212345678");
    }

    #[test]
    fn wrong_lengths_letters_and_signs_are_refused() {
        for bad in [
            "",
            "1234567890",
            "123456789012",
            "2221234567a",
            "+2221234567",
            "２２２１２３４５６７８",
        ] {
            assert!(
                IdentityNumber::parse(IdNumberKind::Nin, bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_output_never_shows_the_number() {
        let n = IdentityNumber::parse(IdNumberKind::Nin, "12345678901").unwrap();
        assert!(!format!("{n:?}").contains("12345678901"));
    }
}
