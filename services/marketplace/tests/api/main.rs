//! Black-box tests of the marketplace service: real PostgreSQL/SQLite and Redis, the app
//! on port 0, tokens signed by a test key published under the test's Redis prefix, and the
//! invoice service's events delivered onto marketplace's queue as its relay would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod concurrency;
mod effects;
mod expiry;
mod helpers;
mod live;
mod offers;
mod openapi;
mod refusals;
mod saga;
mod timeout;
mod versions;
