//! Cache-aside for every cached read (the seed's `getCachedOrFetch`), done safely.
//!
//! - **Generations.** A cache scope (say `invoices`) has a counter,
//!   [`Keys::cache_generation`], that is part of every key of the scope. A write commits
//!   to the database and then calls [`Cache::invalidate`], which bumps the counter: every
//!   key of the old generation becomes unreachable at once, with no `KEYS`/`SCAN`.
//! - **No stale write-back.** A reader reads the generation *before* it fetches and stores
//!   its result only under that generation's key. A slow reader that fetched before a
//!   write therefore stores its (stale) result where no later reader looks.
//! - **Single-flight.** Concurrent misses of one key in one process run one fetch and share
//!   its result, so a cold key under load costs one query, not hundreds. A failed fetch is
//!   handed to the callers that were waiting on it but is never cached.
//! - **Redis is an optimisation.** If Redis is down or slow (commands fail fast, with a
//!   short timeout) the read falls back to fetching, with a warning, instead of failing.
//! - **Bytes in, bytes out.** A hit returns the stored bytes untouched (serve them as the
//!   response body); nothing is deserialised and serialised again.
//!
//! ```ignore
//! let body = cache
//!     .get_or_fetch_json(
//!         "invoices",
//!         |generation| keys.invoice_search(&cache::query_hash(generation, &canonical)),
//!         ttl::INVOICE_SEARCH,
//!         || search(&db, &query), // Result<impl Serialize, DbErr>
//!     )
//!     .await?; // the JSON bytes: serve them as the body
//! // after committing a change to invoices:
//! cache.invalidate("invoices").await?;
//! ```
//!
//! Caches without generations (`marketplace:stats`, `admin:dashboard`) use
//! [`Cache::get_or_fetch_key`] and simply expire.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use fred::bytes::Bytes;
use fred::prelude::{ClientLike, Expiration, KeysInterface, Options};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::keys::Keys;
use crate::redis::{Pool, RedisError};

/// Default timeout of the cache's own Redis reads and writes: past it, fetch instead.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(500);

/// Why a cached read failed: only ever because the fetch failed (Redis trouble falls back
/// to fetching). Cloneable, because the error of one fetch is shared by every caller that
/// waited on it.
#[derive(Clone)]
pub struct CacheError(Arc<anyhow::Error>);

impl CacheError {
    /// The fetch's own error.
    pub fn fetch_error(&self) -> &anyhow::Error {
        &self.0
    }

    /// The fetch's error as its original type, if it is one (`DbErr`, a domain error...).
    pub fn downcast_ref<E>(&self) -> Option<&E>
    where
        E: fmt::Display + fmt::Debug + Send + Sync + 'static,
    {
        self.0.downcast_ref::<E>()
    }
}

impl fmt::Debug for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CacheError").field(&self.0).finish()
    }
}

impl fmt::Display for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fetching the value to cache failed: {:#}", self.0)
    }
}

impl std::error::Error for CacheError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        let source: &(dyn std::error::Error + 'static) = (*self.0).as_ref();
        Some(source)
    }
}

/// The hex SHA-256 of a canonical query string under a generation: the `{hash}` of names
/// like `search:invoices:{hash}` (bounded key size, and a new key for each generation).
pub fn query_hash(generation: u64, canonical: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(generation.to_string().as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical.as_bytes());
    hex::encode(hasher.finalize())
}

type Outcome = Result<Bytes, CacheError>;
type Flight = Arc<OnceCell<Outcome>>;
type Flights = Mutex<HashMap<String, Flight>>;

/// The cache-aside helper. Cheap to clone; clones share their in-flight fetches, so build
/// one per process and hand out clones.
#[derive(Clone)]
pub struct Cache {
    redis: Pool,
    keys: Keys,
    fast: Options,
    flights: Arc<Flights>,
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("prefix", &self.keys.prefix())
            .field("redis_timeout", &self.fast.timeout)
            .finish_non_exhaustive()
    }
}

impl Cache {
    pub fn new(redis: Pool, keys: Keys) -> Self {
        Self {
            redis,
            keys,
            fast: Options {
                timeout: Some(DEFAULT_REDIS_TIMEOUT),
                fail_fast: true,
                ..Options::default()
            },
            flights: Arc::default(),
        }
    }

    /// How long a cache read or write may wait on Redis before the read falls back to
    /// fetching (default [`DEFAULT_REDIS_TIMEOUT`]).
    pub fn with_redis_timeout(mut self, timeout: Duration) -> Self {
        self.fast.timeout = Some(timeout);
        self
    }

