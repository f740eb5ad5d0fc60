//! Why a payments operation did not happen, in the domain's words. Routes turn it into a
//! problem (the one mapping is in `routes`), the consumer and webhooks into a refusal.

use uuid::Uuid;

use super::FinancingStatus;
use super::ledger::LedgerError;

#[derive(Debug, thiserror::Error)]
pub enum PaymentsError {
    /// No such financing, or not one the caller may see (never "forbidden").
    #[error("no financing {0}")]
    NoFinancing(Uuid),
    #[error("no payment {0}")]
    NoPayment(Uuid),
    #[error("the financing is {0}; only one awaiting funding can be paid")]
    NotAwaitingFunding(FinancingStatus),
    #[error("the funding window closed at {0}")]
    WindowClosed(chrono::DateTime<chrono::Utc>),
    #[error("the invoice is not funded yet; repayments start once it is")]
    NotFunded,
    #[error("nothing is outstanding on this invoice")]
    NothingOutstanding,
    #[error("Idempotency-Key {0} was used for another request")]
    IdempotencyMismatch(String),
    /// The provider refused or could not be reached; nothing changed here.
    #[error("the payment provider did not answer as expected: {0}")]
    Provider(String),
    #[error("the provider could not resolve the account: {0}")]
    AccountNotResolved(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The database, or a stored value that is not one of its column's words.
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}
