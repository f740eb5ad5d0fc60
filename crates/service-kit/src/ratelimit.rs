//! Rate limiting with GCRA (the generic cell rate algorithm) in one Lua script.
//!
//! A [`Quota`] allows `burst` requests at once and gives one back every
//! `period / burst`, so an idle subject has its full burst again after `period`. The state
//! of a subject is one key, [`Keys::rate_limit`], holding its theoretical arrival time
//! (TAT) in microseconds; it expires when the bucket is full again, so idle subjects cost
//! nothing.
//!
//! By default the script reads the time with `redis.call('TIME')`, so every instance of a
//! service (and every pool) judges by the same clock, and check-and-update is atomic. A
//! limiter built [`RateLimiter::with_clock`] passes the injected clock's time instead, so
//! tests drive windows without waiting (and a service whose clock is NTP-synced may too). It runs by
//! `EVALSHA`, loading the script and retrying on `NOSCRIPT` (a restarted or flushed Redis).
//! It touches one key, so it runs unchanged on Redis Cluster.
//!
//! [`Decision::headers`] renders the IETF `RateLimit-Policy` / `RateLimit` fields
//! (draft-ietf-httpapi-ratelimit-headers) and `Retry-After`.

use std::fmt::Write as _;
use std::sync::LazyLock;
use std::time::Duration;

use fred::prelude::KeysInterface;
use fred::types::scripts::Script;

use crate::redis::{Pool, RedisError};
use common::keys::Keys;

/// KEYS[1]: the subject's TAT (µs). ARGV: emission interval (µs), burst, consume (1 or 0),
/// now (µs; empty for Redis' own TIME).
/// Returns {allowed, remaining, retry_after µs, reset_after µs}.
const GCRA: &str = r"
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local consume = ARGV[3] == '1'
local tolerance = interval * burst
local now = tonumber(ARGV[4])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then
  tat = now
end
local available = math.floor((now + tolerance - tat) / interval)
if available > burst then
  available = burst
end
if available < 1 then
  return {0, 0, tat + interval - tolerance - now, tat - now}
end
if not consume then
  return {1, available, 0, tat - now}
end
local new_tat = tat + interval
local ttl_ms = math.ceil((new_tat - now) / 1000)
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', string.format('%.0f', ttl_ms))
return {1, available - 1, 0, new_tat - now}
";

static SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::from_lua(GCRA));

/// How much a subject may do: `burst` requests at once, refilled evenly over `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub burst: u32,
    pub period: Duration,
}

impl Quota {
    pub const fn new(burst: u32, period: Duration) -> Self {
        Self { burst, period }
    }

    pub const fn per_second(burst: u32) -> Self {
        Self::new(burst, Duration::from_secs(1))
    }

    pub const fn per_minute(burst: u32) -> Self {
        Self::new(burst, Duration::from_secs(60))
    }

    pub const fn per_hour(burst: u32) -> Self {
        Self::new(burst, Duration::from_secs(3600))
    }

    /// Microseconds between two refills (at least 1), and the burst (at least 1).
    fn params(&self) -> (u64, u32) {
        let burst = self.burst.max(1);
        let period = u64::try_from(self.period.as_micros()).unwrap_or(u64::MAX);
        (period.div_ceil(u64::from(burst)).max(1), burst)
    }
}

/// The verdict on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Requests still allowed right now after this one.
    pub remaining: u32,
    /// When refused: how long until one request is allowed. Zero when allowed.
    pub retry_after: Duration,
    /// How long until the full burst is available again.
    pub reset_after: Duration,
    /// The quota's burst.
    pub limit: u32,
    /// The quota's period.
    pub window: Duration,
}

/// Header values of a [`Decision`], ready to set on a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitHeaders {
    /// `RateLimit-Policy`, e.g. `"login";q=5;w=900`.
    pub policy: String,
    /// `RateLimit`, e.g. `"login";r=3;t=540`.
    pub rate_limit: String,
    /// `Retry-After` in whole seconds (rounded up), only when refused.
    pub retry_after: Option<String>,
}

