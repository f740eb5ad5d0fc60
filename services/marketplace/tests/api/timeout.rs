//! A reservation the invoice service does not answer in time: the sweep releases it (by
//! the injected clock), tells the invoice service, and whatever that service answered
//! late is undone, never left half-done. Run on PostgreSQL and SQLite.

use common::events::Service;
use marketplace::jobs::sweep;
use serde_json::{Value, json};
use testkit::DbKind;

use crate::helpers::{TestApp, spawn_app_with};

async fn sweep_now(app: &TestApp) -> usize {
    sweep::run_once(&app.state).await.unwrap()
}

/// Past the timeout by the clock.
fn past_timeout(app: &TestApp) {
    app.clock.advance(chrono::Duration::seconds(301));
}

async fn an_unanswered_reservation_is_released_and_a_late_confirmation_undone(kind: DbKind) {
    let app = spawn_app_with(kind, |_| {}).await;
    let seller = app.seller();
    let invoice = app.listed(&seller).await;
    let offer = app.offer(&app.investor(), &invoice, "18").await;
    let other = app.offer(&app.investor(), &invoice, "19").await;
    app.accept(&seller, &offer).await;
    // Within the timeout nothing moves.
    app.clock.advance(chrono::Duration::seconds(299));
    assert_eq!(sweep_now(&app).await, 0);
    assert_eq!(app.offer_now(&offer["id"]).await["status"], "reserved");
    // Past it: released, the claim cleared, the invoice service told.
    app.clock.advance(chrono::Duration::seconds(2));
    assert_eq!(sweep_now(&app).await, 1);
    assert_eq!(sweep_now(&app).await, 0, "released once");
    let released = app.offer_now(&offer["id"]).await;
    assert_eq!(released["status"], "rejected");
    assert_eq!(released["reason"], sweep::TIMED_OUT);
    let told = app
        .wait_for_event(
            Service::Invoice,
            "offer.reservation_timed_out",
            &offer["id"],
        )
        .await;
    assert_eq!(told.payload["invoice_id"], invoice.id.to_string());
    assert_eq!(told.payload["change"], "timed_out");
    for consumer in [Service::Admin, Service::Notifications] {
        app.wait_for_event(consumer, "offer.reservation_timed_out", &offer["id"])
            .await;
    }
    let l = app.listing(invoice.id).await.unwrap();
    assert_eq!(l["status"], "listed");
    assert_eq!(l["reserved_offer_id"], Value::Null);
    assert_eq!(l["offers"]["active"], 1);
    assert_eq!(app.offer_now(&other["id"]).await["status"], "pending");

    // The invoice service comes back and answers the old reservation late: its move to
    // accepted is not mirrored and the confirmation is dropped.
    app.deliver(&app.invoice_event("invoice.status_changed", &invoice, "listed", "accepted"))
        .await;
    app.deliver(&app.answer("invoice.acceptance_confirmed", &offer, None))
        .await;
    // Then it reads the timeout and undoes its confirmation (accepted -> listed).
    app.deliver(&app.invoice_event("invoice.status_changed", &invoice, "accepted", "listed"))
        .await;
    // A later event proves the three were handled before it.
    let marker = app.listed(&app.seller()).await;
    assert!(app.listing(marker.id).await.is_some());
    assert_eq!(app.offer_now(&offer["id"]).await["status"], "rejected");
    assert_eq!(app.offer_now(&other["id"]).await["status"], "pending");
    let l = app.listing(invoice.id).await.unwrap();
    assert_eq!(l["status"], "listed");
    assert_eq!(l["accepted_offer_id"], Value::Null);
    assert_eq!(l["offers"]["active"], 1);
    assert!(
        app.events_about(Service::Payments, "offer.accepted", &offer["id"])
            .await
            .is_empty(),
        "no funding for a released reservation"
    );
    // The listing works as before: a new offer, and the other one accepted and confirmed.
    app.offer(&app.investor(), &invoice, "20").await;
    let other = app.offer_now(&other["id"]).await;
    app.accept(&seller, &other).await;
    app.deliver(&app.answer("invoice.acceptance_confirmed", &other, None))
        .await;
    app.wait_for_offer(&other["id"], "accepted").await;
    app.wait_for_event(Service::Payments, "offer.accepted", &other["id"])
        .await;
}

#[tokio::test]
async fn an_unanswered_reservation_is_released_and_a_late_confirmation_undone_on_postgres() {
    an_unanswered_reservation_is_released_and_a_late_confirmation_undone(DbKind::Postgres).await;
}

#[tokio::test]
async fn an_unanswered_reservation_is_released_and_a_late_confirmation_undone_on_sqlite() {
    an_unanswered_reservation_is_released_and_a_late_confirmation_undone(DbKind::Sqlite).await;
}

