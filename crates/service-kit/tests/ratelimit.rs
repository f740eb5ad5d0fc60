//! GCRA rate limiting against a real Redis: bursts, refusal, recovery, sharing between
//! instances, independence of subjects, peeking, resetting, expiry and headers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use common::Keys;
use fred::prelude::{KeysInterface, LuaInterface};
use service_kit::ratelimit::{Decision, Quota, RateLimiter};
use testkit::{RedisServer, redis_pool, unique_prefix, wait_until};

const SCOPE: &str = "login";

async fn limiter() -> (RateLimiter, Keys) {
    let keys = Keys::new(&unique_prefix());
    (RateLimiter::new(redis_pool().await, keys.clone()), keys)
}

async fn take(limiter: &RateLimiter, subject: &str, quota: Quota, n: u32) -> Vec<Decision> {
    let mut decisions = Vec::new();
    for _ in 0..n {
        decisions.push(limiter.check(SCOPE, subject, quota).await.unwrap());
    }
    decisions
}

#[tokio::test]
async fn a_full_burst_is_allowed_and_the_next_request_is_refused_with_a_retry_after() {
    let (limiter, _) = limiter().await;
    let quota = Quota::per_minute(5);

    let burst = take(&limiter, "ada@example.com", quota, 5).await;
    let refused = limiter
        .check(SCOPE, "ada@example.com", quota)
        .await
        .unwrap();

    assert!(burst.iter().all(|d| d.allowed));
    let remaining: Vec<u32> = burst.iter().map(|d| d.remaining).collect();
    assert_eq!(remaining, [4, 3, 2, 1, 0]);
    assert!(burst.iter().all(|d| d.limit == 5));
    assert!(!refused.allowed);
    assert_eq!(refused.remaining, 0);
    // One request comes back every 12 s; the whole burst after a minute.
    assert!(refused.retry_after > Duration::from_secs(11), "{refused:?}");
    assert!(
        refused.retry_after <= Duration::from_secs(12),
        "{refused:?}"
    );
    assert!(refused.reset_after > Duration::from_secs(59), "{refused:?}");
    assert!(
        refused.reset_after <= Duration::from_secs(60),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_refused_subject_is_allowed_again_once_the_period_has_passed() {
    let (limiter, _) = limiter().await;
    let quota = Quota::new(2, Duration::from_millis(200));
    take(&limiter, "ip:10.0.0.1", quota, 2).await;
    let refused = limiter.check(SCOPE, "ip:10.0.0.1", quota).await.unwrap();
    assert!(!refused.allowed);
    assert!(refused.retry_after <= Duration::from_millis(100));

    wait_until(Duration::from_secs(5), "the bucket to refill", || async {
        limiter
            .peek(SCOPE, "ip:10.0.0.1", quota)
            .await
            .unwrap()
            .remaining
            == 2
    })
    .await;

    let again = take(&limiter, "ip:10.0.0.1", quota, 2).await;
    assert!(again.iter().all(|d| d.allowed), "{again:?}");
}

#[tokio::test]
async fn two_limiters_on_separate_pools_share_one_limit() {
    let keys = Keys::new(&unique_prefix());
    let one = RateLimiter::new(redis_pool().await, keys.clone());
    let two = RateLimiter::new(redis_pool().await, keys);
    let quota = Quota::per_hour(4);

    take(&one, "user-1", quota, 2).await;
    take(&two, "user-1", quota, 2).await;

    assert!(!one.check(SCOPE, "user-1", quota).await.unwrap().allowed);
    assert!(!two.check(SCOPE, "user-1", quota).await.unwrap().allowed);
}

#[tokio::test]
async fn different_subjects_have_independent_limits() {
    let (limiter, _) = limiter().await;
    let quota = Quota::per_hour(1);

    assert!(limiter.check(SCOPE, "alice", quota).await.unwrap().allowed);
    assert!(!limiter.check(SCOPE, "alice", quota).await.unwrap().allowed);
    assert!(limiter.check(SCOPE, "bob", quota).await.unwrap().allowed);
    assert!(
        limiter
            .check("register", "alice", quota)
            .await
            .unwrap()
            .allowed
    );
}

#[tokio::test]
async fn peeking_reports_the_quota_without_taking_from_it() {
    let (limiter, _) = limiter().await;
    let quota = Quota::per_hour(2);

    let idle = limiter.peek(SCOPE, "carol", quota).await.unwrap();
    assert!(idle.allowed);
    assert_eq!(idle.remaining, 2);

    take(&limiter, "carol", quota, 1).await;
    assert_eq!(
        limiter.peek(SCOPE, "carol", quota).await.unwrap().remaining,
        1
    );
    assert_eq!(
        limiter.peek(SCOPE, "carol", quota).await.unwrap().remaining,
        1
    );

    take(&limiter, "carol", quota, 1).await;
    let empty = limiter.peek(SCOPE, "carol", quota).await.unwrap();
    assert!(!empty.allowed);
    assert!(empty.retry_after > Duration::ZERO);
}

#[tokio::test]
async fn resetting_a_subject_gives_back_its_full_burst() {
    let (limiter, _) = limiter().await;
    let quota = Quota::per_hour(3);
    take(&limiter, "dave", quota, 3).await;
    assert!(!limiter.check(SCOPE, "dave", quota).await.unwrap().allowed);

    limiter.reset(SCOPE, "dave").await.unwrap();

    let after = limiter.check(SCOPE, "dave", quota).await.unwrap();
    assert!(after.allowed);
    assert_eq!(after.remaining, 2);
}

#[tokio::test]
async fn the_bucket_key_expires_when_the_bucket_would_be_full_again() {
    let (limiter, keys) = limiter().await;
    let redis = redis_pool().await;
    let quota = Quota::per_minute(6);

    take(&limiter, "erin", quota, 3).await;

    let pttl: i64 = redis.pttl(keys.rate_limit(SCOPE, "erin")).await.unwrap();
    assert!((29_000..=30_000).contains(&pttl), "pttl was {pttl}");
}

#[tokio::test]
async fn the_script_is_loaded_again_after_redis_forgets_it() {
    // A server of its own: flushing scripts must not disturb other tests.
    let server = RedisServer::start();
    let redis = service_kit::redis::pool(&server.url(), 1).await.unwrap();
    let limiter = RateLimiter::new(redis.clone(), Keys::new(&unique_prefix()));
    let quota = Quota::per_hour(2);
    take(&limiter, "frank", quota, 1).await;

    let _: () = redis.next().script_flush(false).await.unwrap();

    let decision = limiter.check(SCOPE, "frank", quota).await.unwrap();
    assert!(decision.allowed);
    assert_eq!(decision.remaining, 0);
}

#[test]
fn headers_render_the_ietf_rate_limit_fields_and_retry_after() {
    let refused = Decision {
        allowed: false,
        remaining: 0,
        retry_after: Duration::from_millis(11_200),
        reset_after: Duration::from_millis(59_500),
        limit: 5,
        window: Duration::from_secs(60),
    };
    let headers = refused.headers("login");
    assert_eq!(headers.policy, r#""login";q=5;w=60"#);
    assert_eq!(headers.rate_limit, r#""login";r=0;t=60"#);
    assert_eq!(headers.retry_after.as_deref(), Some("12"));
    assert_eq!(headers.pairs().len(), 3);

    let allowed = Decision {
        allowed: true,
        remaining: 3,
        retry_after: Duration::ZERO,
        reset_after: Duration::from_secs(24),
        ..refused
    };
    let headers = allowed.headers(r#"we"ird"#);
    assert_eq!(headers.rate_limit, r#""we\"ird";r=3;t=24"#);
    assert_eq!(headers.retry_after, None);
    assert_eq!(headers.pairs().len(), 2);
}
