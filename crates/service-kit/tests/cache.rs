//! The cache-aside helper against a real Redis: hits, generations, stale write-back,
//! single-flight, TTLs and the fallback when Redis is down.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::Keys;
use fred::prelude::KeysInterface;
use service_kit::cache::{Bytes, Cache, query_hash};
use testkit::{RedisServer, redis_pool, unique_prefix, wait_until};
use tokio::sync::{Notify, oneshot};

const SCOPE: &str = "invoices";

async fn cache() -> (Cache, Keys) {
    let keys = Keys::new(&unique_prefix());
    (Cache::new(redis_pool().await, keys.clone()), keys)
}

fn search_key(keys: &Keys) -> String {
    keys.invoice_search(&query_hash("status=listed&page=1"))
}

/// A fetch that counts its calls and returns `value`.
fn counted(
    calls: &Arc<AtomicUsize>,
    value: &'static str,
) -> impl FnOnce() -> std::future::Ready<anyhow::Result<&'static [u8]>> {
    let calls = calls.clone();
    move || {
        calls.fetch_add(1, Ordering::SeqCst);
        std::future::ready(Ok(value.as_bytes()))
    }
}

#[tokio::test]
async fn a_miss_fetches_and_a_hit_returns_the_stored_bytes_without_fetching() {
    let (cache, keys) = cache().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let value = r#"{"items":[1,2,3]}"#;

    let first = cache
        .get_or_fetch(SCOPE, &search_key(&keys), 300, counted(&calls, value))
        .await
        .unwrap();
    let second = cache
        .get_or_fetch(SCOPE, &search_key(&keys), 300, counted(&calls, "other"))
        .await
        .unwrap();

    assert_eq!(first, Bytes::from_static(value.as_bytes()));
    assert_eq!(second, first);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn invalidating_a_scope_makes_the_next_read_fetch_again() {
    let (cache, keys) = cache().await;
    let calls = Arc::new(AtomicUsize::new(0));

    let before = cache
        .get_or_fetch(SCOPE, &search_key(&keys), 300, counted(&calls, "before"))
        .await
        .unwrap();
    assert_eq!(cache.invalidate(SCOPE).await.unwrap(), 1);
    let after = cache
        .get_or_fetch(SCOPE, &search_key(&keys), 300, counted(&calls, "after"))
        .await
        .unwrap();

    assert_eq!(before, "before");
    assert_eq!(after, "after");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(cache.generation(SCOPE).await.unwrap(), 1);
}

#[tokio::test]
async fn invalidating_one_scope_leaves_other_scopes_cached() {
    let (cache, keys) = cache().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let stats = &keys.invoice_search(&query_hash("stats"));

    cache
        .get_or_fetch("offers", stats, 300, counted(&calls, "offers"))
        .await
        .unwrap();
    cache.invalidate(SCOPE).await.unwrap();
    let again = cache
        .get_or_fetch("offers", stats, 300, counted(&calls, "refetched"))
        .await
        .unwrap();

    assert_eq!(again, "offers");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_slow_reader_that_started_before_an_invalidation_does_not_serve_its_stale_value_later() {
    let (cache, keys) = cache().await;
    let (started_tx, started_rx) = oneshot::channel::<()>();
    let (release_tx, release_rx) = oneshot::channel::<()>();

    // The slow reader reads generation 0, then its query hangs (the old database state).
    let slow = tokio::spawn({
        let cache = cache.clone();
        let keys = keys.clone();
        async move {
            cache
                .get_or_fetch(SCOPE, &search_key(&keys), 300, || async move {
                    started_tx.send(()).unwrap();
                    release_rx.await.unwrap();
                    anyhow::Ok("stale")
                })
                .await
        }
    });
    started_rx.await.unwrap();

    // A write commits and invalidates; a new reader fetches the fresh state.
    cache.invalidate(SCOPE).await.unwrap();
    let fresh = cache
        .get_or_fetch(SCOPE, &search_key(&keys), 300, || async {
            anyhow::Ok("fresh")
        })
        .await
        .unwrap();
    assert_eq!(fresh, "fresh");

    // The slow reader finishes and stores its stale result: under generation 0 only.
    release_tx.send(()).unwrap();
    assert_eq!(slow.await.unwrap().unwrap(), "stale");

    let calls = Arc::new(AtomicUsize::new(0));
    let later = cache
        .get_or_fetch(SCOPE, &search_key(&keys), 300, counted(&calls, "refetched"))
        .await
        .unwrap();
    assert_eq!(later, "fresh");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn fifty_concurrent_cold_reads_run_the_fetch_once_and_share_its_bytes() {
    let (cache, keys) = cache().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Notify::new());
    let key = search_key(&keys);

    let readers: Vec<_> = (0..50)
        .map(|_| {
            let (cache, keys, calls, gate) =
                (cache.clone(), keys.clone(), calls.clone(), gate.clone());
            tokio::spawn(async move {
                cache
                    .get_or_fetch(SCOPE, &search_key(&keys), 300, || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        gate.notified().await;
                        anyhow::Ok("cold")
                    })
                    .await
            })
        })
        .collect();

    // Every reader is waiting on the one fetch before it is allowed to finish.
    wait_until(Duration::from_secs(10), "50 readers in one flight", || {
        let n = cache.in_flight_callers(&key);
        async move { n == 50 }
    })
    .await;
    gate.notify_one();

    for reader in readers {
        assert_eq!(reader.await.unwrap().unwrap(), "cold");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(cache.in_flight_callers(&key), 0);
}

#[tokio::test]
async fn a_failed_fetch_is_shared_with_its_waiters_but_not_cached() {
    let (cache, keys) = cache().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Notify::new());
    let key = search_key(&keys);

    let readers: Vec<_> = (0..5)
        .map(|_| {
            let (cache, keys, calls, gate) =
                (cache.clone(), keys.clone(), calls.clone(), gate.clone());
            tokio::spawn(async move {
                cache
                    .get_or_fetch(SCOPE, &search_key(&keys), 300, || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        gate.notified().await;
                        Err::<&[u8], _>(std::io::Error::other("database down"))
                    })
                    .await
            })
        })
        .collect();
    wait_until(Duration::from_secs(10), "5 readers in one flight", || {
        let n = cache.in_flight_callers(&key);
        async move { n == 5 }
    })
    .await;
    gate.notify_one();

    for reader in readers {
        let error = reader.await.unwrap().unwrap_err();
        assert!(error.downcast_ref::<std::io::Error>().is_some());
        assert!(error.to_string().contains("database down"), "{error}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let retried = cache
        .get_or_fetch(SCOPE, &search_key(&keys), 300, counted(&calls, "recovered"))
        .await
        .unwrap();
    assert_eq!(retried, "recovered");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_cached_value_is_stored_with_its_ttl() {
    let (cache, keys) = cache().await;
    let redis = redis_pool().await;

    cache
        .get_or_fetch(SCOPE, &search_key(&keys), 300, || async { anyhow::Ok("v") })
        .await
        .unwrap();

    let ttl: i64 = redis.ttl(search_key(&keys)).await.unwrap();
    assert!((1..=300).contains(&ttl), "ttl was {ttl}");
}

#[tokio::test]
async fn a_fixed_key_cache_without_generations_hits_and_expires_by_ttl() {
    let (cache, keys) = cache().await;
    let redis = redis_pool().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let key = keys.marketplace_stats();

    let first = cache
        .get_or_fetch_key_json(&key, 300, || async {
            anyhow::Ok(serde_json::json!({"listed": 3}))
        })
        .await
        .unwrap();
    let second = cache
        .get_or_fetch_key(&key, 300, counted(&calls, "other"))
        .await
        .unwrap();

    assert_eq!(first, r#"{"listed":3}"#);
    assert_eq!(second, first);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    let ttl: i64 = redis.ttl(&key).await.unwrap();
    assert!((1..=300).contains(&ttl), "ttl was {ttl}");

    // Expiry: stored for one second, the entry goes (Redis's clock, so the wait is on
    // the key's absence with a deadline), and the next read fetches again, once.
    let short = keys.admin_dashboard();
    let stored = cache
        .get_or_fetch_key(&short, 1, counted(&calls, "old"))
        .await
        .unwrap();
    assert_eq!(&stored[..], b"old");
    let cached = cache
        .get_or_fetch_key(&short, 1, counted(&calls, "unused"))
        .await
        .unwrap();
    assert_eq!(&cached[..], b"old", "a hit before expiry");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    wait_until(
        Duration::from_secs(10),
        "the one-second entry to expire",
        || async { !redis.exists::<bool, _>(&short).await.unwrap() },
    )
    .await;
    let fresh = cache
        .get_or_fetch_key(&short, 1, counted(&calls, "new"))
        .await
        .unwrap();
    assert_eq!(&fresh[..], b"new");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "expired: fetched again, once"
    );
}

#[tokio::test]
async fn reads_fall_back_to_fetching_when_redis_is_down() {
    let mut server = RedisServer::start();
    let pool = service_kit::redis::pool(&server.url(), 1).await.unwrap();
    let keys = Keys::new(&unique_prefix());
    let cache = Cache::new(pool, keys.clone()).with_redis_timeout(Duration::from_millis(200));
    server.stop();

    let calls = Arc::new(AtomicUsize::new(0));
    for _ in 0..2 {
        let value = tokio::time::timeout(
            Duration::from_secs(5),
            cache.get_or_fetch(SCOPE, &search_key(&keys), 300, counted(&calls, "from db")),
        )
        .await
        .expect("a read with Redis down does not hang")
        .unwrap();
        assert_eq!(value, "from db");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
