//! Cache-aside for every cached read (the seed's `getCachedOrFetch`), done safely.
//!
//! - **Generations.** A cache scope (say `invoices`) has a counter,
//!   [`Keys::cache_generation`]. Every entry of the scope is stored tagged with the
//!   generation its reader read *before* fetching (`{generation}\n{bytes}`), and is served
//!   only while the counter still has that value. A write commits to the database and then
//!   calls [`Cache::invalidate`], which bumps the counter: every entry of the old generation
//!   stops being served at once, with no `KEYS`/`SCAN`.
//! - **One round trip.** The generation and the entry are read together (a pipeline), and
//!   a handler that must also check the caller's token queues both reads in the same
//!   pipeline as the revocation check ([`Cache::queue_lookup`], [`Cache::answer`]): a hit
//!   costs one Redis round trip in all. (The generation used to be part of the key, which
//!   needs the generation before the key can be read: two round trips.)
//! - **No stale write-back.** A slow reader that fetched before a write stores its result
//!   tagged with the old generation, which no later reader serves (at worst it overwrites
//!   a fresher entry, which the next reader then fetches again: a miss, never a stale hit).
//! - **Single-flight.** Concurrent misses of one key and generation in one process run one
//!   fetch and share its result, so a cold key under load costs one query, not hundreds.
//!   A failed fetch is handed to the callers that were waiting on it but is never cached.
//! - **Redis is an optimisation.** If Redis is down or slow (commands fail fast, with a
//!   short timeout) the read falls back to fetching, with a warning, instead of failing.
//! - **Bytes in, bytes out.** A hit returns the stored bytes untouched (a zero-copy slice
//!   after the tag: serve them as the response body); nothing is deserialised again.
//!
//! ```ignore
//! let key = keys.invoice_search(&cache::query_hash(&canonical));
//! let body = cache
//!     .get_or_fetch_json("invoices", &key, ttl::INVOICE_SEARCH, || search(&db, &query))
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
use fred::clients::{Client, Pipeline};
use fred::prelude::{ClientLike, Expiration, KeysInterface, Options};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::redis::{Pool, RedisError};
use common::keys::Keys;

/// A generation counter lives this long after its last bump, so scopes of many (say one
/// per seller) stay bounded. Far longer than any entry's TTL: when a counter expires and
/// restarts from 0, no entry tagged with an old 0 can still exist.
pub const GENERATION_TTL_SECS: i64 = 86_400;

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

