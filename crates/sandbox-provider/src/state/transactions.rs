//! Money in: a transaction is initialised by the merchant, paid or declined at checkout,
//! refunded in parts, or reversed by the control API.

use chrono::{DateTime, Utc};
use rand::Rng;
use rand::distributions::Alphanumeric;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{EventType, State};
use crate::domain::{Currency, Reference};
use crate::error::ApiError;

use TransactionStatus as Status;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransactionStatus {
    Pending,
    Success,
    Failed,
    Reversed,
    Abandoned,
}

impl TransactionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Success => "success",
            Self::Failed => "failed",
            Self::Reversed => "reversed",
            Self::Abandoned => "abandoned",
        }
    }
}

pub(crate) struct Transaction {
    id: u64,
    reference: Reference,
    access_code: String,
    status: TransactionStatus,
    requested_amount: u64,
    paid_amount: Option<u64>,
    refunded: u64,
    currency: Currency,
    email: Option<String>,
    metadata: Value,
    callback_url: Option<String>,
    paid_at: Option<DateTime<Utc>>,
}

pub(crate) struct NewTransaction {
    pub reference: Reference,
    pub amount: u64,
    pub currency: Currency,
    pub email: Option<String>,
    pub metadata: Value,
    pub callback_url: Option<String>,
}

/// A transaction as `GET /transaction/verify/{reference}` and the `charge.*` webhooks show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransactionView {
    pub id: u64,
    pub reference: String,
    pub status: TransactionStatus,
    /// What was paid; the requested amount while nothing was.
    pub amount: u64,
    pub requested_amount: u64,
    pub refunded_amount: u64,
    pub currency: String,
    pub email: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    pub metadata: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundView {
    pub id: u64,
    pub transaction_reference: String,
    pub amount: u64,
    pub currency: String,
    pub status: String,
}

/// What the checkout page shows.
pub(crate) struct Checkout {
    pub reference: String,
    pub amount: u64,
    pub currency: String,
    pub status: TransactionStatus,
    pub callback_url: Option<String>,
}

impl Transaction {
    fn view(&self) -> TransactionView {
        TransactionView {
            id: self.id,
            reference: self.reference.to_string(),
            status: self.status,
            amount: self.paid_amount.unwrap_or(self.requested_amount),
            requested_amount: self.requested_amount,
            refunded_amount: self.refunded,
            currency: self.currency.as_str().to_owned(),
            email: self.email.clone(),
            paid_at: self.paid_at,
            metadata: self.metadata.clone(),
        }
    }
}

fn not_found(reference: &str) -> ApiError {
    ApiError::NotFound(format!("transaction {reference} not found"))
}

impl State {
    /// The transaction's access code; the same for the same reference, amount and currency.
    pub fn initialize(&mut self, new: NewTransaction) -> Result<String, ApiError> {
        if let Some(t) = self.transactions.get(new.reference.as_str()) {
            if t.requested_amount != new.amount || t.currency != new.currency {
                return Err(ApiError::Conflict(format!(
                    "reference {} is already used for {} {}",
                    new.reference,
                    t.requested_amount,
                    t.currency.as_str()
                )));
            }
            return Ok(t.access_code.clone());
        }
        let access_code: String = rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(16)
            .map(char::from)
            .collect();
        let id = self.next_id();
        let t = Transaction {
            id,
            reference: new.reference,
            access_code: access_code.clone(),
            status: TransactionStatus::Pending,
            requested_amount: new.amount,
            paid_amount: None,
            refunded: 0,
            currency: new.currency,
            email: new.email,
            metadata: new.metadata,
            callback_url: new.callback_url,
            paid_at: None,
        };
        self.transactions.insert(t.reference.to_string(), t);
        Ok(access_code)
    }

    pub fn transaction(&self, reference: &str) -> Result<TransactionView, ApiError> {
        self.transactions
            .get(reference)
            .map(Transaction::view)
            .ok_or_else(|| not_found(reference))
    }

    pub fn checkout(&self, reference: &str) -> Option<Checkout> {
        self.transactions.get(reference).map(|t| Checkout {
            reference: t.reference.to_string(),
            amount: t.requested_amount,
            currency: t.currency.as_str().to_owned(),
            status: t.status,
            callback_url: t.callback_url.clone(),
        })
    }