    /// The current generation of `scope` (0 before the first invalidation).
    pub async fn generation(&self, scope: &str) -> Result<u64, RedisError> {
        let generation: Option<u64> = self
            .redis
            .next()
            .with_options(&self.fast)
            .get(self.keys.cache_generation(scope))
            .await?;
        Ok(generation.unwrap_or(0))
    }

    /// Makes every cached entry of `scope` unreachable (bumps its generation) and returns
    /// the new generation. Call it after the change is committed. If it fails, entries of
    /// the old generation are served until their TTL runs out.
    pub async fn invalidate(&self, scope: &str) -> Result<u64, RedisError> {
        self.redis.incr(self.keys.cache_generation(scope)).await
    }

    /// The value of the key that `key` builds from the scope's current generation: the
    /// stored bytes on a hit; on a miss the bytes `fetch` returns, stored for `ttl_secs`
    /// under the generation read *before* fetching. See the module docs.
    pub async fn get_or_fetch<K, F, Fut, T, E>(
        &self,
        scope: &str,
        key: K,
        ttl_secs: u64,
        fetch: F,
    ) -> Result<Bytes, CacheError>
    where
        K: FnOnce(u64) -> String,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        T: Into<Bytes>,
        E: Into<anyhow::Error>,
    {
        match self.generation(scope).await {
            Ok(generation) => {
                self.get_or_fetch_key(&key(generation), ttl_secs, fetch)
                    .await
            }
            Err(error) => {
                tracing::warn!(scope, %error, "cache generation unreadable; fetching uncached");
                run(fetch).await
            }
        }
    }

    /// [`Cache::get_or_fetch`] for a value that is serialised to JSON on a miss (the hit is
    /// still the stored JSON bytes, returned as they are).
    pub async fn get_or_fetch_json<K, F, Fut, T, E>(
        &self,
        scope: &str,
        key: K,
        ttl_secs: u64,
        fetch: F,
    ) -> Result<Bytes, CacheError>
    where
        K: FnOnce(u64) -> String,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        T: Serialize,
        E: Into<anyhow::Error>,
    {
        self.get_or_fetch(scope, key, ttl_secs, || json(fetch))
            .await
    }

    /// Cache-aside on a fixed key, without generations (entries only expire): for caches
    /// such as `marketplace:stats`. Single-flight and the Redis fallback as above.
    pub async fn get_or_fetch_key<F, Fut, T, E>(
        &self,
        key: &str,
        ttl_secs: u64,
        fetch: F,
    ) -> Result<Bytes, CacheError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        T: Into<Bytes>,
        E: Into<anyhow::Error>,
    {
        let flight = self.join(key);
        flight
            .cell
            .get_or_init(|| self.load(key, ttl_secs, fetch))
            .await
            .clone()
    }

    /// [`Cache::get_or_fetch_key`] for a value that is serialised to JSON on a miss.
    pub async fn get_or_fetch_key_json<F, Fut, T, E>(
        &self,
        key: &str,
        ttl_secs: u64,
        fetch: F,
    ) -> Result<Bytes, CacheError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        T: Serialize,
        E: Into<anyhow::Error>,
    {
        self.get_or_fetch_key(key, ttl_secs, || json(fetch)).await
    }

    /// How many callers are reading `key` through one shared fetch right now (0 when none
    /// is in flight). For tests and diagnostics.
    pub fn in_flight_callers(&self, key: &str) -> usize {
        lock(&self.flights)
            .get(key)
            .map_or(0, |flight| Arc::strong_count(flight).saturating_sub(1))
    }

    /// Joins the flight of `key`, starting one if there is none.
    fn join<'a>(&'a self, key: &'a str) -> FlightGuard<'a> {
        let cell = lock(&self.flights)
            .entry(key.to_owned())
            .or_default()
            .clone();
        FlightGuard {
            flights: &self.flights,
            key,
            cell,
        }
    }

