//! The sandbox's memory: transactions, recipients, transfers, webhook deliveries and the
//! faults in force. It lives in one `Mutex<State>` inside `App`; every change
//! is a short synchronous method here (never held across an `.await`), and every status
//! change records its webhook delivery in the same call (`State::emit`).

mod deliveries;
mod transactions;
mod transfers;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub(crate) use deliveries::Delivery;
pub use deliveries::{DeliveryView, EventType, Faults};
pub(crate) use transactions::{Checkout, NewTransaction};
pub use transactions::{RefundView, TransactionStatus, TransactionView};
pub(crate) use transfers::NewTransfer;
pub use transfers::{Outcome, RecipientView, TransferAttempts, TransferStatus, TransferView};

#[derive(Default)]
pub(crate) struct State {
    last_id: u64,
    transactions: HashMap<String, transactions::Transaction>,
    recipients: HashMap<String, transfers::Recipient>,
    transfers: HashMap<String, transfers::Transfer>,
    /// Valid `POST /transfer` calls per reference, whether or not they created the transfer.
    transfer_attempts: HashMap<String, u32>,
    deliveries: Vec<Delivery>,
    /// Deliveries recorded but not yet handed to the sender (drained by `App::update`).
    unsent: Vec<usize>,
    /// Where deliveries go; `None`: they are only recorded (and wait for one).
    pub webhook_url: Option<String>,
    pub faults: Faults,
}

/// The counters of `GET /_control/stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub transactions: usize,
    /// `POST /transfer` calls whose fields were valid, retries included.
    pub transfers: u64,
    /// Transfers created: at most one per reference, whatever the retries.
    pub transfers_executed: usize,
    /// Deliveries the receiver acknowledged with a 2xx.
    pub deliveries_sent: usize,
    /// Deliveries that used up their attempts.
    pub deliveries_failed: usize,
    /// Deliveries neither sent nor failed yet (all of them when there is no webhook URL).
    pub deliveries_pending: usize,
}

impl State {
    pub fn new(webhook_url: Option<String>) -> Self {
        Self {
            webhook_url,
            ..Self::default()
        }
    }

    /// A numeric id, unique across transactions, refunds and transfers.
    fn next_id(&mut self) -> u64 {
        self.last_id += 1;
        1_000_000 + self.last_id
    }

    pub fn stats(&self) -> Stats {
        let sent = self.deliveries.iter().filter(|d| d.delivered).count();
        let failed = self.deliveries.iter().filter(|d| d.failed).count();
        Stats {
            transactions: self.transactions.len(),
            transfers: self.transfer_attempts.values().map(|n| u64::from(*n)).sum(),
            transfers_executed: self.transfers.len(),
            deliveries_sent: sent,
            deliveries_failed: failed,
            deliveries_pending: self.deliveries.len() - sent - failed,
        }
    }

    /// Puts delivery `index` back with those waiting for a webhook URL.
    pub fn park(&mut self, index: usize) {
        self.unsent.push(index);
    }

    /// The deliveries recorded and not yet handed to the sender.
    pub fn take_unsent(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.unsent)
    }
}
