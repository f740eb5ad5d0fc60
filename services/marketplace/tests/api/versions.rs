//! The seller accepts the terms they saw: an offer carries a version (JSON and `ETag`),
//! every change bumps it, and the seller's accept and reject name the version they
//! decided on (`If-Match`). A stale or missing version is refused and changes nothing.
//! Also: revising what is no longer pending, and other investors' offers.

use futures::future::join_all;
use serde_json::{Value, json};
use testkit::api::version_of;
use testkit::{DbKind, assert_problem};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

fn offer_path(o: &Value, action: &str) -> String {
    let id = o["id"].as_str().unwrap();
    if action.is_empty() {
        format!("/api/marketplace/offers/{id}")
    } else {
        format!("/api/marketplace/offers/{id}/{action}")
    }
}

async fn revise(app: &TestApp, investor: &testkit::api::User, o: &Value, rate: &str) -> Value {
    let res = app
        .patch(
            &offer_path(o, ""),
            &investor.token,
            &json!({"discount_rate": rate}),
        )
        .await;
    assert_eq!(res.status(), 200, "revise");
    res.json().await.unwrap()
}

#[tokio::test]
async fn an_offer_shows_its_version_as_etag_and_every_revision_bumps_it() {
    let app = spawn_app().await;
    let (seller, investor) = (app.seller(), app.investor());
    let invoice = app.listed(&seller).await;
    let placed = app.offer(&investor, &invoice, "18").await;
    assert_eq!(version_of(&placed), 1);
    let res = app.get(&offer_path(&placed, ""), &seller.token).await;
    assert_eq!(res.headers()["etag"], "\"1\"");
    let revised = revise(&app, &investor, &placed, "17").await;
    assert_eq!(version_of(&revised), 2);
    let res = app.get(&offer_path(&placed, ""), &seller.token).await;
    assert_eq!(res.headers()["etag"], "\"2\"");
}

