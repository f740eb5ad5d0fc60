use common::auth::Role;
use fred::prelude::KeysInterface;
use serde_json::Value;

use crate::helpers::spawn_app;
use testkit::fixtures;

#[tokio::test]
async fn a_new_user_sees_what_their_role_must_provide() {
    let app = spawn_app().await;
    let seller = app.status(&app.seller().token).await;
    assert_eq!(seller["status"], "none");
    assert_eq!(seller["required_documents"].as_array().unwrap().len(), 3);
    assert_eq!(seller["can_submit"], false);
    let investor = app.status(&app.investor().token).await;
    assert_eq!(
        investor["required_documents"],
        serde_json::json!(["government_id", "proof_of_address"])
    );
}

#[tokio::test]
async fn the_cached_status_follows_every_change_and_is_published_live() {
    let app = spawn_app().await;
    let investor = app.investor();
    let subscriber = service_kit::pubsub::Subscriber::connect(&testkit::redis_url())
        .await
        .unwrap();
    subscriber
        .subscribe(&app.keys.kyc_status_channel(investor.id))
        .await
        .unwrap();
    let mut live = subscriber.messages();

    app.ready_to_submit(&investor, Role::Investor, 5).await;
    let status = app.status(&investor.token).await;
    assert_eq!(status["status"], "pending");
    assert_eq!(status["can_submit"], true);
    assert_eq!(status["missing_documents"], serde_json::json!([]));

    // What is cached is what the database says, at the newest version.
    let cached: String = app
        .redis
        .get(app.keys.kyc_status(investor.id))
        .await
        .unwrap();
    let cached: Value = serde_json::from_str(&cached).unwrap();
    let fresh = kyc::store::overview::compute(&app.state.db, investor.id, Role::Investor)
        .await
        .unwrap();
    assert_eq!(cached["version"], fresh.version);
    assert_eq!(cached, status);
    let ttl: i64 = app
        .redis
        .ttl(app.keys.kyc_status(investor.id))
        .await
        .unwrap();
    assert!(ttl > 3500 && ttl <= 3600, "ttl {ttl}");

    // Two uploads and two results: four live updates. Publishers race (the upload's and
    // the worker's), so a subscriber orders them by version and drops older ones.
    let mut versions = Vec::new();
    while versions.len() < 4 {
        let msg: Value = live.recv().await.unwrap().json().unwrap();
        versions.push(msg["version"].as_i64().unwrap());
    }
    versions.sort_unstable();
    assert_eq!(versions, vec![1, 2, 3, 4]);
    assert_eq!(status["version"], 4);

    app.submit_ok(&investor).await;
    assert_eq!(app.status(&investor.token).await["status"], "in_review");
    // No identity number ever reaches the cache.
    let cached: String = app
        .redis
        .get(app.keys.kyc_status(investor.id))
        .await
        .unwrap();
    assert!(!cached.contains("22212345678"));
}

#[tokio::test]
async fn an_older_state_never_overwrites_a_newer_cached_one() {
    let app = spawn_app().await;
    let seller = app.seller();
    let id = app
        .upload_ok(&seller.token, "government_id", fixtures::png(8, 8, 3))
        .await;
    app.processed(&seller.token, id).await;
    let newest = app.status(&seller.token).await;
    // A slow reader that computed version 1 long ago tries to store it now.
    let mut stale = newest.clone();
    stale["version"] = Value::from(1);
    stale["status"] = Value::from("none");
    let written = service_kit::cache::put_if_newer(
        &app.redis,
        &app.keys.kyc_status(seller.id),
        1,
        serde_json::to_vec(&stale).unwrap(),
        60,
    )
    .await
    .unwrap();
    assert!(!written);
    assert_eq!(app.status(&seller.token).await, newest);
}
