//! The service kit: the machinery every Vestio service runs, so that a service's own code
//! is its domain. `common` keeps the contracts (events, Redis names, JWT validation, ids,
//! money); this crate holds the rest:
//!
//! | module | what it gives |
//! | --- | --- |
//! | [`Kit`], [`Running`] | the builder a service's start-up reads like a table of contents |
//! | [`cli`] | the one `main` of every service binary (`serve`, `migrate`, `dead-letters`, its own commands) |
//! | [`tasks`], [`heartbeat`] | supervised background tasks: restarted with backoff, `/readyz` 503 while down or hung |
//! | [`queue`] | a reliable Redis list queue (BLMOVE, ack, retry with backoff, dead letters, reaper) |
//! | [`outbox`], [`inbox`] | exactly-once effects from at-least-once delivery |
//! | [`batch`] | group commit: concurrent callers' writes run as one batch, each answered with its own result |
//! | [`cache`] | cache-aside with generations and single-flight |
//! | [`crypto`] | fields encrypted at rest (AES-256-GCM) with a key from the environment or a file |
//! | [`flight`] | single-flight for any work (one run per key among overlapping callers) |
//! | [`pubsub`] | publishing and a subscriber that survives Redis restarts |
//! | [`ratelimit`] | GCRA rate limiting in one Lua script |
//! | [`webhooks`] | Standard Webhooks signatures: signing, and verification in constant time |
//! | [`auth`] | the `AuthUser` extractor and role guards (over `common::auth`'s verifier) |
//! | [`http`] | problem+json errors, request ids, health probes, metrics, OpenAPI docs |
//! | [`telemetry`], [`config`], [`db`], [`redis`], [`shutdown`] | the rest of a service's plumbing |

pub mod auth;
pub mod batch;
pub mod cache;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod flight;
pub mod heartbeat;
pub mod http;
pub mod inbox;
mod kit;
mod mount;
pub mod outbox;
pub mod pubsub;
pub mod queue;
pub mod ratelimit;
pub mod redis;
pub mod shutdown;
pub mod tasks;
pub mod telemetry;
pub mod wake;
pub mod webhooks;

pub use kit::{Kit, Running};

/// Every service binary's global allocator:
/// `#[global_allocator] static ALLOCATOR: crate::Allocator = crate::Allocator;`
/// (mimalloc: glibc's malloc, its frees and consolidations were about 9 % of a cached
/// search's CPU; see docs/performance.md).
pub use mimalloc::MiMalloc as Allocator;

/// Makes ring rustls' process-wide provider. fred (ring) and reqwest/object_store
/// (aws-lc-rs) each enable one; with both compiled in, rustls cannot choose and a client
/// built from the process default (fred's `rediss://`) panics. Every service's start-up
/// calls this first ([`telemetry::init`]); calling it again does nothing.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