#[tokio::test]
async fn an_accept_of_a_version_revised_since_is_412_with_the_offer_as_it_is_and_changes_nothing() {
    let app = spawn_app().await;
    let (seller, investor) = (app.seller(), app.investor());
    let invoice = app.listed(&seller).await;
    let seen = app.offer(&investor, &invoice, "18").await;
    let revised = revise(&app, &investor, &seen, "10").await;

    for action in ["accept", "reject"] {
        let res = app
            .post_at(
                &offer_path(&seen, action),
                &seller.token,
                version_of(&seen),
                &json!({}),
            )
            .await;
        assert_eq!(res.headers()["etag"], "\"2\"");
        let p = assert_problem(res, 412).await;
        assert_eq!(p["current"]["version"], 2, "{p}");
        assert_eq!(p["current"]["discount_rate"], revised["discount_rate"]);
        assert_eq!(p["current"]["price"], revised["price"]);
    }
    let now = app.offer_now(&seen["id"]).await;
    assert_eq!(now["status"], "pending");
    assert_eq!(now["version"], 2);
    assert_eq!(
        app.listing(invoice.id).await.unwrap()["reserved_offer_id"],
        Value::Null
    );
    assert!(
        app.events_about(
            common::events::Service::Invoice,
            "offer.reserved",
            &seen["id"]
        )
        .await
        .is_empty()
    );
    // At the version shown now, the accept goes through, on the figures shown now.
    let res = app
        .post_at(
            &offer_path(&seen, "accept"),
            &seller.token,
            version_of(&now),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let reserved: Value = res.json().await.unwrap();
    assert_eq!(reserved["price"], revised["price"]);
    assert_eq!(reserved["version"], 3);
}

#[tokio::test]
async fn a_decision_without_if_match_is_428_and_a_malformed_one_400_and_neither_changes_anything() {
    let app = spawn_app().await;
    let (seller, investor) = (app.seller(), app.investor());
    let invoice = app.listed(&seller).await;
    let o = app.offer(&investor, &invoice, "18").await;
    for action in ["accept", "reject"] {
        let res = app
            .post(&offer_path(&o, action), &seller.token, &json!({}))
            .await;
        let p = assert_problem(res, 428).await;
        assert!(p["detail"].as_str().unwrap().contains("If-Match"), "{p}");
        for bad in ["*", "W/\"1\"", "\"one\"", "\"1\", \"2\"", "\"1"] {
            let res = app
                .client
                .post(app.url(&offer_path(&o, action)))
                .bearer_auth(&seller.token)
                .header("if-match", bad)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            assert_problem(res, 400).await;
        }
    }
    let now = app.offer_now(&o["id"]).await;
    assert_eq!(now["status"], "pending");
    assert_eq!(now["version"], 1);
}

#[tokio::test]
async fn an_investor_revising_with_a_stale_if_match_gets_412_and_without_it_revises() {
    let app = spawn_app().await;
    let (seller, investor) = (app.seller(), app.investor());
    let invoice = app.listed(&seller).await;
    let o = app.offer(&investor, &invoice, "18").await;
    revise(&app, &investor, &o, "17").await;
    let res = app
        .patch_at(
            &offer_path(&o, ""),
            &investor.token,
            1,
            &json!({"discount_rate": "16"}),
        )
        .await;
    let p = assert_problem(res, 412).await;
    assert_eq!(p["current"]["discount_rate"], "17");
    let res = app
        .post_at(&offer_path(&o, "withdraw"), &investor.token, 1, &json!({}))
        .await;
    assert_problem(res, 412).await;
    let now = app.offer_now(&o["id"]).await;
    assert_eq!(
        (now["status"].as_str(), now["version"].as_i64()),
        (Some("pending"), Some(2))
    );
}

#[tokio::test]
async fn only_a_pending_offer_can_be_revised_reserved_accepted_withdrawn_and_expired_are_409() {
    let app = spawn_app().await;
    let (seller, investor) = (app.seller(), app.investor());

    // Reserved, then accepted.
    let invoice = app.listed(&seller).await;
    let o = app.offer(&investor, &invoice, "18").await;
    let reserved = app.accept(&seller, &o).await;
    let res = app
        .patch(
            &offer_path(&o, ""),
            &investor.token,
            &json!({"discount_rate": "10"}),
        )
        .await;
    assert_problem(res, 409).await;
    app.deliver(&app.answer("invoice.acceptance_confirmed", &reserved, None))
        .await;
    app.wait_for_offer(&o["id"], "accepted").await;
    let res = app
        .patch(
            &offer_path(&o, ""),
            &investor.token,
            &json!({"discount_rate": "10"}),
        )
        .await;
    assert_problem(res, 409).await;
    assert_eq!(app.offer_now(&o["id"]).await["discount_rate"], "18");

    // Withdrawn.
    let invoice = app.listed(&seller).await;
    let o = app.offer(&investor, &invoice, "18").await;
    let res = app
        .post(&offer_path(&o, "withdraw"), &investor.token, &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .patch(
            &offer_path(&o, ""),
            &investor.token,
            &json!({"discount_rate": "10"}),
        )
        .await;
    let p = assert_problem(res, 409).await;
    assert!(p["detail"].as_str().unwrap().contains("withdrawn"), "{p}");

    // Expired (by the clock and the sweep).
    let invoice = app.listed(&seller).await;
    let o = app.offer(&investor, &invoice, "18").await;
    app.clock.advance(chrono::Duration::hours(73));
    let investor = app.refreshed(&investor);
    marketplace::jobs::sweep::run_once(&app.state)
        .await
        .unwrap();
    app.wait_for_offer(&o["id"], "expired").await;
    let res = app
        .patch(
            &offer_path(&o, ""),
            &investor.token,
            &json!({"discount_rate": "10"}),
        )
        .await;
    let p = assert_problem(res, 409).await;
    assert!(p["detail"].as_str().unwrap().contains("expired"), "{p}");
}

#[tokio::test]
async fn another_investor_can_neither_revise_nor_withdraw_an_offer_that_is_not_theirs() {
    let app = spawn_app().await;
    let (seller, investor, other) = (app.seller(), app.investor(), app.investor());
    let invoice = app.listed(&seller).await;
    let o = app.offer(&investor, &invoice, "18").await;
    let res = app
        .patch(
            &offer_path(&o, ""),
            &other.token,
            &json!({"discount_rate": "10"}),
        )
        .await;
    assert_problem(res, 404).await;
    let res = app
        .post(&offer_path(&o, "withdraw"), &other.token, &json!({}))
        .await;
    assert_problem(res, 404).await;
    // Nor can a seller of another invoice decide on it.
    let res = app
        .post_at(
            &offer_path(&o, "accept"),
            &app.seller().token,
            1,
            &json!({}),
        )
        .await;
    assert_problem(res, 404).await;
    let now = app.offer_now(&o["id"]).await;
    assert_eq!(
        (now["status"].as_str(), now["version"].as_i64()),
        (Some("pending"), Some(1))
    );
}

/// One accept naming version 1 races six revisions, round after round: whatever wins, the
/// accepted terms are version 1's, or nothing is accepted (412) and the offer stays
/// pending at the revised terms.
async fn an_accept_racing_revisions_accepts_only_the_version_it_named(kind: DbKind) {
    const ROUNDS: usize = 10;
    const REVISIONS: usize = 6;
    let app = spawn_app_with(kind, |_| {}).await;
    let (seller, investor) = (app.seller(), app.investor());
    let (mut accepted, mut refused) = (0, 0);
    for _ in 0..ROUNDS {
        let invoice = app.listed(&seller).await;
        let seen = app.offer(&investor, &invoice, "18").await;
        let (accept_path, offer) = (offer_path(&seen, "accept"), offer_path(&seen, ""));
        let empty = json!({});
        let bodies: Vec<Value> = (0..REVISIONS)
            .map(|i| json!({"discount_rate": format!("{}", 10 + i)}))
            .collect();
        let accept = app.post_at(&accept_path, &seller.token, version_of(&seen), &empty);
        let revisions = bodies
            .iter()
            .map(|body| app.patch(&offer, &investor.token, body));
        let (accept, revisions) = futures::join!(accept, join_all(revisions));
        let revised: Vec<u16> = revisions.iter().map(|r| r.status().as_u16()).collect();
        assert!(
            revised.iter().all(|s| *s == 200 || *s == 409),
            "{revised:?}"
        );
        let now = app.offer_now(&seen["id"]).await;
        match accept.status().as_u16() {
            202 => {
                accepted += 1;
                let body: Value = accept.json().await.unwrap();
                for field in ["discount_rate", "price", "platform_fee", "net_proceeds"] {
                    assert_eq!(body[field], seen[field], "{field}");
                    assert_eq!(now[field], seen[field], "{field}");
                }
                assert_eq!(now["status"], "reserved");
                assert!(revised.iter().all(|s| *s == 409), "{revised:?}");
                let asked = app
                    .wait_for_event(
                        common::events::Service::Invoice,
                        "offer.reserved",
                        &seen["id"],
                    )
                    .await;
                assert_eq!(asked.payload["price"], seen["price"]);
                assert_eq!(asked.payload["discount_rate"], seen["discount_rate"]);
            }
            412 => {
                refused += 1;
                assert_eq!(now["status"], "pending");
                assert_ne!(now["discount_rate"], seen["discount_rate"]);
                assert!(revised.contains(&200), "{revised:?}");
                let p: Value = accept.json().await.unwrap();
                assert_eq!(p["current"]["id"], seen["id"]);
            }
            other => panic!("the accept answered {other}"),
        }
    }
    assert_eq!(accepted + refused, ROUNDS);
}

#[tokio::test]
async fn an_accept_racing_revisions_accepts_only_the_version_it_named_on_postgres() {
    an_accept_racing_revisions_accepts_only_the_version_it_named(DbKind::Postgres).await;
}

#[tokio::test]
async fn an_accept_racing_revisions_accepts_only_the_version_it_named_on_sqlite() {
    an_accept_racing_revisions_accepts_only_the_version_it_named(DbKind::Sqlite).await;
}
