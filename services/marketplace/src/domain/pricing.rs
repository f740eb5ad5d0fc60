//! The price of an offer (docs/pricing.md has the formulas with worked examples).
//!
//! Face value `F` (minor units), `d` days from today (UTC, the injected clock) to the due
//! date, annual discount rate `r`:
//!
//! - discount `D = F × r × d / 365`, rounded half-up to the minor unit;
//! - price `P = F − D` (what the investor pays);
//! - platform fee `fee = F × bps / 10 000`, rounded half-up (paid by the seller);
//! - the seller's net proceeds `P − fee`;
//! - the investor's return `D`, and annualised yield `D / P × 365 / d`, as a percentage
//!   rounded half-up to two decimals.
//!
//! Everything is `rust_decimal` on integers of minor units: never a float.

use rust_decimal::{Decimal, RoundingStrategy};

/// Decimal places a rate may have (`18.1234` %).
pub const RATE_SCALE: u32 = 4;

/// An annual discount rate, in millionths (a percentage with four decimals: 18.5 % is
/// 185 000). Always above 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rate(i64);

impl Rate {
    /// The highest rate that can be configured (100 %).
    pub fn ceiling() -> Rate {
        Rate(100 * 10_000)
    }

    /// Parses a percentage written as a decimal string (`"18.5"`): above 0, at most `max`,
    /// at most four decimals. The error is the message for the field.
    pub fn parse(raw: &str, max: Rate) -> Result<Rate, String> {
        let text = raw.trim();
        let well_formed = !text.is_empty()
            && text.len() <= 32
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
            && text.bytes().filter(|b| *b == b'.').count() <= 1;
        let value: Decimal = if well_formed {
            text.parse().map_err(|_| Self::format_error())?
        } else {
            return Err(Self::format_error());
        };
        if value <= Decimal::ZERO {
            return Err("must be above 0".into());
        }
        if value.normalize().scale() > RATE_SCALE {
            return Err(format!("at most {RATE_SCALE} decimal places"));
        }
        if value > max.percent() {
            return Err(format!("must be at most {}", max.percent()));
        }
        let millionths = (value * Decimal::from(10_000))
            .trunc()
            .try_into()
            .map_err(|_| Self::format_error())?;
        Ok(Rate(millionths))
    }

    fn format_error() -> String {
        "must be an annual percentage written as a decimal string, such as \"18.5\"".into()
    }

    pub fn from_millionths(m: i64) -> Rate {
        Rate(m)
    }

    pub fn millionths(self) -> i64 {
        self.0
    }

    /// The rate as a percentage (`18.5`).
    pub fn percent(self) -> Decimal {
        Decimal::new(self.0, RATE_SCALE).normalize()
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.percent())
    }
}

/// An offer's figures, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quote {
    pub face: i64,
    pub days: i64,
    pub rate: Rate,
    pub discount: i64,
    pub price: i64,
    pub fee: i64,
}

/// Why a price cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("the discount would be the whole face value or more")]
    DiscountTooLarge,
    #[error("the platform fee would exceed the price")]
    FeeTooLarge,
    #[error("the figures are too large")]
    Overflow,
    #[error("the invoice must fall due in the future")]
    NotInFuture,
}

/// What prices an offer besides its rate: the fewest days to maturity an offer takes
/// and the platform's fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terms {
    pub min_days_to_due: i64,
    pub fee_bps: u32,
}

/// Why an offer cannot be priced on an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unpriced {
    /// It falls due in `days` days, fewer than the terms' minimum.
    TooSoon {
        days: i64,
    },
    Pricing(PricingError),
}

impl Terms {
    /// Prices an offer at `rate`, made on `on`, on an invoice of face value `face` (minor
    /// units) due on `due`.
    pub fn quote(
        &self,
        face: i64,
        due: chrono::NaiveDate,
        on: chrono::NaiveDate,
        rate: Rate,
    ) -> Result<Quote, Unpriced> {
        let days = (due - on).num_days();
        if days < self.min_days_to_due {
            return Err(Unpriced::TooSoon { days });
        }
        quote(face, rate, days, self.fee_bps).map_err(Unpriced::Pricing)
    }
}

fn half_up(v: Decimal) -> Decimal {
    v.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
}

fn to_i64(v: Decimal) -> Result<i64, PricingError> {
    i64::try_from(v).map_err(|_| PricingError::Overflow)
}

