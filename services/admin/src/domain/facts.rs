//! What the dashboard, the time series and the statistics count: the facts each event
//! contributes ([`facts_of`]), and the words of admin's read models.

use common::events::payments::{PaymentKind, PaymentStatus};
use common::events::{AuthEvent, Event, InvoiceEvent, KycEvent, OfferEvent, PaymentEvent};
use common::money::Currency;

common::string_enum! {
    /// A countable series.
    pub enum Metric {
        /// Users registered.
        Signups = "signups",
        /// KYC submissions approved.
        KycApproved = "kyc_approved",
        /// KYC submissions rejected.
        KycRejected = "kyc_rejected",
        /// Face value of invoices listed (minor units).
        Listed = "listed",
        /// Offers placed.
        Offers = "offers",
        /// Prices paid by investors (fundings succeeded, less fundings reversed).
        Funded = "funded",
        /// Debtor repayments succeeded (less reversed).
        Repaid = "repaid",
        /// The platform's fee on funded offers (less reversed fundings').
        FeeRevenue = "fee_revenue",
    }
}

impl Metric {
    /// Whether its amounts are money (per currency) rather than counts.
    pub fn is_money(self) -> bool {
        matches!(
            self,
            Metric::Listed | Metric::Funded | Metric::Repaid | Metric::FeeRevenue
        )
    }
}

common::string_enum! {
    /// A user's standing with auth.
    pub enum AccountStatus {
        Active = "active",
        Suspended = "suspended",
    }
}

common::string_enum! {
    /// A KYC submission as admin knows it.
    pub enum ReviewState {
        InReview = "in_review",
        Approved = "approved",
        Rejected = "rejected",
    }
}

/// One fact of an event: `amount` of `metric` (minor units of `currency` for money, 1
/// for a count; negative for a reversal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fact {
    pub metric: Metric,
    pub currency: Option<Currency>,
    pub amount: i64,
}

fn count(metric: Metric) -> Vec<Fact> {
    vec![Fact {
        metric,
        currency: None,
        amount: 1,
    }]
}

fn money(metric: Metric, currency: Currency, amount: i64) -> Vec<Fact> {
    vec![Fact {
        metric,
        currency: Some(currency),
        amount,
    }]
}

/// The facts `event` contributes (fee revenue, which needs two events, is the store's).
pub fn facts_of(event: &Event) -> Vec<Fact> {
    match event {
        Event::Auth(AuthEvent::UserRegistered(_)) => count(Metric::Signups),
        Event::Kyc(KycEvent::Approved(_)) => count(Metric::KycApproved),
        Event::Kyc(KycEvent::Rejected(_)) => count(Metric::KycRejected),
        Event::Invoice(InvoiceEvent::Listed(c)) => {
            money(Metric::Listed, c.currency, c.amount_minor)
        }
        Event::Marketplace(OfferEvent::Placed(_)) => count(Metric::Offers),
        Event::Payments(PaymentEvent::StatusChanged(p)) => {
            let metric = match p.kind {
                PaymentKind::Funding => Metric::Funded,
                PaymentKind::Repayment => Metric::Repaid,
                PaymentKind::Payout | PaymentKind::Distribution | PaymentKind::Refund => {
                    return Vec::new();
                }
            };
            match p.status {
                PaymentStatus::Succeeded => money(metric, p.currency, p.amount_minor),
                PaymentStatus::Reversed => money(metric, p.currency, -p.amount_minor),
                PaymentStatus::Pending | PaymentStatus::Failed | PaymentStatus::Expired => {
                    Vec::new()
                }
            }
        }
        Event::Auth(AuthEvent::UserSuspended(_) | AuthEvent::UserReactivated(_))
        | Event::Kyc(
            KycEvent::DocumentProcessed(_)
            | KycEvent::Submitted(_)
            | KycEvent::DocumentDownloaded(_),
        )
        | Event::Invoice(
            InvoiceEvent::Submitted(_)
            | InvoiceEvent::Rejected(_)
            | InvoiceEvent::Cancelled(_)
            | InvoiceEvent::StatusChanged(_)
            | InvoiceEvent::AcceptanceConfirmed(_)
            | InvoiceEvent::AcceptanceRefused(_),
        )
        | Event::Marketplace(
            OfferEvent::Reserved(_)
            | OfferEvent::Accepted(_)
            | OfferEvent::Rejected(_)
            | OfferEvent::Withdrawn(_)
            | OfferEvent::Expired(_)
            | OfferEvent::ReservationTimedOut(_)
            | OfferEvent::StatusChanged(_),
        )
        | Event::Payments(PaymentEvent::SettlementCompleted(_)) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::events::examples;

    #[test]
    fn a_funding_counts_its_price_and_a_reversal_takes_it_back() {
        let mut p = examples::payment(PaymentKind::Funding, PaymentStatus::Succeeded);
        p.amount_minor = 145_561_644;
        let paid = facts_of(&PaymentEvent::StatusChanged(p.clone()).into());
        assert_eq!(
            paid,
            [Fact {
                metric: Metric::Funded,
                currency: Some(Currency::NGN),
                amount: 145_561_644
            }]
        );
        p.status = PaymentStatus::Reversed;
        assert_eq!(
            facts_of(&PaymentEvent::StatusChanged(p.clone()).into())[0].amount,
            -145_561_644
        );
        p.status = PaymentStatus::Pending;
        assert!(facts_of(&PaymentEvent::StatusChanged(p).into()).is_empty());
    }

    #[test]
    fn money_metrics_are_the_four_with_a_currency() {
        for event in Event::examples() {
            for f in facts_of(&event) {
                assert_eq!(f.metric.is_money(), f.currency.is_some(), "{f:?}");
            }
        }
    }
}