/// The hex SHA-256 of a canonical query string: the `{hash}` of names like
/// `search:invoices:{hash}` (bounded key size whatever the query).
pub fn query_hash(canonical: &str) -> String {
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

type Outcome = Result<Bytes, CacheError>;
type Flight = Arc<OnceCell<Outcome>>;
/// In-flight fetches by key, with the generation each one fetches for.
type Flights = Mutex<HashMap<String, (u64, Flight)>>;

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
        let pipeline = self.redis.next().pipeline();
        self.queue_invalidate(&pipeline, scope).await?;
        let (generation, _): (u64, i64) = pipeline.all().await?;
        Ok(generation)
    }

    /// [`Cache::invalidate`] of several scopes in one round trip.
    pub async fn invalidate_all<S: AsRef<str>>(&self, scopes: &[S]) -> Result<(), RedisError> {
        if scopes.is_empty() {
            return Ok(());
        }
        let pipeline = self.redis.next().pipeline();
        for scope in scopes {
            self.queue_invalidate(&pipeline, scope.as_ref()).await?;
        }
        let _: Vec<i64> = pipeline.all().await?;
        Ok(())
    }

    /// Queues [`Cache::invalidate`] of `scope` on `pipeline` (two answers: the new
    /// generation and the expiry's), for a writer that sends other commands anyway.
    pub async fn queue_invalidate(
        &self,
        pipeline: &Pipeline<Client>,
        scope: &str,
    ) -> Result<(), RedisError> {
        let key = self.keys.cache_generation(scope);
        let _: () = pipeline.incr(&key).await?;
        let _: () = pipeline.expire(&key, GENERATION_TTL_SECS, None).await?;
        Ok(())
    }

    /// The value cached under `key` in `scope`: the stored bytes on a hit (an entry tagged
    /// with the scope's current generation); on a miss the bytes `fetch` returns, stored
    /// for `ttl_secs` tagged with the generation read *before* fetching. See the module
    /// docs. One Redis round trip on a hit.
    pub async fn get_or_fetch<F, Fut, T, E>(
        &self,
        scope: &str,
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
        let pipeline = self.redis.next().pipeline();
        let looked_up = async {
            self.queue_lookup(&pipeline, scope, key).await?;
            pipeline.all::<(Option<u64>, Option<Bytes>)>().await
        };
        match tokio::time::timeout(self.redis_timeout(), looked_up).await {
            Ok(Ok((generation, entry))) => {
                self.answer(key, generation, entry, ttl_secs, fetch).await
            }
            Ok(Err(error)) => {
                tracing::warn!(key, %error, "cache read failed; fetching uncached");
                run(fetch).await
            }
            Err(_) => {
                tracing::warn!(key, "cache read timed out; fetching uncached");
                run(fetch).await
            }
        }
    }

    /// [`Cache::get_or_fetch`] for a value that is serialised to JSON on a miss (the hit is
    /// still the stored JSON bytes, returned as they are).
    pub async fn get_or_fetch_json<F, Fut, T, E>(
        &self,
        scope: &str,
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
        self.get_or_fetch(scope, key, ttl_secs, || json(fetch))
            .await
    }

    /// Queues the two reads of a lookup on `pipeline`: `GET` of the scope's generation,
    /// then `GET` of `key`. Hand their answers (`Option<u64>`, `Option<Bytes>`) to
    /// [`Cache::answer`]. For handlers that send other reads (the caller's revocation
    /// check) in the same round trip.
    pub async fn queue_lookup(
        &self,
        pipeline: &Pipeline<Client>,
        scope: &str,
        key: &str,
    ) -> Result<(), RedisError> {
        let _: () = pipeline.get(self.keys.cache_generation(scope)).await?;
        let _: () = pipeline.get(key).await?;
        Ok(())
    }

    /// The value of `key` given the answers to [`Cache::queue_lookup`]: the entry's bytes
    /// if it is tagged with `generation`, otherwise one shared fetch, stored tagged with
    /// `generation` for `ttl_secs`.
    pub async fn answer<F, Fut, T, E>(
        &self,
        key: &str,
        generation: Option<u64>,
        entry: Option<Bytes>,
        ttl_secs: u64,
        fetch: F,
    ) -> Result<Bytes, CacheError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        T: Into<Bytes>,
        E: Into<anyhow::Error>,
    {
        let generation = generation.unwrap_or(0);
        if let Some(hit) = entry.and_then(|e| untag(e, generation)) {
            return Ok(hit);
        }
        let flight = self.join(key, generation);
        flight
            .cell
            .get_or_init(|| self.fill(key, generation, ttl_secs, fetch))
            .await
            .clone()
    }

    /// [`Cache::answer`] for a value that is serialised to JSON on a miss.
    pub async fn answer_json<F, Fut, T, E>(
        &self,
        key: &str,
        generation: Option<u64>,
        entry: Option<Bytes>,
        ttl_secs: u64,
        fetch: F,
    ) -> Result<Bytes, CacheError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        T: Serialize,
        E: Into<anyhow::Error>,
    {
        self.answer(key, generation, entry, ttl_secs, || json(fetch))
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
        let flight = self.join(key, 0);
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
            .map_or(0, |(_, flight)| Arc::strong_count(flight).saturating_sub(1))
    }

    fn redis_timeout(&self) -> Duration {
        self.fast.timeout.unwrap_or(DEFAULT_REDIS_TIMEOUT)
    }

    /// Joins the flight of `key`, starting one if there is none or if the one in flight
    /// fetches for an older generation (its result may predate the reader's generation).
    fn join<'a>(&'a self, key: &'a str, generation: u64) -> FlightGuard<'a> {
        let mut flights = lock(&self.flights);
        let cell = match flights.get(key) {
            Some((g, cell)) if *g >= generation => cell.clone(),
            _ => {
                let cell = Flight::default();
                flights.insert(key.to_owned(), (generation, cell.clone()));
                cell
            }
        };
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

    /// The leader's work on a generational miss: the fetch, then the write-back tagged
    /// with the generation read before it.
    async fn fill<F, Fut, T, E>(
        &self,
        key: &str,
        generation: u64,
        ttl_secs: u64,
        fetch: F,
    ) -> Outcome
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        T: Into<Bytes>,
        E: Into<anyhow::Error>,
    {
        let value = run(fetch).await?;
        let mut tagged = Vec::with_capacity(value.len() + 21);
        tagged.extend_from_slice(generation.to_string().as_bytes());
        tagged.push(b'\n');
        tagged.extend_from_slice(&value);
        let ttl = i64::try_from(ttl_secs.max(1)).unwrap_or(i64::MAX);
        let args = vec![
            fred::types::Value::Bytes(tagged.into()),
            fred::types::Value::from(i64::try_from(generation).unwrap_or(i64::MAX)),
            fred::types::Value::from(ttl),
        ];
        let stored = tokio::time::timeout(
            self.redis_timeout(),
            PUT_UNLESS_NEWER_GENERATION.evalsha_with_reload::<i64, _, _>(
                self.redis.next(),
                key.to_owned(),
                args,
            ),
        )
        .await;
        match stored {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                tracing::warn!(key, %error, "cache write failed; serving the fetched value")
            }
            Err(_) => tracing::warn!(key, "cache write timed out; serving the fetched value"),
        }
        Ok(value)
    }
}

