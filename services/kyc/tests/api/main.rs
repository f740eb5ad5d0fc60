//! Black-box tests of the KYC service: real PostgreSQL/SQLite and Redis, the app on port 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;
mod openapi;
mod pods;
mod processing;
mod review;
mod revoked;
mod status;
mod upload;
mod worker_kills;
