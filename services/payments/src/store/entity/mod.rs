pub mod financing;
pub mod ledger_account;
pub mod ledger_entry;
pub mod ledger_posting;
pub mod payment;
pub mod payout_account;
pub mod webhook_receipt;
