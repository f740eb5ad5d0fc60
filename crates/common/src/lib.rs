#![doc = include_str!("../README.md")]

pub mod acl;
pub mod auth;
pub mod clock;
pub mod enums;
pub mod events;
pub mod ids;
pub mod keys;
pub mod money;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use keys::Keys;

/// A new UUIDv7 stamped with `at` (ids sort by creation time). Ids made in one process
/// are strictly increasing even within one millisecond (or under a clock a test holds
/// still): a shared counter fills the bits after the timestamp.
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
