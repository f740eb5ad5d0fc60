//! Black-box tests of the invoice service: real PostgreSQL/SQLite and Redis, the app on
//! port 0, tokens signed by a test key published under the test's Redis prefix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cache;
mod concurrency;
mod consumer;
mod events;
mod helpers;
mod lifecycle;
mod openapi;
mod popular;
mod revoked;
mod search;
mod search_refusals;
mod stored_words;
mod sweep;
mod timeout;
mod versions;