/// The seller accepts another offer after the timeout, before the invoice service's late
/// answers arrive: the undo of the old confirmation keeps the new claim, and the new
/// acceptance completes.
async fn a_new_acceptance_survives_the_undo_of_a_late_one(kind: DbKind) {
    let app = spawn_app_with(kind, |_| {}).await;
    let seller = app.seller();
    let invoice = app.listed(&seller).await;
    let first = app.offer(&app.investor(), &invoice, "18").await;
    let second = app.offer(&app.investor(), &invoice, "19").await;
    app.accept(&seller, &first).await;
    past_timeout(&app);
    assert_eq!(sweep_now(&app).await, 1);
    let second = app.offer_now(&second["id"]).await;
    app.accept(&seller, &second).await;
    // The invoice service's answers, in its order: the late confirmation of the first,
    // its undo (after reading the timeout), then the confirmation of the second.
    app.deliver(&app.invoice_event("invoice.status_changed", &invoice, "listed", "accepted"))
        .await;
    app.deliver(&app.answer("invoice.acceptance_confirmed", &first, None))
        .await;
    app.deliver(&app.invoice_event("invoice.status_changed", &invoice, "accepted", "listed"))
        .await;
    let marker = app.listed(&app.seller()).await;
    assert!(app.listing(marker.id).await.is_some());
    let l = app.listing(invoice.id).await.unwrap();
    assert_eq!(
        l["reserved_offer_id"], second["id"],
        "the new claim is kept"
    );
    assert_eq!(app.offer_now(&second["id"]).await["status"], "reserved");
    // Nobody else can accept or offer meanwhile.
    let res = app
        .post(
            "/api/marketplace/offers",
            &app.investor().token,
            &json!({"invoice_id": invoice.id, "discount_rate": "18"}),
        )
        .await;
    crate::helpers::assert_problem(res, 409).await;
    app.deliver(&app.invoice_event("invoice.status_changed", &invoice, "listed", "accepted"))
        .await;
    app.deliver(&app.answer("invoice.acceptance_confirmed", &second, None))
        .await;
    app.wait_for_offer(&second["id"], "accepted").await;
    app.wait_for_listing(invoice.id, "accepted").await;
    assert_eq!(app.offer_now(&first["id"]).await["status"], "rejected");
}

#[tokio::test]
async fn a_new_acceptance_survives_the_undo_of_a_late_one_on_postgres() {
    a_new_acceptance_survives_the_undo_of_a_late_one(DbKind::Postgres).await;
}

#[tokio::test]
async fn a_new_acceptance_survives_the_undo_of_a_late_one_on_sqlite() {
    a_new_acceptance_survives_the_undo_of_a_late_one(DbKind::Sqlite).await;
}

/// A confirmation that commits before the sweep wins: the sweep finds nothing reserved.
#[tokio::test]
async fn a_confirmation_before_the_timeout_is_never_undone() {
    let app = spawn_app_with(DbKind::Postgres, |_| {}).await;
    let seller = app.seller();
    let invoice = app.listed(&seller).await;
    let offer = app.offer(&app.investor(), &invoice, "18").await;
    app.accept(&seller, &offer).await;
    app.deliver(&app.answer("invoice.acceptance_confirmed", &offer, None))
        .await;
    app.wait_for_offer(&offer["id"], "accepted").await;
    past_timeout(&app);
    assert_eq!(sweep_now(&app).await, 0);
    assert_eq!(app.offer_now(&offer["id"]).await["status"], "accepted");
    assert!(
        app.events_about(
            Service::Invoice,
            "offer.reservation_timed_out",
            &offer["id"]
        )
        .await
        .is_empty()
    );
}

/// A refusal saying "accepted" while marketplace accepted nothing comes from a late
/// confirmation being undone: the offer is open again and the listing stays.
#[tokio::test]
async fn a_refusal_during_an_undo_reopens_the_offer_and_keeps_the_listing() {
    let app = spawn_app_with(DbKind::Postgres, |_| {}).await;
    let seller = app.seller();
    let invoice = app.listed(&seller).await;
    let first = app.offer(&app.investor(), &invoice, "18").await;
    let second = app.offer(&app.investor(), &invoice, "19").await;
    app.accept(&seller, &first).await;
    past_timeout(&app);
    assert_eq!(sweep_now(&app).await, 1);
    let second = app.offer_now(&second["id"]).await;
    app.accept(&seller, &second).await;
    app.deliver(&app.answer("invoice.acceptance_refused", &second, Some("accepted")))
        .await;
    let reopened = app.wait_for_offer(&second["id"], "pending").await;
    assert!(
        reopened["reason"].as_str().unwrap().contains("undoing"),
        "{reopened}"
    );
    let l = app.listing(invoice.id).await.unwrap();
    assert_eq!(l["status"], "listed");
    assert_eq!(l["reserved_offer_id"], Value::Null);
    assert_eq!(l["offers"]["active"], 1);
}
