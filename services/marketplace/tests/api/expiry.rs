//! Offers expire by the injected clock: the sweep moves them, accepts refuse them.

use std::time::Duration;

use common::events::Service;
use fred::prelude::KeysInterface;
use serde_json::json;
use testkit::DbKind;

use crate::helpers::{assert_problem, spawn_app_with};

async fn offers_expire_when_the_clock_passes_their_expiry(kind: DbKind) {
    let app = spawn_app_with(kind, |c| c.sweep_interval = Duration::from_millis(50)).await;
    let invoice = app.listed(&app.seller()).await;
    let investor = app.investor();
    let res = app
        .post(
            "/api/marketplace/offers",
            &investor.token,
            &json!({"invoice_id": invoice.id, "discount_rate": "18", "expires_in_hours": 1}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let short: serde_json::Value = res.json().await.unwrap();
    let long = app.offer(&app.investor(), &invoice, "19").await;
    let count_key = app.keys.offers_count(invoice.id);
    let count: i64 = app.redis.get(&count_key).await.unwrap();
    assert_eq!(count, 2);
    // 59 minutes: nothing expires, though the background sweep runs (two rounds begun
    // after the clock moved) and a pass of our own finds nothing either.
    app.clock.advance(chrono::Duration::minutes(59));
    let rounds = || {
        app.state
            .sweep_rounds
            .load(std::sync::atomic::Ordering::Acquire)
    };
    let seen = rounds();
    testkit::wait_until(crate::helpers::DEADLINE, "two sweep rounds", || async {
        rounds() >= seen + 2
    })
    .await;
    assert_eq!(
        marketplace::jobs::sweep::run_once(&app.state)
            .await
            .unwrap(),
        0
    );
    for o in [&short, &long] {
        assert_eq!(
            app.offer_now(&o["id"]).await["status"],
            "pending",
            "nothing expires early"
        );
    }
    // 61 minutes: the one-hour offer expires (the running sweep finds it), not the other.
    app.clock.advance(chrono::Duration::minutes(2));
    let expired = app.wait_for_offer(&short["id"], "expired").await;
    assert_eq!(expired["reason"], "the offer expired");
    assert_eq!(app.offer_now(&long["id"]).await["status"], "pending");
    let ev = app
        .wait_for_event(Service::Notifications, "offer.expired", &short["id"])
        .await;
    assert_eq!(ev.payload["change"], "expired");
    testkit::wait_until(crate::helpers::DEADLINE, "count down", || async {
        app.redis.get::<i64, _>(&count_key).await.unwrap() == 1
    })
    .await;
    assert_eq!(
        app.listing(invoice.id).await.unwrap()["offers"]["active"],
        1
    );
    // The investor may offer again; the default offer lasts 72 hours.
    let investor = app.refreshed(&investor);
    app.offer(&investor, &invoice, "17").await;
    app.clock.advance(chrono::Duration::hours(72));
    app.wait_for_offer(&long["id"], "expired").await;
}

#[tokio::test]
async fn offers_expire_when_the_clock_passes_their_expiry_on_postgres() {
    offers_expire_when_the_clock_passes_their_expiry(DbKind::Postgres).await;
}

#[tokio::test]
async fn offers_expire_when_the_clock_passes_their_expiry_on_sqlite() {
    offers_expire_when_the_clock_passes_their_expiry(DbKind::Sqlite).await;
}

#[tokio::test]
async fn an_expired_offer_cannot_be_accepted_even_before_the_sweep() {
    let app = spawn_app_with(DbKind::Postgres, |_| {}).await;
    let seller = app.seller();
    let invoice = app.listed(&seller).await;
    let offer = app.offer(&app.investor(), &invoice, "18").await;
    app.clock.advance(chrono::Duration::hours(73));
    let seller = app.refreshed(&seller);
    let id = offer["id"].as_str().unwrap();
    let res = app
        .post_at(
            &format!("/api/marketplace/offers/{id}/accept"),
            &seller.token,
            testkit::api::version_of(&offer),
            &json!({}),
        )
        .await;
    let p = assert_problem(res, 409).await;
    assert!(p["detail"].as_str().unwrap().contains("expired"), "{p}");
    assert_eq!(
        app.listing(invoice.id).await.unwrap()["reserved_offer_id"],
        serde_json::Value::Null
    );
    assert_eq!(
        marketplace::jobs::sweep::run_once(&app.state)
            .await
            .unwrap(),
        1
    );
    assert_eq!(app.offer_now(&offer["id"]).await["status"], "expired");
}
