//! The verifier on its own: revocation in Redis, and failing closed when Redis is gone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use common::auth::{KycStatus, Role, TokenError, Verifier};
use common::keys::Keys;
use fred::prelude::KeysInterface;
use testkit::TestKeys;
use uuid::Uuid;

#[tokio::test]
async fn the_verifier_accepts_a_published_key_and_refuses_when_redis_is_gone() {
    let mut server = testkit::RedisServer::start();
    let redis = service_kit::redis::pool(&server.url(), 1).await.unwrap();
    let keys = Keys::new("v");
    let test_keys = TestKeys::publish(&redis, &keys).await;
    let verifier = Verifier::new(
        redis.clone(),
        keys.clone(),
        "vestio-auth",
        "vestio",
        common::clock::system(),
    )
    .await;

    let user = Uuid::now_v7();
    let claims = test_keys.claims(user, Role::Investor, KycStatus::Approved);
    let token = test_keys.sign(&claims);
    let verified = verifier.verify(&token).await.unwrap();
    assert_eq!(verified.sub, user);
    assert_eq!(verified.kyc, KycStatus::Approved);

    // "Revoked before" at the token's issue time refuses it.
    let _: () = redis
        .set(
            keys.revoked_before(user),
            claims.issued_at_ms(),
            None,
            None,
            false,
        )
        .await
        .unwrap();
    assert_eq!(verifier.verify(&token).await, Err(TokenError::Revoked));
    let _: () = redis.del(keys.revoked_before(user)).await.unwrap();
    assert!(verifier.verify(&token).await.is_ok());

    server.stop();
    assert_eq!(verifier.verify(&token).await, Err(TokenError::Unavailable));
}

#[tokio::test]
async fn a_key_published_after_start_is_picked_up_when_a_token_names_it() {
    let redis = testkit::redis_pool().await;
    let keys = Keys::new(&testkit::unique_prefix());
    let verifier = Verifier::new(
        redis.clone(),
        keys.clone(),
        "vestio-auth",
        "vestio",
        common::clock::system(),
    )
    .await;
    // Published after the verifier loaded its (empty) key set: a rotation.
    let test_keys = TestKeys::publish(&redis, &keys).await;
    let token = test_keys.token(Uuid::now_v7(), Role::Seller, KycStatus::None);
    assert!(verifier.verify(&token).await.is_ok());
}

#[tokio::test]
async fn requests_that_arrive_together_with_a_new_key_are_all_accepted() {
    // What a service started alongside auth sees: its verifier loaded before auth
    // published, then several requests with tokens of the new key at once. One reloads;
    // the others must wait for that reload, not be refused as "unknown key".
    let redis = testkit::redis_pool().await;
    let keys = Keys::new(&testkit::unique_prefix());
    let verifier = Verifier::new(
        redis.clone(),
        keys.clone(),
        "vestio-auth",
        "vestio",
        common::clock::system(),
    )
    .await;
    let test_keys = TestKeys::publish(&redis, &keys).await;
    let tokens: Vec<String> = (0..16)
        .map(|_| test_keys.token(Uuid::now_v7(), Role::Seller, KycStatus::Approved))
        .collect();
    let results =
        futures::future::join_all(tokens.iter().map(|t| verifier.verify_unrevoked(t))).await;
    let refused: Vec<_> = results.iter().filter(|r| r.is_err()).collect();
    assert!(refused.is_empty(), "{refused:?}");
    // A made-up kid is still refused.
    let other = TestKeys::publish(&redis, &Keys::new(&testkit::unique_prefix())).await;
    let forged = other.token(Uuid::now_v7(), Role::Seller, KycStatus::Approved);
    assert_eq!(
        verifier.verify_unrevoked(&forged).await,
        Err(TokenError::UnknownKey)
    );
}

#[tokio::test]
async fn a_remembered_token_is_still_refused_once_expired_or_once_its_key_is_retired() {
    let redis = testkit::redis_pool().await;
    let keys = Keys::new(&testkit::unique_prefix());
    let test_keys = TestKeys::publish(&redis, &keys).await;
    let clock = common::clock::ManualClock::starting_now();
    let verifier = Verifier::new(
        redis.clone(),
        keys.clone(),
        "vestio-auth",
        "vestio",
        clock.clone(),
    )
    .await;
    let token = test_keys.token(Uuid::now_v7(), Role::Seller, KycStatus::None);

    // Verified once (its signature is now remembered), then again from memory.
    assert!(verifier.verify(&token).await.is_ok());
    assert!(verifier.verify(&token).await.is_ok());

    // Times are checked on every use, remembered or not.
    clock.advance(chrono::Duration::minutes(20));
    assert_eq!(verifier.verify(&token).await, Err(TokenError::Expired));
    clock.advance(chrono::Duration::minutes(-20));
    assert!(verifier.verify(&token).await.is_ok());

    // A retired key stops verifying at the next reload, even for a remembered token.
    let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
    assert!(common::auth::retire_jwk(&redis, &keys, &kid).await.unwrap());
    verifier.reload_keys().await.unwrap();
    assert_eq!(verifier.decode(&token), Err(TokenError::UnknownKey));
}

#[tokio::test]
async fn a_remembered_token_is_refused_once_blacklisted() {
    let redis = testkit::redis_pool().await;
    let keys = Keys::new(&testkit::unique_prefix());
    let test_keys = TestKeys::publish(&redis, &keys).await;
    let verifier = Verifier::new(
        redis.clone(),
        keys.clone(),
        "vestio-auth",
        "vestio",
        common::clock::system(),
    )
    .await;
    let claims = test_keys.claims(Uuid::now_v7(), Role::Investor, KycStatus::None);
    let token = test_keys.sign(&claims);
    assert!(verifier.verify(&token).await.is_ok());

    let _: () = redis
        .set(
            keys.blacklisted(&claims.jti.to_string()),
            1,
            Some(fred::types::Expiration::EX(60)),
            None,
            false,
        )
        .await
        .unwrap();
    assert_eq!(verifier.verify(&token).await, Err(TokenError::Revoked));
}
