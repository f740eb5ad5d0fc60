//! Money out: recipients, and transfers that run at most once per reference and end as the
//! recipient's account number says ([`Outcome`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{EventType, State};
use crate::domain::{AccountNumber, BankCode, Currency, Reference};
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransferStatus {
    Pending,
    Success,
    Failed,
    Reversed,
}

impl TransferStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Success => "success",
            Self::Failed => "failed",
            Self::Reversed => "reversed",
        }
    }

    fn event(self) -> Option<EventType> {
        match self {
            Self::Pending => None,
            Self::Success => Some(EventType::TransferSuccess),
            Self::Failed => Some(EventType::TransferFailed),
            Self::Reversed => Some(EventType::TransferReversed),
        }
    }
}

/// How a transfer ends, by the last digit of the recipient's account number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `...1`: `failed`.
    Failed,
    /// `...2`: stays `pending` until `POST /_control/transfers/{reference}/complete`.
    Pending,
    /// `...3`: `success`, then `reversed` one transfer delay later.
    SuccessThenReversed,
    /// Any other digit: `success`.
    Success,
}

impl Outcome {
    pub fn for_account(account: &AccountNumber) -> Self {
        match account.last_digit() {
            '1' => Self::Failed,
            '2' => Self::Pending,
            '3' => Self::SuccessThenReversed,
            _ => Self::Success,
        }
    }
}

pub(crate) struct Recipient {
    code: String,
    name: String,
    account: AccountNumber,
    bank: BankCode,
    currency: Currency,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientView {
    pub recipient_code: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub currency: String,
    pub details: Value,
}

impl Recipient {
    fn view(&self) -> RecipientView {
        RecipientView {
            recipient_code: self.code.clone(),
            kind: "nuban".to_owned(),
            name: self.name.clone(),
            currency: self.currency.as_str().to_owned(),
            details: json!({
                "account_number": self.account,
                "account_name": self.account.account_name(),
                "bank_code": self.bank,
                "bank_name": format!("Sandbox Bank {}", self.bank.as_str()),
            }),
        }
    }
}

pub(crate) struct Transfer {
    id: u64,
    reference: Reference,
    amount: u64,
    currency: Currency,
    recipient: String,
    account: AccountNumber,
    status: TransferStatus,
}

pub(crate) struct NewTransfer {
    pub reference: Reference,
    pub amount: u64,
    pub currency: Currency,
    pub recipient: String,
}

/// A transfer as `GET /transfer/verify/{reference}` and the `transfer.*` webhooks show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferView {
    pub id: u64,
    pub reference: String,
    pub status: TransferStatus,
    pub amount: u64,
    pub currency: String,
    pub recipient: String,
}

/// `GET /_control/transfers/{reference}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferAttempts {
    pub reference: String,
    /// Every `POST /transfer` with this reference and valid fields (an unknown recipient
    /// or a 409 included).
    pub attempts: u32,
    /// 1 once the transfer exists: money moves at most once.
    pub executed: u32,
    /// `null` while no call created it (say, every call named an unknown recipient).
    pub status: Option<TransferStatus>,
}

impl Transfer {
    fn view(&self) -> TransferView {
        TransferView {
            id: self.id,
            reference: self.reference.to_string(),
            status: self.status,
            amount: self.amount,
            currency: self.currency.as_str().to_owned(),
            recipient: self.recipient.clone(),
        }
    }
}

/// `RCP_` and 16 hex digits of SHA-256 over bank, account and currency: the same account
/// in the same currency, the same code.
fn recipient_code(bank: &BankCode, account: &AccountNumber, currency: &Currency) -> String {
    let digest = Sha256::digest(format!(
        "{}:{}:{}",
        bank.as_str(),
        account.as_str(),
        currency.as_str()
    ));
    format!("RCP_{}", &hex::encode(digest)[..16])
}

fn not_found(reference: &str) -> ApiError {
    ApiError::NotFound(format!("transfer {reference} not found"))
}

impl State {
    pub fn add_recipient(
        &mut self,
        name: String,
        account: AccountNumber,
        bank: BankCode,
        currency: Currency,
    ) -> RecipientView {
        let code = recipient_code(&bank, &account, &currency);
        self.recipients
            .entry(code.clone())
            .or_insert(Recipient {
                code,
                name,
                account,
                bank,
                currency,
            })
            .view()
    }