    /// Moves a transaction from `from` to `to`, emitting `event` (if any).
    fn transition(
        &mut self,
        reference: &str,
        from: TransactionStatus,
        to: TransactionStatus,
        event: Option<EventType>,
        now: DateTime<Utc>,
        paid: Option<u64>,
    ) -> Result<TransactionView, ApiError> {
        let t = self
            .transactions
            .get_mut(reference)
            .ok_or_else(|| not_found(reference))?;
        if t.status != from {
            return Err(ApiError::Conflict(format!(
                "transaction {reference} is {}, not {}",
                t.status.as_str(),
                from.as_str()
            )));
        }
        t.status = to;
        if let Some(amount) = paid {
            t.paid_amount = Some(amount);
            t.paid_at = Some(now);
        }
        let view = t.view();
        tracing::info!(%reference, status = to.as_str(), "Transaction changed.");
        if let Some(event) = event {
            self.emit(event, &view, now);
        }
        Ok(view)
    }

    /// Pays a pending transaction with `amount` (the requested amount by default).
    pub fn pay(
        &mut self,
        reference: &str,
        amount: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<TransactionView, ApiError> {
        let requested = self
            .transactions
            .get(reference)
            .ok_or_else(|| not_found(reference))?
            .requested_amount;
        let paid = Some(amount.unwrap_or(requested));
        let event = Some(EventType::ChargeSuccess);
        self.transition(
            reference,
            Status::Pending,
            Status::Success,
            event,
            now,
            paid,
        )
    }

    pub fn decline(
        &mut self,
        reference: &str,
        now: DateTime<Utc>,
    ) -> Result<TransactionView, ApiError> {
        let event = Some(EventType::ChargeFailed);
        self.transition(reference, Status::Pending, Status::Failed, event, now, None)
    }

    pub fn reverse(
        &mut self,
        reference: &str,
        now: DateTime<Utc>,
    ) -> Result<TransactionView, ApiError> {
        let event = Some(EventType::ChargeReversed);
        self.transition(
            reference,
            Status::Success,
            Status::Reversed,
            event,
            now,
            None,
        )
    }

    /// A pending transaction nobody paid: `abandoned`, without a webhook (as providers do).
    pub fn abandon(
        &mut self,
        reference: &str,
        now: DateTime<Utc>,
    ) -> Result<TransactionView, ApiError> {
        self.transition(
            reference,
            Status::Pending,
            Status::Abandoned,
            None,
            now,
            None,
        )
    }

    /// Refunds `amount` (by default all that is left) of a successful transaction.
    pub fn refund(
        &mut self,
        reference: &str,
        amount: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<RefundView, ApiError> {
        let t = self
            .transactions
            .get(reference)
            .ok_or_else(|| not_found(reference))?;
        if t.status != Status::Success {
            return Err(ApiError::Conflict(format!(
                "transaction {reference} is {}: only a successful transaction can be refunded",
                t.status.as_str()
            )));
        }
        let left = t.paid_amount.unwrap_or(0).saturating_sub(t.refunded);
        let amount = amount.unwrap_or(left);
        if amount == 0 || amount > left {
            return Err(ApiError::Invalid(format!(
                "refund of {amount} is more than the {left} left to refund"
            )));
        }
        let currency = t.currency.as_str().to_owned();
        if let Some(t) = self.transactions.get_mut(reference) {
            t.refunded += amount;
        }
        let refund = RefundView {
            id: self.next_id(),
            transaction_reference: reference.to_owned(),
            amount,
            currency,
            status: "processed".to_owned(),
        };
        tracing::info!(%reference, amount, "Refund processed.");
        self.emit(EventType::RefundProcessed, &refund, now);
        Ok(refund)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn new(reference: &str, amount: u64) -> NewTransaction {
        NewTransaction {
            reference: Reference::parse(reference).unwrap(),
            amount,
            currency: Currency::parse("NGN").unwrap(),
            email: None,
            metadata: Value::Null,
            callback_url: None,
        }
    }

    #[test]
    fn a_paid_transaction_refunds_at_most_what_was_paid() {
        let mut s = State::default();
        let now = Utc::now();
        s.initialize(new("ref_0000000000000001", 1000)).unwrap();
        assert!(matches!(
            s.refund("ref_0000000000000001", None, now),
            Err(ApiError::Conflict(_))
        ));
        let v = s.pay("ref_0000000000000001", Some(800), now).unwrap();
        assert_eq!((v.amount, v.requested_amount), (800, 1000));
        assert_eq!(
            s.refund("ref_0000000000000001", Some(300), now)
                .unwrap()
                .amount,
            300
        );
        assert!(matches!(
            s.refund("ref_0000000000000001", Some(501), now),
            Err(ApiError::Invalid(_))
        ));
        assert_eq!(
            s.refund("ref_0000000000000001", None, now).unwrap().amount,
            500
        );
        assert!(matches!(
            s.refund("ref_0000000000000001", None, now),
            Err(ApiError::Invalid(_))
        ));
        assert!(matches!(
            s.pay("ref_0000000000000001", None, now),
            Err(ApiError::Conflict(_))
        ));
        // charge.success and two refund.processed.
        assert_eq!(s.take_unsent().len(), 3);
    }
}
