//! Role, KYC and token checks on every kind of route.

use common::auth::{KycStatus, Role};
use common::clock::Clock;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn only_kyc_approved_investors_make_offers_and_only_sellers_accept() {
    let app = spawn_app().await;
    let seller = app.seller();
    let invoice = app.listed(&seller).await;
    let body = json!({"invoice_id": invoice.id, "discount_rate": "18"});
    // The seller cannot offer on their own invoice (nor any seller, nor an admin).
    for user in [
        &seller,
        &app.seller(),
        &app.admin(),
        &app.user(Role::Investor, KycStatus::Pending),
        &app.user(Role::Investor, KycStatus::Rejected),
    ] {
        let res = app
            .post("/api/marketplace/offers", &user.token, &body)
            .await;
        assert_problem(res, 403).await;
    }
    let investor = app.investor();
    let o = app.offer(&investor, &invoice, "18").await;
    let id = o["id"].as_str().unwrap();
    // An investor cannot accept or reject, even their own offer; a seller cannot withdraw
    // or revise.
    for action in ["accept", "reject"] {
        let res = app
            .post(
                &format!("/api/marketplace/offers/{id}/{action}"),
                &investor.token,
                &json!({}),
            )
            .await;
        assert_problem(res, 403).await;
    }
    let res = app
        .post(
            &format!("/api/marketplace/offers/{id}/withdraw"),
            &seller.token,
            &json!({}),
        )
        .await;
    assert_problem(res, 403).await;
    let res = app
        .patch(
            &format!("/api/marketplace/offers/{id}"),
            &seller.token,
            &json!({"discount_rate": "1"}),
        )
        .await;
    assert_problem(res, 403).await;
    // A seller whose KYC is no longer approved cannot accept.
    let unapproved = app.user(Role::Seller, KycStatus::Rejected);
    let res = app
        .post(
            &format!("/api/marketplace/offers/{id}/accept"),
            &unapproved.token,
            &json!({}),
        )
        .await;
    assert_problem(res, 403).await;
    assert_eq!(app.offer_now(&o["id"]).await["status"], "pending");
}

#[tokio::test]
async fn missing_forged_and_expired_tokens_are_refused_everywhere() {
    let app = spawn_app().await;
    let investor = app.investor();
    // Forged: signed by a key nobody published.
    let stranger = testkit::TestKeys::publish(
        &app.redis,
        &common::keys::Keys::new(&testkit::unique_prefix()),
    )
    .await;
    let forged = stranger.token(investor.id, Role::Investor, KycStatus::Approved);
    // Tampered: the signature of another token.
    let other = app.investor().token;
    let mut parts: Vec<&str> = investor.token.split('.').collect();
    let sig = other.split('.').nth(2).unwrap();
    parts[2] = sig;
    let tampered = parts.join(".");
    // Expired: issued an hour before the clock's now.
    let claims = app.tokens.signer.claims(
        investor.id,
        Role::Investor,
        KycStatus::Approved,
        Uuid::now_v7(),
        app.clock.now() - chrono::Duration::hours(1),
    );
    let expired = app.tokens.sign(&claims);
    let id = Uuid::now_v7();
    let routes: Vec<(&str, String)> = vec![
        ("POST", "/api/marketplace/offers".into()),
        ("GET", "/api/marketplace/offers".into()),
        ("GET", format!("/api/marketplace/offers/{id}")),
        ("PATCH", format!("/api/marketplace/offers/{id}")),
        ("POST", format!("/api/marketplace/offers/{id}/withdraw")),
        ("POST", format!("/api/marketplace/offers/{id}/reject")),
        ("POST", format!("/api/marketplace/offers/{id}/accept")),
        ("GET", format!("/api/marketplace/invoices/{id}")),
        ("GET", "/api/marketplace/stats".into()),
        ("GET", "/api/marketplace/trending".into()),
    ];
    for (method, path) in &routes {
        for token in [None, Some(&forged), Some(&tampered), Some(&expired)] {
            let mut req = app
                .client
                .request(method.parse().unwrap(), app.url(path))
                .json(&json!({"invoice_id": id, "discount_rate": "18"}));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let res = req.send().await.unwrap();
            assert_problem(res, 401).await;
        }
    }
    // And the good token works.
    let res = app.get("/api/marketplace/offers", &investor.token).await;
    assert_eq!(res.status(), 200);
}

/// A suspended user (every token issued before the suspension refused) and a logged-out
/// token (blacklisted) move no money: place, revise, withdraw, accept and reject are all
/// 401, even with everything else right (their own offer, its current version), and the
/// offer and the listing stay as they were.
#[tokio::test]
async fn suspended_users_and_blacklisted_tokens_get_401_on_every_money_route_and_change_nothing() {
    let app = spawn_app().await;
    for revoke in ["suspended", "blacklisted"] {
        let (seller, investor) = (app.seller(), app.investor());
        let invoice = app.listed(&seller).await;
        let offer = app.offer(&investor, &invoice, "18").await;
        let id = offer["id"].as_str().unwrap();
        for user in [&seller, &investor] {
            match revoke {
                "suspended" => testkit::api::suspend(&app.redis, &app.keys, user).await,
                _ => testkit::api::blacklist(&app.redis, &app.keys, user).await,
            }
        }
        let calls = [
            (
                "POST",
                "/api/marketplace/offers".to_owned(),
                &investor,
                json!({"invoice_id": invoice.id, "discount_rate": "12"}),
            ),
            (
                "PATCH",
                format!("/api/marketplace/offers/{id}"),
                &investor,
                json!({"discount_rate": "10"}),
            ),
            (
                "POST",
                format!("/api/marketplace/offers/{id}/withdraw"),
                &investor,
                json!({}),
            ),
            (
                "POST",
                format!("/api/marketplace/offers/{id}/accept"),
                &seller,
                json!({}),
            ),
            (
                "POST",
                format!("/api/marketplace/offers/{id}/reject"),
                &seller,
                json!({"reason": "No thanks."}),
            ),
        ];
        for (method, path, user, body) in &calls {
            let res = app
                .client
                .request(method.parse().unwrap(), app.url(path))
                .bearer_auth(&user.token)
                .header("if-match", "\"1\"")
                .json(body)
                .send()
                .await
                .unwrap();
            let p = assert_problem(res, 401).await;
            assert!(
                p["detail"].as_str().unwrap().contains("revoked"),
                "{revoke} {path}: {p}"
            );
        }
        let now = app.offer_now(&offer["id"]).await;
        assert_eq!(
            (now["status"].as_str(), now["version"].as_i64()),
            (Some("pending"), Some(1)),
            "{revoke}"
        );
        let listing = app.listing(invoice.id).await.unwrap();
        assert_eq!(listing["offers"]["active"], 1, "{revoke}: {listing}");
        assert_eq!(listing["reserved_offer_id"], serde_json::Value::Null);
    }
}
