#![doc = include_str!("../README.md")]

pub mod auth;
pub mod cache;
pub mod clock;
pub mod config;
pub mod db;
pub mod events;
pub mod http;
pub mod inbox;
pub mod keys;
pub mod outbox;
pub mod pubsub;
pub mod queue;
pub mod ratelimit;
pub mod redis;
pub mod shutdown;
pub mod telemetry;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use keys::Keys;

/// A new UUIDv7 stamped with `at` (ids sort by creation time).
pub fn new_id_at(at: chrono::DateTime<chrono::Utc>) -> uuid::Uuid {
    let ms = u64::try_from(at.timestamp_millis()).unwrap_or_default();
    uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
        uuid::NoContext,
        ms / 1000,
        u32::try_from((ms % 1000) * 1_000_000).unwrap_or_default(),
    ))
}
