//! The values a request carries, each checked once at the edge: a bad one is a 422 with
//! the reason.

use std::fmt;

use serde::Serialize;

/// A merchant's reference for a transaction or a transfer: 16 to 64 of `A-Z a-z 0-9 _ - .`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Reference(String);

impl Reference {
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
        if !(16..=64).contains(&s.len()) || !s.chars().all(ok_char) {
            return Err(format!(
                "reference must be 16 to 64 characters of A-Z a-z 0-9 _ - . (got {} characters)",
                s.chars().count()
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An amount in minor units (kobo, cents), more than zero.
pub fn amount(raw: i64) -> Result<u64, String> {
    u64::try_from(raw)
        .ok()
        .filter(|a| *a > 0)
        .ok_or_else(|| format!("amount must be a whole number of minor units above 0, not {raw}"))
}

/// A currency code: three upper-case letters (`NGN`, `USD`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Currency(String);

impl Currency {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.len() != 3 || !s.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!(
                "currency must be three upper-case letters (NGN, USD), not {s:?}"
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A NUBAN-like account number: 10 digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct AccountNumber(String);

impl AccountNumber {
    pub fn parse(s: &str) -> Result<Self, String> {
        digits(s, 10, "account_number").map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last digit, which picks a transfer's outcome ([`crate::state::Outcome`]).
    pub fn last_digit(&self) -> char {
        self.0.chars().last().unwrap_or('0')
    }

    /// `0000000000` is the account that never resolves.
    pub fn resolves(&self) -> bool {
        self.0 != "0000000000"
    }

    /// The name the sandbox gives every account: `SANDBOX ACCOUNT 1234`.
    pub fn account_name(&self) -> String {
        format!("SANDBOX ACCOUNT {}", &self.0[6..])
    }
}

/// A bank code: 3 digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct BankCode(String);

impl BankCode {
    pub fn parse(s: &str) -> Result<Self, String> {
        digits(s, 3, "bank_code").map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A numeric bank id, derived from the code (`058` -> 58).
    pub fn bank_id(&self) -> u32 {
        self.0.parse().unwrap_or(0)
    }
}

fn digits(s: &str, len: usize, what: &str) -> Result<String, String> {
    if s.len() == len && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_owned())
    } else {
        Err(format!("{what} must be {len} digits"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn references_are_16_to_64_safe_characters() {
        assert!(Reference::parse("inv_2024-01.abcdEF").is_ok());
        assert!(Reference::parse(&"a".repeat(16)).is_ok());
        assert!(Reference::parse(&"a".repeat(64)).is_ok());
        assert!(Reference::parse(&"a".repeat(15)).is_err());
        assert!(Reference::parse(&"a".repeat(65)).is_err());
        assert!(Reference::parse("has space in it!!").is_err());
        assert!(Reference::parse("é-not-ascii-at-all").is_err());
    }

    #[test]
    fn amounts_are_positive_minor_units() {
        assert_eq!(amount(1), Ok(1));
        assert!(amount(0).is_err());
        assert!(amount(-5).is_err());
    }

    #[test]
    fn currencies_are_three_capitals() {
        assert!(Currency::parse("NGN").is_ok());
        assert!(Currency::parse("ngn").is_err());
        assert!(Currency::parse("NGNX").is_err());
    }

    #[test]
    fn accounts_and_banks_are_digits() {
        let a = AccountNumber::parse("0123456781").unwrap();
        assert_eq!(a.last_digit(), '1');
        assert_eq!(a.account_name(), "SANDBOX ACCOUNT 6781");
        assert!(a.resolves());
        assert!(!AccountNumber::parse("0000000000").unwrap().resolves());
        assert!(AccountNumber::parse("012345678").is_err());
        assert!(AccountNumber::parse("01234567x1").is_err());
        assert_eq!(BankCode::parse("058").unwrap().bank_id(), 58);
        assert!(BankCode::parse("58").is_err());
    }
}