impl RateLimitHeaders {
    /// `(name, value)` pairs of the headers to set.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![
            ("RateLimit-Policy", self.policy.clone()),
            ("RateLimit", self.rate_limit.clone()),
        ];
        if let Some(retry_after) = &self.retry_after {
            pairs.push(("Retry-After", retry_after.clone()));
        }
        pairs
    }
}

fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// `name` as a structured-field string (quoted, `"` and `\` escaped).
fn sf_string(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name
        .chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control())
    {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

impl Decision {
    /// The IETF rate-limit header values for this decision under the policy `policy`
    /// (a name such as `login`). Seconds are rounded up; `Retry-After` is at least 1.
    pub fn headers(&self, policy: &str) -> RateLimitHeaders {
        let name = sf_string(policy);
        let mut policy_value = name.clone();
        let _ = write!(
            policy_value,
            ";q={};w={}",
            self.limit,
            ceil_secs(self.window).max(1)
        );
        let mut rate_limit = name;
        let _ = write!(
            rate_limit,
            ";r={};t={}",
            self.remaining,
            ceil_secs(self.reset_after)
        );
        RateLimitHeaders {
            policy: policy_value,
            rate_limit,
            retry_after: (!self.allowed).then(|| ceil_secs(self.retry_after).max(1).to_string()),
        }
    }
}

/// The rate limiter. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    redis: Pool,
    keys: Keys,
    clock: Option<common::clock::SharedClock>,
}

impl RateLimiter {
    pub fn new(redis: Pool, keys: Keys) -> Self {
        Self {
            redis,
            keys,
            clock: None,
        }
    }

    /// Judges time by `clock` instead of Redis' `TIME`.
    pub fn with_clock(mut self, clock: common::clock::SharedClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Takes one request from `subject`'s bucket in `scope` if the quota allows it.
    /// A refused request takes nothing.
    pub async fn check(
        &self,
        scope: &str,
        subject: &str,
        quota: Quota,
    ) -> Result<Decision, RedisError> {
        self.run(scope, subject, quota, true).await
    }

    /// What [`RateLimiter::check`] would decide, without taking anything; `remaining`
    /// counts this request as not made (the full burst for an idle subject).
    pub async fn peek(
        &self,
        scope: &str,
        subject: &str,
        quota: Quota,
    ) -> Result<Decision, RedisError> {
        self.run(scope, subject, quota, false).await
    }

    /// Forgets `subject`'s usage in `scope` (a successful login clears its failures).
    pub async fn reset(&self, scope: &str, subject: &str) -> Result<(), RedisError> {
        self.redis
            .del::<(), _>(self.keys.rate_limit(scope, subject))
            .await
    }

    async fn run(
        &self,
        scope: &str,
        subject: &str,
        quota: Quota,
        consume: bool,
    ) -> Result<Decision, RedisError> {
        let (interval, burst) = quota.params();
        let key = self.keys.rate_limit(scope, subject);
        let args = vec![
            interval.to_string(),
            burst.to_string(),
            if consume { "1" } else { "0" }.to_owned(),
            self.clock
                .as_ref()
                .map(|c| {
                    let now = c.now();
                    (now.timestamp() * 1_000_000 + i64::from(now.timestamp_subsec_micros()))
                        .to_string()
                })
                .unwrap_or_default(),
        ];
        let reply: Vec<i64> = SCRIPT
            .evalsha_with_reload(self.redis.next(), key, args)
            .await?;
        let [allowed, remaining, retry_after, reset_after] = reply[..] else {
            return Err(RedisError::new(
                fred::error::ErrorKind::Parse,
                format!("rate limit script returned {reply:?}"),
            ));
        };
        let micros = |v: i64| Duration::from_micros(u64::try_from(v).unwrap_or(0));
        Ok(Decision {
            allowed: allowed == 1,
            remaining: u32::try_from(remaining).unwrap_or(0),
            retry_after: micros(retry_after),
            reset_after: micros(reset_after),
            limit: burst,
            window: quota.period,
        })
    }
}