    /// Creates the transfer on the first call with its reference (`true`); afterwards
    /// answers with it unchanged, or 409 if the call asks for something else.
    pub fn transfer(&mut self, new: NewTransfer) -> Result<(TransferView, bool), ApiError> {
        *self
            .transfer_attempts
            .entry(new.reference.to_string())
            .or_default() += 1;
        if let Some(t) = self.transfers.get(new.reference.as_str()) {
            if t.amount != new.amount || t.currency != new.currency || t.recipient != new.recipient
            {
                return Err(ApiError::Conflict(format!(
                    "transfer {} already exists with another amount, currency or recipient",
                    new.reference
                )));
            }
            return Ok((t.view(), false));
        }
        let (account, paid_in) = self
            .recipients
            .get(&new.recipient)
            .map(|r| (r.account.clone(), r.currency.clone()))
            .ok_or_else(|| {
                ApiError::Invalid(format!("recipient {} was not issued here", new.recipient))
            })?;
        if paid_in != new.currency {
            // As a real provider: a recipient takes transfers in its own currency.
            return Err(ApiError::Invalid(format!(
                "recipient {} takes {}, not {}",
                new.recipient,
                paid_in.as_str(),
                new.currency.as_str()
            )));
        }
        let t = Transfer {
            id: self.next_id(),
            reference: new.reference,
            amount: new.amount,
            currency: new.currency,
            recipient: new.recipient,
            account,
            status: TransferStatus::Pending,
        };
        let view = t.view();
        tracing::info!(reference = %t.reference, amount = t.amount, "Transfer created.");
        self.transfers.insert(t.reference.to_string(), t);
        Ok((view, true))
    }

    pub fn transfer_view(&self, reference: &str) -> Result<TransferView, ApiError> {
        self.transfers
            .get(reference)
            .map(Transfer::view)
            .ok_or_else(|| not_found(reference))
    }

    pub fn transfer_attempts(&self, reference: &str) -> Option<TransferAttempts> {
        let attempts = *self.transfer_attempts.get(reference)?;
        let status = self.transfers.get(reference).map(|t| t.status);
        Some(TransferAttempts {
            reference: reference.to_owned(),
            attempts,
            executed: u32::from(status.is_some()),
            status,
        })
    }

    /// The outcome a pending transfer is due (`None` if it is no longer pending).
    pub fn due_outcome(&self, reference: &str) -> Option<Outcome> {
        let t = self.transfers.get(reference)?;
        (t.status == TransferStatus::Pending).then(|| Outcome::for_account(&t.account))
    }

    /// Settles a transfer: pending -> success, failed or reversed; success -> reversed.
    /// Emits the matching `transfer.*` webhook.
    pub fn settle_transfer(
        &mut self,
        reference: &str,
        to: TransferStatus,
        now: DateTime<Utc>,
    ) -> Result<TransferView, ApiError> {
        let t = self
            .transfers
            .get_mut(reference)
            .ok_or_else(|| not_found(reference))?;
        let allowed = match t.status {
            TransferStatus::Pending => to != TransferStatus::Pending,
            TransferStatus::Success => to == TransferStatus::Reversed,
            TransferStatus::Failed | TransferStatus::Reversed => false,
        };
        if !allowed {
            return Err(ApiError::Conflict(format!(
                "transfer {reference} is {}; it cannot become {}",
                t.status.as_str(),
                to.as_str()
            )));
        }
        t.status = to;
        let view = t.view();
        tracing::info!(%reference, status = to.as_str(), "Transfer settled.");
        if let Some(event) = to.event() {
            self.emit(event, &view, now);
        }
        Ok(view)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn account(s: &str) -> AccountNumber {
        AccountNumber::parse(s).unwrap()
    }

    #[test]
    fn the_last_digit_picks_the_outcome() {
        assert_eq!(
            Outcome::for_account(&account("0123456781")),
            Outcome::Failed
        );
        assert_eq!(
            Outcome::for_account(&account("0123456782")),
            Outcome::Pending
        );
        assert_eq!(
            Outcome::for_account(&account("0123456783")),
            Outcome::SuccessThenReversed
        );
        assert_eq!(
            Outcome::for_account(&account("0123456780")),
            Outcome::Success
        );
        assert_eq!(
            Outcome::for_account(&account("0123456789")),
            Outcome::Success
        );
    }

    #[test]
    fn a_reference_moves_money_once() {
        let mut s = State::default();
        let bank = BankCode::parse("058").unwrap();
        let r = s.add_recipient(
            "A".into(),
            account("0123456780"),
            bank.clone(),
            Currency::parse("NGN").unwrap(),
        );
        let again = s.add_recipient(
            "B".into(),
            account("0123456780"),
            bank,
            Currency::parse("NGN").unwrap(),
        );
        assert_eq!(r.recipient_code, again.recipient_code);
        let new = |amount| NewTransfer {
            reference: Reference::parse("payout_000000000001").unwrap(),
            amount,
            currency: Currency::parse("NGN").unwrap(),
            recipient: r.recipient_code.clone(),
        };
        assert!(s.transfer(new(500)).unwrap().1);
        assert!(!s.transfer(new(500)).unwrap().1);
        assert!(matches!(s.transfer(new(501)), Err(ApiError::Conflict(_))));
        let a = s.transfer_attempts("payout_000000000001").unwrap();
        assert_eq!((a.attempts, a.executed), (3, 1));
        let now = Utc::now();
        s.settle_transfer("payout_000000000001", TransferStatus::Success, now)
            .unwrap();
        assert!(
            s.settle_transfer("payout_000000000001", TransferStatus::Failed, now)
                .is_err()
        );
        s.settle_transfer("payout_000000000001", TransferStatus::Reversed, now)
            .unwrap();
    }
}
