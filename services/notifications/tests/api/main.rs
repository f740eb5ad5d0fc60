//! Black-box tests of the notifications service: real PostgreSQL/SQLite and Redis, the app
//! on port 0, tokens signed by a test key published under the test's Redis prefix, events
//! put on the service's queue as producers' relays would, and real WebSocket clients.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;
mod notifications;
mod openapi;
mod process_kills;
mod push;
mod redis_restart;
mod ws;
mod ws_protocol;
