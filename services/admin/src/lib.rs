//! # admin
//!
//! The operators' side of the platform. It learns everything from events (never another
//! service's tables, never HTTP to another service).
//!
//! | route | who | does |
//! | --- | --- | --- |
//! | `GET /api/admin/audit` | admin | audit rows by actor, action, resource, time; newest first, keyset pages; cached (`audit:search:{hash}`) |
//! | `GET /api/admin/audit/verify` | admin | walks the hash chain and names the first row at fault |
//! | `GET /api/admin/dashboard`, `/metrics`, `/users/stats` | admin | the platform at a glance, series, user statistics |
//! | `GET /api/admin/users`, `/reviews` | admin | user search; what waits for a review |
//! | `GET /admin/` | anyone (the page; its API calls need an admin) | the operators' console ([`routes_console`], docs/admin.md) |
//!
//! Consumes `events:admin` ([`inbound`]): every event of the catalogue becomes one
//! append-only audit row ([`store::audit`]), personal fields masked, chained with an
//! HMAC keyed by `AUDIT_CHAIN_KEY` ([`domain::audit`]); the chain's head is copied to
//! Redis (`audit:head`) and the log every `ADMIN_HEAD_COPY_SECS` ([`jobs::head_copy`]).
//!
//! Inside, data flows one way: an event ([`inbound`]) -> the [`domain`] (subject, masking,
//! link) -> the [`store`] (row and head in the event's transaction) -> after the commit,
//! [`outbound`] (the search cache's generation, the head copy). [`startup`] is the table
//! of contents.

mod config;
pub mod domain;
pub mod inbound;
pub mod jobs;
pub mod outbound;
mod routes;
mod startup;
pub mod state;
pub mod store;

pub use config::{AdminConfig, MIN_CHAIN_KEY_BYTES};
/// The console's pages (their policy, for tests and the gateway's copy).
pub use routes::console as routes_console;
pub use startup::{Application, Binary, build};
