//! A financing: one accepted offer's money, from the investor's funding obligation to the
//! investor's settlement.
//!
//! ```text
//! awaiting_funding --funding succeeded--> funded --repaid in full and distributed--> settled
//!        \--window closed (PAYMENTS_FUNDING_WINDOW_HOURS)--> expired
//! ```

use common::money::Currency;

common::string_enum! {
    /// Where a financing stands.
    pub enum FinancingStatus {
        /// The investor owes the price until the funding window closes.
        AwaitingFunding = "awaiting_funding",
        /// The price arrived; the seller is paid out; the debtor owes the face value.
        Funded = "funded",
        /// Not funded in time: the invoice went back to listed.
        Expired = "expired",
        /// The debtor's money has all been passed to the investor.
        Settled = "settled",
    }
}

/// The figures marketplace priced (docs/pricing.md); payments never re-prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terms {
    /// F: what the debtor owes at maturity.
    pub face_minor: i64,
    /// P: what the investor pays.
    pub price_minor: i64,
    /// round(F x bps / 10 000), paid by the seller out of P.
    pub fee_minor: i64,
    pub currency: Currency,
}

impl Terms {
    /// P - fee: the seller's payout.
    pub fn net_minor(&self) -> i64 {
        self.price_minor - self.fee_minor
    }

    /// Whether the figures can be financed: positive, fee within the price, price within
    /// the face value.
    pub fn check(&self) -> Result<(), String> {
        if self.face_minor <= 0 || self.price_minor <= 0 {
            return Err(format!(
                "face {} and price {} must be positive",
                self.face_minor, self.price_minor
            ));
        }
        if self.fee_minor < 0 || self.fee_minor > self.price_minor {
            return Err(format!(
                "fee {} must be between 0 and the price {}",
                self.fee_minor, self.price_minor
            ));
        }
        if self.price_minor > self.face_minor {
            return Err(format!(
                "price {} is above the face value {}",
                self.price_minor, self.face_minor
            ));
        }
        Ok(())
    }
}

/// How a debtor's payment of `paid` applies when `outstanding` is still owed: what counts
/// towards the invoice (at most what is owed) and what is over (refunded).
pub fn apply_repayment(outstanding: i64, paid: i64) -> (i64, i64) {
    let applied = paid.clamp(0, outstanding.max(0));
    (applied, paid.max(0) - applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seller_receives_the_price_less_the_fee() {
        // docs/pricing.md example 1 and 3.
        let t = Terms {
            face_minor: 150_000_000,
            price_minor: 145_561_644,
            fee_minor: 1_500_000,
            currency: Currency::NGN,
        };
        assert_eq!(t.net_minor(), 144_061_644);
        assert_eq!(t.check(), Ok(()));
        let t = Terms {
            face_minor: 25_000_000,
            price_minor: 24_214_041,
            fee_minor: 375_000,
            currency: Currency::USD,
        };
        assert_eq!(t.net_minor(), 23_839_041);
        // The investor's return at maturity: F - P.
        assert_eq!(t.face_minor - t.price_minor, 785_959);
    }

    #[test]
    fn impossible_terms_are_refused() {
        let ok = Terms {
            face_minor: 100,
            price_minor: 90,
            fee_minor: 1,
            currency: Currency::NGN,
        };
        assert!(
            Terms {
                fee_minor: 91,
                ..ok
            }
            .check()
            .is_err()
        );
        assert!(
            Terms {
                price_minor: 101,
                ..ok
            }
            .check()
            .is_err()
        );
        assert!(
            Terms {
                face_minor: 0,
                ..ok
            }
            .check()
            .is_err()
        );
        assert!(
            Terms {
                fee_minor: -1,
                ..ok
            }
            .check()
            .is_err()
        );
    }

    #[test]
    fn repayments_apply_up_to_what_is_owed_and_the_rest_is_over() {
        // F 150 000 000 paid in two parts, then a third payment with nothing owed.
        assert_eq!(apply_repayment(150_000_000, 100_000_000), (100_000_000, 0));
        assert_eq!(
            apply_repayment(50_000_000, 60_000_000),
            (50_000_000, 10_000_000)
        );
        assert_eq!(apply_repayment(0, 5), (0, 5));
        assert_eq!(apply_repayment(10, 0), (0, 0));
    }
}
