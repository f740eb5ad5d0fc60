//! # payments
//!
//! Moves the money of a financing: the investor's funding, the seller's payout, the
//! debtor's repayments and the investor's settlement, each through the payment provider
//! ([`provider`]: the sandbox or Paystack), each recorded in a double-entry ledger that
//! balances after every step ([`domain::ledger`], [`store::ledger`]).
//!
//! | route | who | does |
//! | --- | --- | --- |
//! | `GET /api/payments/fundings` | investor (own), seller (own invoices), admin | financings and what is owed |
//! | `GET /api/payments/fundings/{id}` | its investor and seller, admin | a financing with its payments |
//! | `POST /api/payments/fundings/{id}/checkout` | its investor | a provider checkout for the price (`Idempotency-Key`) |
//! | `POST /api/payments/invoices/{id}/repayment` | the invoice's seller, admin | a payment link for what the debtor still owes (`Idempotency-Key`) |
//! | `GET /api/payments/payments/{id}` | its parties, admin | one payment |
//! | `PUT`, `GET /api/payments/payout-account` | seller, investor | where their money is sent (resolved with the provider) |
//! | `POST /api/payments/webhooks/{provider}` | the provider (signed) | a charge's or transfer's outcome |
//! | `GET /api/payments/ledger/trial-balance` | admin | debits, credits and balances per currency, and the invariants that do not hold |
//! | `GET /api/payments/ledger/accounts`, `/ledger/accounts/{id}/entries` | admin | accounts by code, an account's entries newest first (cursor pages) |
//! | `GET /api/payments/reconciliation` | admin | payments pending too long, and those the provider disagrees with |
//!
//! Consumes `events:payments` ([`inbound`]): `offer.accepted` opens a financing (the
//! investor owes the price within `PAYMENTS_FUNDING_WINDOW_HOURS`). Publishes (outbox):
//! `payment.status_changed`, `settlement.completed`. Live: `payment:{id}` (hash
//! {status, updated_at} and a channel). Redis: `webhook:{id}` (processing lease, then
//! the 86 400 s dedup marker). The [`jobs::sweep`] expires unfunded financings (asking the
//! provider once more first); the [`jobs::settlements`] worker sends payouts
//! (`settlements:high`), distributions and refunds (`settlements:normal`).
//!
//! Inside, data flows one way: a request ([`routes`]), a webhook or an event
//! ([`inbound`]) -> the [`domain`] (financing math, ledger postings,
//! [`domain::PaymentsError`]) -> the [`store`] (rows, postings and outbox events in one
//! transaction) -> after the commit, [`outbound`] (live status, relay wake-up).
//! [`startup`] is the table of contents.

mod config;
pub mod domain;
pub mod inbound;
pub mod jobs;
pub mod outbound;
pub mod provider;
mod routes;
mod startup;
pub mod state;
pub mod store;

pub use config::{PaymentsConfig, ProviderConfig};
pub use startup::{Application, Binary, build, build_with_provider};
