//! The acceptance saga with a stand-in invoice service: reserve, confirm or refuse,
//! funding expiry, and invoice events applied once however often they are delivered.

use common::events::Service;
use serde_json::{Value, json};

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn an_accepted_offer_is_reserved_confirmed_and_the_others_rejected() {
    let app = spawn_app().await;
    let seller = app.seller();
    let invoice = app.listed(&seller).await;
    let winner = app.offer(&app.investor(), &invoice, "18").await;
    let loser = app.offer(&app.investor(), &invoice, "19").await;
    let reserved = app.accept(&seller, &winner).await;
    assert_eq!(reserved["status"], "reserved");
    // The invoice service is asked to confirm.
    let ask = app
        .wait_for_event(Service::Invoice, "offer.reserved", &winner["id"])
        .await;
    assert_eq!(ask.payload["invoice_id"], invoice.id.to_string());
    assert_eq!(ask.payload["investor_id"], winner["investor_id"]);
    // Meanwhile no other offer can be accepted, and no new offer made.
    let id = loser["id"].as_str().unwrap();
    let res = app
        .post_at(
            &format!("/api/marketplace/offers/{id}/accept"),
            &seller.token,
            testkit::api::version_of(&loser),
            &json!({}),
        )
        .await;
    assert_problem(res, 409).await;
    let res = app
        .post(
            "/api/marketplace/offers",
            &app.investor().token,
            &json!({"invoice_id": invoice.id, "discount_rate": "10"}),
        )
        .await;
    assert_problem(res, 409).await;
    // The invoice service confirms (listed -> accepted).
    app.deliver(&app.invoice_event("invoice.status_changed", &invoice, "listed", "accepted"))
        .await;
    app.deliver(&app.answer("invoice.acceptance_confirmed", &winner, None))
        .await;
    app.wait_for_offer(&winner["id"], "accepted").await;
    let lost = app.wait_for_offer(&loser["id"], "rejected").await;
    assert!(
        lost["reason"].as_str().unwrap().contains("another offer"),
        "{lost}"
    );
    let accepted = app
        .wait_for_event(Service::Payments, "offer.accepted", &winner["id"])
        .await;
    assert_eq!(accepted.payload["rejected_offer_ids"], json!([loser["id"]]));
    let l = app.listing(invoice.id).await.unwrap();
    assert_eq!(l["status"], "accepted");
    assert_eq!(l["accepted_offer_id"], winner["id"]);
    assert_eq!(l["offers"]["active"], 0);
    // Investors no longer see the listing.
    let res = app
        .get(
            &format!("/api/marketplace/invoices/{}", invoice.id),
            &app.investor().token,
        )
        .await;
    assert_problem(res, 404).await;
}