/// Stores a tagged entry unless the one already there carries a later generation, so a
/// slow reader of an old generation cannot push out the current generation's entry.
static PUT_UNLESS_NEWER_GENERATION: std::sync::LazyLock<fred::types::scripts::Script> =
    std::sync::LazyLock::new(|| {
        fred::types::scripts::Script::from_lua(
            r"
local current = redis.call('GET', KEYS[1])
if current then
  local newline = string.find(current, '\n', 1, true)
  if newline then
    local tag = tonumber(string.sub(current, 1, newline - 1))
    if tag and tag > tonumber(ARGV[2]) then
      return 0
    end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1
",
        )
    });

/// The bytes of a tagged entry if its tag is `generation`.
fn untag(entry: Bytes, generation: u64) -> Option<Bytes> {
    let newline = entry.iter().take(21).position(|&b| b == b'\n')?;
    let tag = std::str::from_utf8(&entry[..newline])
        .ok()?
        .parse::<u64>()
        .ok()?;
    (tag == generation).then(|| entry.slice(newline + 1..))
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
        let retire = flights.get(self.key).is_some_and(|(_, current)| {
            Arc::ptr_eq(current, &self.cell)
                && (self.cell.initialized() || Arc::strong_count(&self.cell) <= 2)
        });
        if retire {
            flights.remove(self.key);
        }
    }
}

fn lock(flights: &Flights) -> MutexGuard<'_, HashMap<String, (u64, Flight)>> {
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

    #[test]
    fn a_tagged_entry_is_served_only_under_its_own_generation() {
        let entry = Bytes::from_static(b"12\n{\"items\":[]}");
        assert_eq!(untag(entry.clone(), 12).unwrap(), &b"{\"items\":[]}"[..]);
        assert!(untag(entry.clone(), 11).is_none());
        assert!(untag(entry, 13).is_none());
        assert!(untag(Bytes::from_static(b"{\"untagged\":1}"), 0).is_none());
        assert!(untag(Bytes::from_static(b"x\n{}"), 0).is_none());
    }

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
