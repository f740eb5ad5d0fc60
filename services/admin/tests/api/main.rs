//! Black-box tests of the admin service: the app on port 0 with its own database and
//! Redis prefix, events delivered on its queue as the other services' relays deliver
//! them, on PostgreSQL and SQLite.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod console;
mod helpers;
mod models;
mod openapi;
mod tamper;