#[tokio::test]
async fn a_cancellation_racing_an_accept_releases_the_offer_with_a_reason() {
    let app = spawn_app().await;
    let seller = app.seller();
    let invoice = app.listed(&seller).await;
    let offer = app.offer(&app.investor(), &invoice, "18").await;
    let other = app.offer(&app.investor(), &invoice, "19").await;
    app.accept(&seller, &offer).await;
    // The seller cancelled first at the invoice service: it refuses the reservation,
    // and its cancellation arrives too (in either order).
    app.deliver(&app.answer("invoice.acceptance_refused", &offer, Some("cancelled")))
        .await;
    app.deliver(&app.invoice_event("invoice.cancelled", &invoice, "listed", "cancelled"))
        .await;
    let released = app.wait_for_offer(&offer["id"], "rejected").await;
    assert!(
        released["reason"].as_str().unwrap().contains("cancelled"),
        "{released}"
    );
    let other = app.wait_for_offer(&other["id"], "rejected").await;
    assert!(other["reason"].as_str().unwrap().contains("cancelled"));
    let ev = app
        .wait_for_event(Service::Notifications, "offer.status_changed", &offer["id"])
        .await;
    assert_eq!(ev.payload["change"], "released");
    assert_eq!(ev.payload["status"], "rejected");
    app.wait_for_listing(invoice.id, "cancelled").await;
    let l = app.listing(invoice.id).await.unwrap();
    assert_eq!(l["reserved_offer_id"], Value::Null);
    assert_eq!(l["offers"]["active"], 0);
    assert!(
        app.events_about(Service::Payments, "offer.accepted", &offer["id"])
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_refusal_while_still_listed_puts_the_offer_back_to_pending() {
    let app = spawn_app().await;
    let seller = app.seller();
    let invoice = app.listed(&seller).await;
    let offer = app.offer(&app.investor(), &invoice, "18").await;
    app.accept(&seller, &offer).await;
    app.deliver(&app.answer("invoice.acceptance_refused", &offer, Some("listed")))
        .await;
    // Released: pending again, a new version (reserved was one, pending another).
    let released = app.wait_for_offer(&offer["id"], "pending").await;
    assert_eq!(released["version"], 3);
    testkit::wait_until(crate::helpers::DEADLINE, "claim cleared", || async {
        app.listing(invoice.id).await.unwrap()["reserved_offer_id"] == Value::Null
    })
    .await;
    // The claim is free again: the seller can accept (the version shown now).
    app.accept(&seller, &released).await;
}

#[tokio::test]
async fn an_unfunded_acceptance_lapses_and_the_listing_opens_again() {
    let app = spawn_app().await;
    let seller = app.seller();
    let invoice = app.listed(&seller).await;
    let offer = app.offer(&app.investor(), &invoice, "18").await;
    app.accept(&seller, &offer).await;
    app.deliver(&app.answer("invoice.acceptance_confirmed", &offer, None))
        .await;
    app.wait_for_offer(&offer["id"], "accepted").await;
    app.deliver(&app.invoice_event("invoice.status_changed", &invoice, "listed", "accepted"))
        .await;
    app.wait_for_listing(invoice.id, "accepted").await;
    // Payments' funding expired: accepted -> listed.
    app.deliver(&app.invoice_event("invoice.status_changed", &invoice, "accepted", "listed"))
        .await;
    let lapsed = app.wait_for_offer(&offer["id"], "lapsed").await;
    assert!(lapsed["reason"].as_str().unwrap().contains("not funded"));
    app.wait_for_listing(invoice.id, "listed").await;
    let l = app.listing(invoice.id).await.unwrap();
    assert_eq!(l["accepted_offer_id"], Value::Null);
    assert_eq!(l["reserved_offer_id"], Value::Null);
    // New offers and a new acceptance are possible.
    let again = app.offer(&app.investor(), &invoice, "20").await;
    app.accept(&seller, &again).await;
}

#[tokio::test]
async fn a_redelivered_event_changes_nothing_twice() {
    let app = spawn_app().await;
    let seller = app.seller();
    let invoice = app.listed(&seller).await;
    let offer = app.offer(&app.investor(), &invoice, "18").await;
    let other = app.offer(&app.investor(), &invoice, "19").await;
    app.accept(&seller, &offer).await;
    let confirmed = app.answer("invoice.acceptance_confirmed", &offer, None);
    for _ in 0..3 {
        app.deliver(&confirmed).await;
    }
    app.wait_for_offer(&offer["id"], "accepted").await;
    app.wait_for_offer(&other["id"], "rejected").await;
    // Wait until all three deliveries were taken, then count.
    testkit::wait_until(crate::helpers::DEADLINE, "queue drained", || async {
        use fred::prelude::ListInterface;
        let n: i64 = app
            .redis
            .llen(app.keys.events(Service::Marketplace).as_str())
            .await
            .unwrap();
        n == 0
    })
    .await;
    // A later event proves the three were handled before it.
    let second = app.listed(&app.seller()).await;
    assert!(app.listing(second.id).await.is_some());
    app.wait_for_event(Service::Payments, "offer.accepted", &offer["id"])
        .await;
    let lost = app
        .wait_for_event(Service::Notifications, "offer.rejected", &other["id"])
        .await;
    assert_eq!(lost.payload["change"], "rejected");
    assert_eq!(
        app.events_about(Service::Payments, "offer.accepted", &offer["id"])
            .await
            .len(),
        1
    );
    assert_eq!(
        app.events_about(Service::Notifications, "offer.rejected", &other["id"])
            .await
            .len(),
        1
    );
    // A redelivered listing does not reopen or duplicate anything.
    let listed_again = app.invoice_event("invoice.listed", &second, "submitted", "listed");
    app.deliver(&listed_again).await;
    app.deliver(&listed_again).await;
    let o = app.offer(&app.investor(), &second, "18").await;
    let l = app.listing(second.id).await.unwrap();
    assert_eq!(l["offers"]["active"], 1);
    assert_eq!(o["status"], "pending");
    assert_eq!(app.listing(invoice.id).await.unwrap()["status"], "accepted");
}

#[tokio::test]
async fn an_invoice_leaving_listed_delists_it_and_rejects_its_offers() {
    let app = spawn_app().await;
    let seller = app.seller();
    let invoice = app.listed(&seller).await;
    let offer = app.offer(&app.investor(), &invoice, "18").await;
    app.deliver(&app.invoice_event("invoice.status_changed", &invoice, "listed", "overdue"))
        .await;
    let o = app.wait_for_offer(&offer["id"], "rejected").await;
    assert!(o["reason"].as_str().unwrap().contains("overdue"), "{o}");
    app.wait_for_listing(invoice.id, "overdue").await;
    let res = app
        .post(
            "/api/marketplace/offers",
            &app.investor().token,
            &json!({"invoice_id": invoice.id, "discount_rate": "18"}),
        )
        .await;
    assert_problem(res, 409).await;
}

/// Offer events carry their money in integer minor units beside the display strings, so
/// payments never parses decimals or prices again.
#[tokio::test]
async fn offer_events_carry_the_figures_in_minor_units_with_the_currency() {
    let app = spawn_app().await;
    let seller = app.seller();
    let invoice = app.listed(&seller).await;
    let offer = app.offer(&app.investor(), &invoice, "18").await;
    app.accept(&seller, &offer).await;
    let reserved = app
        .wait_for_event(Service::Invoice, "offer.reserved", &offer["id"])
        .await;
    let minor = |field: &str| -> i64 {
        offer[field]
            .as_str()
            .unwrap()
            .replace('.', "")
            .parse()
            .unwrap()
    };
    let p = &reserved.payload;
    assert_eq!(p["face_minor"], minor("face_value"));
    assert_eq!(p["price_minor"], minor("price"));
    assert_eq!(p["fee_minor"], minor("platform_fee"));
    assert_eq!(p["net_proceeds_minor"], minor("net_proceeds"));
    assert_eq!(p["currency"], offer["currency"]);
    assert_eq!(
        p["net_proceeds_minor"].as_i64().unwrap(),
        minor("price") - minor("platform_fee")
    );
}
