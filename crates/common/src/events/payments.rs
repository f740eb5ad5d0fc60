//! The payments service's events, pinned before the service is built: its consumers
//! (invoice, notifications, admin) decode these types, never fields out of JSON. Money is
//! in integer minor units with its currency. An unknown kind or status does not decode:
//! the consumer fails the event (to the dead letters after its retries), it never guesses.
//! Extra fields are ignored, so a later version may add some.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::money::Currency;

/// What a payment moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentKind {
    /// The investor pays the offer's price.
    Funding,
    /// The seller is paid the price less the fee.
    Payout,
    /// The debtor repays the invoice (in full or in part).
    Repayment,
    /// The investor is paid what the debtor repaid.
    Distribution,
    /// A payment handed back.
    Refund,
}

/// Where a payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Pending,
    Succeeded,
    Failed,
    Reversed,
    /// Not paid in time (a funding window that closed).
    Expired,
}

impl PaymentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentKind::Funding => "funding",
            PaymentKind::Payout => "payout",
            PaymentKind::Repayment => "repayment",
            PaymentKind::Distribution => "distribution",
            PaymentKind::Refund => "refund",
        }
    }
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "pending",
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Reversed => "reversed",
            PaymentStatus::Expired => "expired",
        }
    }
}

/// `payment.status_changed`: a funding, payout, repayment, distribution or refund moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentStatusChanged {
    pub payment_id: Uuid,
    pub kind: PaymentKind,
    pub status: PaymentStatus,
    pub invoice_id: Uuid,
    pub offer_id: Uuid,
    pub investor_id: Uuid,
    pub seller_id: Uuid,
    /// What this payment moves, in minor units of `currency`.
    pub amount_minor: i64,
    pub currency: Currency,
    /// For a repayment: what the debtor still owes after it (0 once repaid in full).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outstanding_minor: Option<i64>,
}

impl PaymentStatusChanged {
    /// The event type in the catalogue.
    pub const TYPE: &'static str = "payment.status_changed";
}

/// Who a settlement paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettlementKind {
    /// The seller's payout (the price less the fee).
    Seller,
    /// The investor's settlement at maturity (what the debtor repaid): the invoice is
    /// settled.
    Investor,
}

/// `settlement.completed`: a seller payout or an investor settlement was paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementCompleted {
    pub invoice_id: Uuid,
    pub offer_id: Uuid,
    pub kind: SettlementKind,
    pub amount_minor: i64,
    pub currency: Currency,
    pub seller_id: Uuid,
    pub investor_id: Uuid,
}

impl SettlementCompleted {
    /// The event type in the catalogue.
    pub const TYPE: &'static str = "settlement.completed";
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_type_names_are_in_the_catalogue_with_payments_as_producer() {
        for name in [PaymentStatusChanged::TYPE, SettlementCompleted::TYPE] {
            let entry = super::super::event_type(name).unwrap();
            assert_eq!(entry.producer, super::super::Service::Payments);
        }
    }
}