    /// The leader's work: Redis, then on a miss the fetch and the write-back.
    async fn load<F, Fut, T, E>(&self, key: &str, ttl_secs: u64, fetch: F) -> Outcome
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        T: Into<Bytes>,
        E: Into<anyhow::Error>,
    {
        let client = self.redis.next().with_options(&self.fast);
        match client.get::<Option<Bytes>, _>(key).await {
            Ok(Some(hit)) => return Ok(hit),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(key, %error, "cache read failed; fetching uncached");
                return run(fetch).await;
            }
        }
        let value = run(fetch).await?;
        let ttl = i64::try_from(ttl_secs.max(1)).unwrap_or(i64::MAX);
        let stored: Result<(), RedisError> = client
            .set(key, value.clone(), Some(Expiration::EX(ttl)), None, false)
            .await;
        if let Err(error) = stored {
            tracing::warn!(key, %error, "cache write failed; serving the fetched value");
        }
        Ok(value)
    }
}

/// One caller's membership of a flight. Dropping it (done, failed or cancelled) retires the
/// flight once it has a result, so the next caller reads Redis again, or once nobody is
/// left in it. A cancelled leader hands the fetch to the next waiter (tokio's `OnceCell`).
struct FlightGuard<'a> {
    flights: &'a Flights,
    key: &'a str,
    cell: Flight,
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        let mut flights = lock(self.flights);
        let retire = flights.get(self.key).is_some_and(|current| {
            Arc::ptr_eq(current, &self.cell)
                && (self.cell.initialized() || Arc::strong_count(&self.cell) <= 2)
        });
        if retire {
            flights.remove(self.key);
        }
    }
}

fn lock(flights: &Flights) -> MutexGuard<'_, HashMap<String, Flight>> {
    flights
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn run<F, Fut, T, E>(fetch: F) -> Outcome
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    T: Into<Bytes>,
    E: Into<anyhow::Error>,
{
    match fetch().await {
        Ok(value) => Ok(value.into()),
        Err(error) => Err(CacheError(Arc::new(error.into()))),
    }
}

async fn json<F, Fut, T, E>(fetch: F) -> anyhow::Result<Vec<u8>>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    T: Serialize,
    E: Into<anyhow::Error>,
{
    let value = fetch().await.map_err(Into::into)?;
    Ok(serde_json::to_vec(&value)?)
}

/// Write-through for a cached JSON object carrying a monotonically increasing `version`
/// field (bumped in the same transaction as every change it describes): stores `json`
/// under `key` unless the value already there has a greater version. Writers racing after
/// their commits therefore never replace a newer state with an older one, and a reader
/// filling a miss cannot put back what a write has just replaced.
pub async fn put_if_newer(
    redis: &Pool,
    key: &str,
    version: i64,
    json: impl Into<Bytes>,
    ttl_secs: u64,
) -> Result<bool, RedisError> {
    let stored: i64 = PUT_IF_NEWER
        .evalsha_with_reload(
            redis.next(),
            key.to_owned(),
            vec![
                fred::types::Value::Bytes(json.into()),
                fred::types::Value::from(version),
                fred::types::Value::from(i64::try_from(ttl_secs).unwrap_or(i64::MAX)),
            ],
        )
        .await?;
    Ok(stored == 1)
}

static PUT_IF_NEWER: std::sync::LazyLock<fred::types::scripts::Script> = std::sync::LazyLock::new(
    || {
        fred::types::scripts::Script::from_lua(
            r"
local current = redis.call('GET', KEYS[1])
if current then
  local ok, doc = pcall(cjson.decode, current)
  if ok and type(doc) == 'table' and tonumber(doc['version']) and tonumber(doc['version']) > tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1
",
        )
    },
);

#[cfg(test)]
mod put_if_newer_tests {
    use super::*;

    #[tokio::test]
    async fn an_older_version_never_replaces_a_newer_one() {
        let redis = crate::redis::pool(
            &std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
            1,
        )
        .await
        .unwrap();
        let key = format!("test:{}:versioned", uuid::Uuid::new_v4());
        assert!(
            put_if_newer(&redis, &key, 2, r#"{"version":2,"s":"b"}"#, 60)
                .await
                .unwrap()
        );
        assert!(
            !put_if_newer(&redis, &key, 1, r#"{"version":1,"s":"a"}"#, 60)
                .await
                .unwrap()
        );
        assert!(
            put_if_newer(&redis, &key, 3, r#"{"version":3,"s":"c"}"#, 60)
                .await
                .unwrap()
        );
        let now: String = redis.get(&key).await.unwrap();
        assert_eq!(now, r#"{"version":3,"s":"c"}"#);
        let ttl: i64 = redis.ttl(&key).await.unwrap();
        assert!(ttl > 0 && ttl <= 60);
        let _: i64 = redis.del(&key).await.unwrap();
    }
}
