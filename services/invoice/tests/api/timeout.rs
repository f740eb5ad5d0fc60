//! Marketplace's `offer.reservation_timed_out`: the invoice service releases the
//! acceptance it confirmed for that offer (a late confirmation marketplace dropped) and
//! no other. PostgreSQL and SQLite.

use common::events::marketplace::{OfferChange, OfferStatus};
use common::events::{Envelope, Event, OfferEvent, Service};
use serde_json::json;
use testkit::DbKind;
use uuid::Uuid;

use crate::helpers::{
    DEADLINE, TestApp, events_about, id_of, offer_reserved, payment_changed, spawn_app_with, steps,
};

/// Marketplace's timeout of the reservation `reserved`.
fn timed_out(app: &TestApp, reserved: &Envelope) -> Envelope {
    let Ok(Event::Marketplace(OfferEvent::Reserved(mut offer))) = reserved.decode() else {
        panic!("not a reservation: {}", reserved.event_type);
    };
    offer.status = OfferStatus::Rejected;
    offer.change = OfferChange::TimedOut;
    offer.reason = Some("the invoice service did not answer the acceptance in time".into());
    Envelope::of(OfferEvent::ReservationTimedOut(offer), app.clock.as_ref()).unwrap()
}

/// Waits until the invoice's `to` move is on marketplace's queue `n` times.
async fn moves_to(app: &TestApp, id: Uuid, to: &str, n: usize) {
    testkit::wait_until(DEADLINE, "the move on marketplace's queue", || async {
        events_about(app, Service::Marketplace, "invoice.status_changed", id)
            .await
            .iter()
            .filter(|e| e.payload["to"] == to)
            .count()
            == n
    })
    .await;
}

async fn a_timed_out_reservation_releases_only_its_own_confirmation(kind: DbKind) {
    let app = spawn_app_with(kind, |_| {}).await;
    let seller = app.seller();
    let id = id_of(&app.listed(&seller, 1).await);

    // A timeout that arrives for a reservation never confirmed changes nothing.
    let never = offer_reserved(&app, id);
    app.deliver(&timed_out(&app, &never)).await;

    // The late confirmation, then its timeout: listed again, by marketplace's hand.
    let late = offer_reserved(&app, id);
    app.deliver(&late).await;
    app.wait_for_status(id, "accepted").await;
    app.deliver(&timed_out(&app, &late)).await;
    app.wait_for_status(id, "listed").await;
    moves_to(&app, id, "listed", 1).await;
    let released = events_about(&app, Service::Marketplace, "invoice.status_changed", id)
        .await
        .into_iter()
        .find(|e| e.payload["to"] == "listed")
        .unwrap();
    assert_eq!(released.payload["from"], "accepted");
    assert_eq!(released.payload["actor"], "marketplace");
    assert!(
        released.payload["reason"]
            .as_str()
            .unwrap()
            .contains("did not complete in time"),
        "{}",
        released.payload
    );

    // The next acceptance is confirmed; the old timeout delivered again, or one for an
    // offer this acceptance is not for, leaves it accepted.
    let next = offer_reserved(&app, id);
    app.deliver(&next).await;
    app.wait_for_status(id, "accepted").await;
    app.deliver(&timed_out(&app, &late)).await;
    app.deliver(&timed_out(&app, &never)).await;
    // A later event proves both were handled before it: funding succeeds from accepted.
    app.deliver(&payment_changed(&app, id, "funding", "succeeded"))
        .await;
    app.wait_for_status(id, "funded").await;
    assert_eq!(
        steps(&app, id).await[3..],
        [
            (json!("listed"), json!("accepted"), json!("marketplace")),
            (json!("accepted"), json!("listed"), json!("marketplace")),
            (json!("listed"), json!("accepted"), json!("marketplace")),
            (json!("accepted"), json!("funded"), json!("payments")),
        ]
    );
}

#[tokio::test]
async fn a_timed_out_reservation_releases_only_its_own_confirmation_on_postgres() {
    a_timed_out_reservation_releases_only_its_own_confirmation(DbKind::Postgres).await;
}

#[tokio::test]
async fn a_timed_out_reservation_releases_only_its_own_confirmation_on_sqlite() {
    a_timed_out_reservation_releases_only_its_own_confirmation(DbKind::Sqlite).await;
}

/// A funding that expired released the acceptance already: a timeout of that offer
/// arriving afterwards leaves the next acceptance alone.
#[tokio::test]
async fn a_timeout_after_a_funding_expiry_releases_nothing_more() {
    let app = spawn_app_with(DbKind::Postgres, |_| {}).await;
    let id = id_of(&app.listed(&app.seller(), 1).await);
    let first = offer_reserved(&app, id);
    app.deliver(&first).await;
    app.wait_for_status(id, "accepted").await;
    app.deliver(&payment_changed(&app, id, "funding", "expired"))
        .await;
    app.wait_for_status(id, "listed").await;
    let second = offer_reserved(&app, id);
    app.deliver(&second).await;
    app.wait_for_status(id, "accepted").await;
    app.deliver(&timed_out(&app, &first)).await;
    app.deliver(&payment_changed(&app, id, "funding", "succeeded"))
        .await;
    app.wait_for_status(id, "funded").await;
}