/// Prices an offer at `rate` on face value `face` (minor units) due in `days` days, with a
/// platform fee of `fee_bps` basis points of the face value.
pub fn quote(face: i64, rate: Rate, days: i64, fee_bps: u32) -> Result<Quote, PricingError> {
    if days <= 0 {
        return Err(PricingError::NotInFuture);
    }
    let f = Decimal::from(face);
    // F × r% × d / 36 500, with r% = millionths / 10 000.
    let discount = f
        .checked_mul(Decimal::new(rate.millionths(), RATE_SCALE))
        .and_then(|v| v.checked_mul(Decimal::from(days)))
        .and_then(|v| v.checked_div(Decimal::from(36_500)))
        .ok_or(PricingError::Overflow)?;
    let discount = to_i64(half_up(discount))?;
    if discount >= face {
        return Err(PricingError::DiscountTooLarge);
    }
    let price = face - discount;
    let fee = f
        .checked_mul(Decimal::from(fee_bps))
        .and_then(|v| v.checked_div(Decimal::from(10_000)))
        .ok_or(PricingError::Overflow)?;
    let fee = to_i64(half_up(fee))?;
    if fee > price {
        return Err(PricingError::FeeTooLarge);
    }
    Ok(Quote {
        face,
        days,
        rate,
        discount,
        price,
        fee,
    })
}

impl Quote {
    /// What the seller receives: the price less the platform fee.
    pub fn net_proceeds(&self) -> i64 {
        self.price - self.fee
    }

    /// What the investor earns at maturity: the face value less the price.
    pub fn investor_return(&self) -> i64 {
        self.discount
    }

