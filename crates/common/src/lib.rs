#![doc = include_str!("../README.md")]

pub mod auth;
pub mod cache;
pub mod clock;
pub mod config;
pub mod db;
pub mod enums;
pub mod events;
pub mod heartbeat;
pub mod http;
pub mod ids;
pub mod inbox;
pub mod keys;
pub mod money;
pub mod outbox;
pub mod pubsub;
pub mod queue;
pub mod ratelimit;
pub mod redis;
pub mod shutdown;
pub mod telemetry;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use keys::Keys;
/// Every service binary's global allocator:
/// `#[global_allocator] static ALLOCATOR: common::Allocator = common::Allocator;`
/// (mimalloc: glibc's malloc, its frees and consolidations were about 9 % of a cached
/// search's CPU; see docs/performance.md).
pub use mimalloc::MiMalloc as Allocator;

/// A new UUIDv7 stamped with `at` (ids sort by creation time). Ids made in one process
/// are strictly increasing even within one millisecond (or under a clock a test holds
/// still): a shared counter fills the bits after the timestamp.
/// Makes ring rustls' process-wide provider. fred (ring) and reqwest/object_store
/// (aws-lc-rs) each enable one; with both compiled in, rustls cannot choose and a client
/// built from the process default (fred's `rediss://`) panics. Every service's start-up
/// calls this first ([`telemetry::init`]); calling it again does nothing.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub fn new_id_at(at: chrono::DateTime<chrono::Utc>) -> uuid::Uuid {
    static CONTEXT: std::sync::LazyLock<std::sync::Mutex<uuid::ContextV7>> =
        std::sync::LazyLock::new(|| std::sync::Mutex::new(uuid::ContextV7::new()));
    let ms = u64::try_from(at.timestamp_millis()).unwrap_or_default();
    uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
        &*CONTEXT,
        ms / 1000,
        u32::try_from((ms % 1000) * 1_000_000).unwrap_or_default(),
    ))
}

#[cfg(test)]
mod id_tests {
    #[test]
    fn ids_made_at_the_same_instant_still_increase() {
        let at = chrono::Utc::now();
        let ids: Vec<uuid::Uuid> = (0..1000).map(|_| super::new_id_at(at)).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(ids[0].get_version_num(), 7);
    }
}
