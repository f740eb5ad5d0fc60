//! Black-box tests of the payments service: the app on port 0 with its own database and
//! Redis prefix and a sandbox provider of its own (real HTTP both ways: checkouts,
//! verify calls, signed webhooks), on PostgreSQL and SQLite.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod applier_kills;
mod funding;
mod helpers;
mod ledger;
mod live;
mod model;
mod openapi;
mod payouts;
mod repayment;
mod webhooks;
mod worker_kills;
