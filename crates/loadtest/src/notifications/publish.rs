//! The publisher: notification frames straight on the clients' Redis channels, at a fixed
//! rate, to random clients.

use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use serde_json::json;
use service_kit::redis::Pool;
use uuid::Uuid;

/// The `kind` of every frame the load test publishes.
pub const KIND: &str = "loadtest";

/// Microseconds since the Unix epoch, this machine's clock.
pub fn unix_micros() -> u64 {
    u64::try_from(Utc::now().timestamp_micros()).unwrap_or(0)
}

/// A notification frame as the service delivers them, stamped now: `data` carries `seq`
/// and `sent_at_us` (and `warmup: true` for the warm-up's).
pub fn frame(seq: u64, warmup: bool) -> String {
    let mut data = json!({"seq": seq, "sent_at_us": unix_micros()});
    if warmup {
        data["warmup"] = json!(true);
    }
    json!({
        "type": "notification",
        "id": Uuid::now_v7(),
        "kind": KIND,
        "title": "Load test",
        "body": format!("Load-test notification {seq}"),
        "data": data,
        "created_at": Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true),
    })
    .to_string()
}

/// How many of the messages are due `elapsed` after the start at `rate` a second:
/// message n (from 0) is due at n / rate s.
pub fn due(elapsed: Duration, rate: u64) -> u64 {
    (elapsed.as_micros() * u128::from(rate) / 1_000_000) as u64 + 1
}

/// A small deterministic generator (xorshift64*) for the targets: no dependency, and
/// plenty for spreading messages over clients.
pub struct Pick(u64);

impl Pick {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as usize % n.max(1)
    }
}

/// Publishes a warm-up frame on every channel whose client has not received one yet
/// (`waiting`), every 200 ms, until none is waiting or `timeout` passes.
pub async fn warm_up(
    redis: &Pool,
    channels: &[String],
    timeout: Duration,
    waiting: impl Fn(usize) -> bool,
) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let sends: Vec<_> = (0..channels.len())
            .filter(|&i| waiting(i))
            .map(|i| service_kit::pubsub::publish_bytes(redis, &channels[i], frame(0, true)))
            .collect();
        if sends.is_empty() {
            return;
        }
        let _ = futures::future::join_all(sends).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What the publisher did.
#[derive(Debug, Default)]
pub struct Load {
    /// PUBLISH commands Redis accepted.
    pub published: u64,
    /// Of those, how many reached no subscriber (the service was not subscribed).
    pub unrouted: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// The client each sequence number was sent to.
    pub targets: Vec<u32>,
    /// From the first publish to the last answer.
    pub secs: f64,
}

/// `rate` frames a second for `duration`, each on the channel of a random client of
/// `ready` (indices into `channels`). A tick every millisecond (every 1/rate s when
/// slower) publishes what is due by then, so a late tick catches up.
pub async fn load(
    redis: &Pool,
    channels: &[String],
    ready: &[usize],
    rate: u64,
    duration: Duration,
) -> Load {
    let total = rate * duration.as_secs();
    let tick = Duration::from_secs_f64(1.0 / rate as f64).max(Duration::from_millis(1));
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut pick = Pick::new(Uuid::new_v4().as_u128() as u64);
    let mut load = Load {
        targets: Vec::with_capacity(usize::try_from(total).unwrap_or(0)),
        ..Load::default()
    };
    let started = Instant::now();
    let mut seq = 0;
    while seq < total {
        interval.tick().await;
        let due = due(started.elapsed(), rate).min(total);
        let sends: Vec<_> = (seq..due)
            .map(|n| {
                let client = ready[pick.below(ready.len())];
                load.targets.push(client as u32);
                service_kit::pubsub::publish_bytes(redis, &channels[client], frame(n, false))
            })
            .collect();
        seq = due;
        for sent in futures::future::join_all(sends).await {
            match sent {
                Ok(receivers) => {
                    load.published += 1;
                    load.unrouted += u64::from(receivers == 0);
                }
                Err(e) => {
                    load.errors += 1;
                    load.first_error.get_or_insert_with(|| e.to_string());
                }
            }
        }
    }
    load.secs = started.elapsed().as_secs_f64();
    load
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_fall_due_evenly() {
        assert_eq!(due(Duration::ZERO, 1000), 1);
        assert_eq!(due(Duration::from_micros(999), 1000), 1);
        assert_eq!(due(Duration::from_millis(1), 1000), 2);
        assert_eq!(due(Duration::from_secs(1), 1000), 1001);
        assert_eq!(due(Duration::from_millis(250), 100), 26);
        assert_eq!(due(Duration::from_millis(1), 50_000), 51);
    }

    #[test]
    fn picks_stay_in_range_and_reach_every_client() {
        let mut pick = Pick::new(7);
        let mut seen = [0u32; 10];
        for _ in 0..10_000 {
            seen[pick.below(10)] += 1;
        }
        assert!(seen.iter().all(|&n| (800..1200).contains(&n)), "{seen:?}");
        assert_eq!(Pick::new(0).below(1), 0);
    }

    #[test]
    fn a_frame_has_the_notification_shape() {
        let v: serde_json::Value = serde_json::from_str(&frame(3, false)).unwrap();
        assert_eq!(v["type"], "notification");
        assert_eq!(v["kind"], KIND);
        assert_eq!(v["data"]["seq"], 3);
        assert!(v["data"]["sent_at_us"].as_u64().is_some());
        assert!(v["data"].get("warmup").is_none());
        assert!(
            v["id"]
                .as_str()
                .is_some_and(|id| id.parse::<Uuid>().is_ok())
        );
        assert!(
            v["created_at"]
                .as_str()
                .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok())
        );
    }
}
