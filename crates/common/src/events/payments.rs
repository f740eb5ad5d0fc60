//! The payments service's events, pinned before the service is built: its consumers
//! (invoice, notifications, admin) decode these types, never fields out of JSON. Money is
//! in integer minor units with its currency. An unknown kind or status does not decode:
//! the consumer fails the event (to the dead letters after its retries), it never guesses.
//! Extra fields are ignored, so a later version may add some.

use serde::{Deserialize, Serialize};

use crate::ids::{InvoiceId, OfferId, PaymentId, UserId};
use crate::money::Currency;

crate::string_enum! {
    /// What a payment moves.
    pub enum PaymentKind {
        /// The investor pays the offer's price.
        Funding = "funding",
        /// The seller is paid the price less the fee.
        Payout = "payout",
        /// The debtor repays the invoice (in full or in part).
        Repayment = "repayment",
        /// The investor is paid what the debtor repaid.
        Distribution = "distribution",
        /// A payment handed back.
        Refund = "refund",
    }
}

crate::string_enum! {
    /// Where a payment stands.
    pub enum PaymentStatus {
        Pending = "pending",
        Succeeded = "succeeded",
        Failed = "failed",
        Reversed = "reversed",
        /// Not paid in time (a funding window that closed).
        Expired = "expired",
    }
}

crate::string_enum! {
    /// Whom a refund hands the money back to.
    pub enum RefundTo {
        /// The investor: a funding that arrived after its window closed.
        Investor = "investor",
        /// The debtor (not a user of the platform): what a repayment paid beyond what was
        /// owed.
        Debtor = "debtor",
    }
}

/// `payment.status_changed`: a funding, payout, repayment, distribution or refund moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentStatusChanged {
    pub payment_id: PaymentId,
    pub kind: PaymentKind,
    pub status: PaymentStatus,
    pub invoice_id: InvoiceId,
    pub offer_id: OfferId,
    pub investor_id: UserId,
    pub seller_id: UserId,
    /// What this payment moves, in minor units of `currency`.
    pub amount_minor: i64,
    pub currency: Currency,
    /// For a repayment: what the debtor still owes after it (0 once repaid in full).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outstanding_minor: Option<i64>,
    /// For a refund: whom the money goes back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_to: Option<RefundTo>,
}

crate::string_enum! {
    /// Who a settlement paid.
    pub enum SettlementKind {
        /// The seller's payout (the price less the fee).
        Seller = "seller",
        /// The investor's settlement at maturity (what the debtor repaid): the invoice is
        /// settled.
        Investor = "investor",
    }
}

/// `settlement.completed`: a seller payout or an investor settlement was paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementCompleted {
    pub invoice_id: InvoiceId,
    pub offer_id: OfferId,
    pub kind: SettlementKind,
    pub amount_minor: i64,
    pub currency: Currency,
    pub seller_id: UserId,
    pub investor_id: UserId,
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn changed() -> serde_json::Value {
        serde_json::json!({
            "payment_id": Uuid::now_v7(), "kind": "repayment", "status": "succeeded",
            "invoice_id": Uuid::now_v7(), "offer_id": Uuid::now_v7(),
            "investor_id": Uuid::now_v7(), "seller_id": Uuid::now_v7(),
            "amount_minor": 100_000_000, "currency": "NGN", "outstanding_minor": 0,
        })
    }

    #[test]
    fn a_payment_event_round_trips_and_ignores_fields_it_does_not_know() {
        let mut raw = changed();
        raw["added_later"] = serde_json::json!("ignored");
        let p: PaymentStatusChanged = serde_json::from_value(raw).unwrap();
        assert_eq!(
            (p.kind, p.status),
            (PaymentKind::Repayment, PaymentStatus::Succeeded)
        );
        assert_eq!(p.outstanding_minor, Some(0));
        let back: PaymentStatusChanged =
            serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn an_unknown_kind_status_currency_or_a_decimal_amount_does_not_decode() {
        for (field, value) in [
            ("kind", serde_json::json!("settlement")),
            ("status", serde_json::json!("done")),
            ("currency", serde_json::json!("XXX")),
            ("amount_minor", serde_json::json!("1000000.00")),
            ("amount_minor", serde_json::json!(10.5)),
        ] {
            let mut raw = changed();
            raw[field] = value.clone();
            assert!(
                serde_json::from_value::<PaymentStatusChanged>(raw).is_err(),
                "{field} = {value} decoded"
            );
        }
        let mut raw = changed();
        raw.as_object_mut().unwrap().remove("payment_id");
        assert!(serde_json::from_value::<PaymentStatusChanged>(raw).is_err());
    }
}