    /// `D / P × 365 / d`, as a percentage rounded half-up to two decimals.
    pub fn annualised_yield(&self) -> Decimal {
        if self.price <= 0 || self.days <= 0 {
            return Decimal::ZERO;
        }
        let y = Decimal::from(self.discount)
            .checked_mul(Decimal::from(36_500))
            .and_then(|v| v.checked_div(Decimal::from(self.price)))
            .and_then(|v| v.checked_div(Decimal::from(self.days)))
            .unwrap_or_default();
        y.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(s: &str) -> Rate {
        Rate::parse(s, Rate::from_millionths(60 * 10_000)).unwrap()
    }

    /// docs/pricing.md, example 1.
    #[test]
    fn a_sixty_day_invoice_at_eighteen_percent_is_priced_to_the_kobo() {
        // ₦1,500,000.00 due in 60 days at 18 %, fee 100 bps.
        let q = quote(150_000_000, rate("18"), 60, 100).unwrap();
        // 150 000 000 × 0.18 × 60 / 365 = 4 438 356.164… -> 4 438 356 kobo
        assert_eq!(q.discount, 4_438_356);
        assert_eq!(q.price, 145_561_644);
        assert_eq!(q.fee, 1_500_000);
        assert_eq!(q.net_proceeds(), 144_061_644);
        assert_eq!(q.investor_return(), 4_438_356);
        // 4 438 356 / 145 561 644 × 365 / 60 = 18.5488… %
        assert_eq!(q.annualised_yield().to_string(), "18.55");
    }

    /// docs/pricing.md, example 2: an exact half kobo rounds up.
    #[test]
    fn an_exact_half_kobo_rounds_up() {
        // 100 × 0.365 × 5 / 365 = 0.5 -> 1
        let q = quote(100, rate("36.5"), 5, 0).unwrap();
        assert_eq!(q.discount, 1);
        assert_eq!(q.price, 99);
        // 100 × 0.365 × 4 / 365 = 0.4 -> 0
        assert_eq!(quote(100, rate("36.5"), 4, 0).unwrap().discount, 0);
        // fee: 150 kobo × 50 bps = 0.75 -> 1; 100 × 50 bps = 0.5 -> 1; 90 × 50 = 0.45 -> 0
        assert_eq!(quote(150, rate("1"), 1, 50).unwrap().fee, 1);
        assert_eq!(quote(100, rate("1"), 1, 50).unwrap().fee, 1);
        assert_eq!(quote(90, rate("1"), 1, 50).unwrap().fee, 0);
    }

    /// docs/pricing.md, example 3.
    #[test]
    fn a_fractional_rate_over_ninety_days() {
        // $250,000.00 = 25 000 000 cents, 90 days at 12.75 %, fee 150 bps.
        let q = quote(25_000_000, rate("12.75"), 90, 150).unwrap();
        // 25 000 000 × 0.1275 × 90 / 365 = 785 958.904… -> 785 959
        assert_eq!(q.discount, 785_959);
        assert_eq!(q.price, 24_214_041);
        assert_eq!(q.fee, 375_000);
        assert_eq!(q.net_proceeds(), 23_839_041);
        // 785 959 / 24 214 041 × 365 / 90 = 13.1636… %
        assert_eq!(q.annualised_yield().to_string(), "13.16");
    }

    #[test]
    fn discounts_that_eat_the_face_value_are_refused() {
        assert_eq!(
            quote(10_000, rate("60"), 700, 100),
            Err(PricingError::DiscountTooLarge)
        );
        assert_eq!(
            quote(10_000, rate("1"), 0, 100),
            Err(PricingError::NotInFuture)
        );
        assert_eq!(
            quote(i64::MAX, rate("60"), 3650, 100),
            Err(PricingError::Overflow)
        );
    }

    #[test]
    fn rates_are_parsed_exactly_and_bounded() {
        let max = Rate::from_millionths(60 * 10_000);
        assert_eq!(Rate::parse("18.5", max).unwrap().millionths(), 185_000);
        assert_eq!(Rate::parse("0.0001", max).unwrap().millionths(), 1);
        assert_eq!(Rate::parse("60", max).unwrap().percent().to_string(), "60");
        assert_eq!(Rate::parse("18.50", max).unwrap().to_string(), "18.5");
        for bad in [
            "0",
            "-5",
            "0.00001",
            "60.0001",
            "1e3",
            "",
            "abc",
            "1.2.3",
            " ",
            "99999999999999999999999999999999",
            "NaN",
        ] {
            assert!(Rate::parse(bad, max).is_err(), "{bad:?} accepted");
        }
    }

    /// What the mutation run of pricing.rs found untested (docs/decisions.md, issue 14).
    #[test]
    fn signs_separators_and_other_characters_are_refused_whatever_the_decimal_parser_takes() {
        let max = Rate::from_millionths(60 * 10_000);
        // rust_decimal alone reads "+5" and "1_8"; a rate is digits and one point.
        for bad in ["+5", "1_8", "18,5", "٣", "5 %"] {
            assert_eq!(Rate::parse(bad, max), Err(Rate::format_error()), "{bad:?}");
        }
        assert_eq!(
            Rate::format_error(),
            "must be an annual percentage written as a decimal string, such as \"18.5\""
        );
        // 33 characters is too long even when it is a number; 32 is not.
        let long = format!("{}18.5", "0".repeat(29));
        assert_eq!(long.len(), 33);
        assert_eq!(Rate::parse(&long, max), Err(Rate::format_error()));
        assert_eq!(Rate::parse(&long[1..], max).unwrap().millionths(), 185_000);
    }

    #[test]
    fn the_rate_ceiling_is_one_hundred_percent() {
        assert_eq!(Rate::ceiling().percent().to_string(), "100");
        assert_eq!(Rate::ceiling().millionths(), 1_000_000);
        assert!(Rate::parse("100", Rate::ceiling()).is_ok());
        assert!(Rate::parse("100.0001", Rate::ceiling()).is_err());
    }

    #[test]
    fn a_fee_may_take_the_whole_price_but_not_more() {
        // 10 000 × 50 % × 365 / 365 = 5 000: the price is 5 000.
        let q = quote(10_000, rate("50"), 365, 5_000).unwrap();
        assert_eq!((q.price, q.fee, q.net_proceeds()), (5_000, 5_000, 0));
        assert_eq!(
            quote(10_000, rate("50"), 365, 5_001),
            Err(PricingError::FeeTooLarge)
        );
    }

    #[test]
    fn a_yield_over_no_days_or_no_price_is_zero() {
        let q = Quote {
            face: 100,
            days: -5,
            rate: rate("10"),
            discount: 1,
            price: 99,
            fee: 0,
        };
        assert_eq!(q.annualised_yield(), Decimal::ZERO);
        let q = Quote {
            days: 30,
            price: -1,
            ..q
        };
        assert_eq!(q.annualised_yield(), Decimal::ZERO);
    }
}
