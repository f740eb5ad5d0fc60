//! Money as integer minor units (kobo, cents) with its currency: never a float. Amounts
//! travel as decimal strings (`"1500000.00"`), parsed exactly and written back exactly.

use serde::{Deserialize, Serialize};

/// The currencies the platform settles in (ISO 4217).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Currency {
    NGN,
    USD,
    EUR,
    GBP,
    GHS,
    KES,
    ZAR,
}

impl Currency {
    pub const ALL: [Currency; 7] = [
        Currency::NGN,
        Currency::USD,
        Currency::EUR,
        Currency::GBP,
        Currency::GHS,
        Currency::KES,
        Currency::ZAR,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Currency::NGN => "NGN",
            Currency::USD => "USD",
            Currency::EUR => "EUR",
            Currency::GBP => "GBP",
            Currency::GHS => "GHS",
            Currency::KES => "KES",
            Currency::ZAR => "ZAR",
        }
    }

    /// Every code (a column's allowed values: [`crate::db::OneOfWords`]).
    pub const WORDS: &'static [&'static str] = &["NGN", "USD", "EUR", "GBP", "GHS", "KES", "ZAR"];

    /// Digits after the decimal point (all supported currencies have two).
    pub fn minor_digits(self) -> u32 {
        2
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl std::str::FromStr for Currency {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.code() == s)
            .ok_or_else(|| {
                format!(
                    "unsupported currency; one of {}",
                    Self::ALL.map(Currency::code).join(", ")
                )
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("must be a decimal number such as \"1500000.00\"")]
    Format,
    #[error("at most {0} digits after the decimal point for this currency")]
    TooPrecise(u32),
    #[error("is too large")]
    Overflow,
}

/// An amount in minor units of a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// Parses a non-negative decimal string: digits, optionally a point and at most the
    /// currency's minor digits. No sign, exponent, spaces or separators.
    pub fn parse(amount: &str, currency: Currency) -> Result<Self, MoneyError> {
        let digits = currency.minor_digits();
        let (whole, frac) = match amount.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (amount, None),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !all_digits(whole)
            || frac.is_some_and(|f| f.is_empty() || !all_digits(f))
        {
            return Err(MoneyError::Format);
        }
        let frac = frac.unwrap_or("");
        if frac.len() > digits as usize {
            return Err(MoneyError::TooPrecise(digits));
        }
        let scale = 10i64.pow(digits);
        let whole: i64 = whole.parse().map_err(|_| MoneyError::Overflow)?;
        let mut frac_value: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| MoneyError::Format)?
        };
        for _ in frac.len()..digits as usize {
            frac_value *= 10;
        }
        let minor = whole
            .checked_mul(scale)
            .and_then(|m| m.checked_add(frac_value))
            .ok_or(MoneyError::Overflow)?;
        Ok(Self { minor, currency })
    }

    pub fn minor(&self) -> i64 {
        self.minor
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// `"1500000.00"`: exactly the currency's minor digits.
    pub fn to_decimal_string(&self) -> String {
        let digits = self.currency.minor_digits();
        let scale = 10i64.pow(digits);
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        let scale = scale.unsigned_abs();
        format!(
            "{sign}{}.{:0width$}",
            abs / scale,
            abs % scale,
            width = digits as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_are_the_codes() {
        let codes: Vec<&str> = Currency::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(codes, Currency::WORDS);
    }

    #[test]
    fn decimal_strings_become_exact_minor_units_and_back() {
        for (text, minor, back) in [
            ("1500000.00", 150_000_000, "1500000.00"),
            ("1500000", 150_000_000, "1500000.00"),
            ("0.5", 50, "0.50"),
            ("12.34", 1234, "12.34"),
            ("0", 0, "0.00"),
        ] {
            let m = Money::parse(text, Currency::NGN).unwrap();
            assert_eq!(m.minor(), minor, "{text}");
            assert_eq!(m.to_decimal_string(), back);
        }
    }

    #[test]
    fn malformed_amounts_are_refused() {
        for bad in [
            "", ".5", "1.", "-1", "+1", "1e5", "1,000", " 1", "1.2.3", "abc", "１",
        ] {
            assert_eq!(
                Money::parse(bad, Currency::NGN),
                Err(MoneyError::Format),
                "{bad:?}"
            );
        }
        assert_eq!(
            Money::parse("1.234", Currency::NGN),
            Err(MoneyError::TooPrecise(2))
        );
        assert_eq!(
            Money::parse("99999999999999999999", Currency::USD),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Money::parse("92233720368547758.07", Currency::USD).map(|m| m.minor()),
            Ok(i64::MAX)
        );
        assert_eq!(
            Money::parse("92233720368547758.08", Currency::USD),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn currencies_are_iso_codes_and_unknown_ones_are_refused() {
        assert_eq!("NGN".parse::<Currency>(), Ok(Currency::NGN));
        assert!("ngn".parse::<Currency>().is_err());
        assert!("XYZ".parse::<Currency>().unwrap_err().contains("NGN"));
        assert_eq!(serde_json::to_value(Currency::USD).unwrap(), "USD");
    }
}
