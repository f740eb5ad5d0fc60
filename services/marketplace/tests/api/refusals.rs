//! Refusals say why, and changes leave the counts right: what the mutation run of the
//! offer state changes found untested (docs/decisions.md, issue 14).

use common::auth::{KycStatus, Role};
use common::clock::Clock;
use common::events::Service;
use marketplace::domain::MarketError;
use serde_json::{Value, json};
use service_kit::auth::AuthUser;
use uuid::Uuid;

use crate::helpers::{assert_problem, spawn_app};

fn detail(p: &Value) -> &str {
    p["detail"].as_str().unwrap()
}

/// A released acceptance (reserved -> pending) keeps the offer active: the listing's
/// count of active offers and `offers:count` stay where they were.
#[tokio::test]
async fn a_released_acceptance_keeps_the_active_offer_counts() {
    use fred::prelude::KeysInterface;
    let app = spawn_app().await;
    let seller = app.seller();
    let invoice = app.listed(&seller).await;
    let offer = app.offer(&app.investor(), &invoice, "18").await;
    app.accept(&seller, &offer).await;
    app.deliver(&app.answer("invoice.acceptance_refused", &offer, Some("listed")))
        .await;
    app.wait_for_offer(&offer["id"], "pending").await;
    assert_eq!(
        app.listing(invoice.id).await.unwrap()["offers"]["active"],
        1
    );
    let count: i64 = app
        .redis
        .get(app.keys.offers_count(invoice.id))
        .await
        .unwrap();
    assert_eq!(count, 1);
}

/// While an offer is being accepted: a new offer and an accept of another offer are 409s
/// that say so (not "the maximum of offers", not "the invoice is listed").
#[tokio::test]
async fn offers_and_accepts_during_an_acceptance_are_refused_saying_why() {
    let app = spawn_app().await;
    let seller = app.seller();
    let invoice = app.listed(&seller).await;
    let first = app.offer(&app.investor(), &invoice, "18").await;
    let second = app.offer(&app.investor(), &invoice, "19").await;
    app.accept(&seller, &first).await;
    let res = app
        .post(
            "/api/marketplace/offers",
            &app.investor().token,
            &json!({"invoice_id": invoice.id, "discount_rate": "10"}),
        )
        .await;
    let p = assert_problem(res, 409).await;
    assert_eq!(detail(&p), "an offer on this invoice is being accepted");
    let id = second["id"].as_str().unwrap();
    let res = app
        .post_at(
            &format!("/api/marketplace/offers/{id}/accept"),
            &seller.token,
            testkit::api::version_of(&second),
            &json!({}),
        )
        .await;
    let p = assert_problem(res, 409).await;
    assert_eq!(
        detail(&p),
        "another offer on this invoice has been accepted or is being accepted"
    );
}

fn user(app: &crate::helpers::TestApp, role: Role) -> AuthUser {
    let id = Uuid::now_v7();
    let claims = app.tokens.signer.claims(
        id,
        role,
        KycStatus::Approved,
        Uuid::now_v7(),
        app.clock.now(),
    );
    AuthUser {
        id,
        role,
        kyc: KycStatus::Approved,
        claims,
    }
}

/// A listing delisted between a request's read and its write (the race the handlers'
/// early checks cannot close): the conditional write refuses, naming the invoice's state.
#[tokio::test]
async fn a_place_or_accept_racing_a_cancellation_is_refused_naming_the_state() {
    let app = spawn_app().await;
    let seller = app.seller();
    let invoice = app.listed(&seller).await;
    let offer = app.offer(&app.investor(), &invoice, "18").await;
    let offer_id: Uuid = offer["id"].as_str().unwrap().parse().unwrap();
    // What the two requests read, before the cancellation lands.
    let listing =
        marketplace::store::listings::find(&app.state.db, common::ids::InvoiceId(invoice.id))
            .await
            .unwrap()
            .unwrap();
    let stale_offer =
        marketplace::store::offers::find(&app.state.db, common::ids::OfferId(offer_id))
            .await
            .unwrap()
            .unwrap();
    app.deliver(&app.invoice_event("invoice.cancelled", &invoice, "listed", "cancelled"))
        .await;
    app.wait_for_listing(invoice.id, "cancelled").await;

    let quote = marketplace::store::offers::quote_of(&stale_offer);
    let new = marketplace::store::offers::NewOffer {
        listing,
        quote,
        expires_at: app.clock.now() + chrono::Duration::hours(1),
        priced_on: app.clock.now().date_naive(),
    };
    match marketplace::store::offers::place_alone(&app.state, user(&app, Role::Investor).id, new)
        .await
    {
        Err(MarketError::Refused(d)) => {
            assert_eq!(d, "the invoice is cancelled; it takes no offers")
        }
        other => panic!("place answered {other:?}"),
    }
    match marketplace::store::offers::accept(&app.state, &stale_offer, stale_offer.version).await {
        Err(MarketError::Refused(d)) => {
            assert_eq!(d, "the invoice is cancelled; no offer can be accepted");
        }
        other => panic!("accept answered {other:?}"),
    }
    assert!(
        app.events_about(Service::Invoice, "offer.reserved", &offer["id"])
            .await
            .is_empty()
    );
}

/// Every writer of an invoice's offers takes the listing row first (one lock order): an
/// accept (listing, then offer) racing a withdrawal and a rejection of the same offer
/// (listing, then offer too) never deadlocks on PostgreSQL. Each answer is a success or a
/// 409, never a 500 from a deadlock the database broke.
#[tokio::test]
async fn accepts_racing_withdrawals_and_rejections_never_deadlock_on_postgres() {
    const ROUNDS: usize = 25;
    let app = spawn_app().await;
    let seller = app.seller();
    for _ in 0..ROUNDS {
        let invoice = app.listed(&seller).await;
        let investor = app.investor();
        let offer = app.offer(&investor, &invoice, "18").await;
        let other = app.offer(&app.investor(), &invoice, "19").await;
        let version = testkit::api::version_of(&offer);
        let path = |o: &Value, action: &str| {
            format!(
                "/api/marketplace/offers/{}/{action}",
                o["id"].as_str().unwrap()
            )
        };
        let empty = json!({});
        let reason = json!({"reason": "Not this one."});
        let (accept_path, withdraw_path) = (path(&offer, "accept"), path(&offer, "withdraw"));
        let (reject_path, other_withdraw) = (path(&other, "reject"), path(&other, "withdraw"));
        let stranger = app.investor();
        let (accept, withdraw, reject, withdraw_other) = futures::join!(
            app.post_at(&accept_path, &seller.token, version, &empty),
            app.post(&withdraw_path, &investor.token, &empty),
            app.post_at(&reject_path, &seller.token, 1, &reason),
            app.post(&other_withdraw, &stranger.token, &empty),
        );
        for res in [accept, withdraw, reject, withdraw_other] {
            let status = res.status().as_u16();
            assert!(
                [200, 202, 404, 409].contains(&status),
                "{status}: {}",
                res.text().await.unwrap()
            );
        }
    }
}
