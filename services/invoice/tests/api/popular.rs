//! `GET /api/invoices/popular`: listed invoices ranked by marketplace's `offer.placed`
//! events, each counted once.

use common::events::marketplace::{OfferChange, OfferChanged, OfferStatus};
use common::events::{Envelope, OfferEvent, examples};
use common::ids::{InvoiceId, OfferId, UserId};
use invoice::store::entity::offer_count;
use sea_orm::EntityTrait;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{DEADLINE, TestApp, assert_problem, id_of, spawn_app};

fn offer_placed(app: &TestApp, invoice_id: Uuid) -> Envelope {
    let offer = OfferChanged {
        offer_id: OfferId(Uuid::now_v7()),
        invoice_id: InvoiceId(invoice_id),
        investor_id: UserId(Uuid::now_v7()),
        ..examples::offer(OfferStatus::Pending, OfferChange::Placed, None)
    };
    Envelope::of(OfferEvent::Placed(offer), app.clock.as_ref()).unwrap()
}

async fn popular(app: &TestApp, token: &str) -> Vec<(Uuid, i64)> {
    let res = app.get("/api/invoices/popular", token).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().parse().unwrap(),
                i["offers"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn listed_invoices_are_ranked_by_their_offers_each_event_counted_once() {
    let app = spawn_app().await;
    let seller = app.seller();
    let (a, b, c) = (
        id_of(&app.listed(&seller, 1).await),
        id_of(&app.listed(&seller, 2).await),
        id_of(&app.listed(&seller, 3).await),
    );
    let draft = id_of(&app.draft(&seller, 4).await);
    let investor = app.investor();

    let mut events = Vec::new();
    for (id, n) in [(b, 3), (a, 1), (draft, 5)] {
        for _ in 0..n {
            events.push(offer_placed(&app, id));
        }
    }
    for e in &events {
        app.deliver(e).await;
    }
    // One of b's delivered again: counted once.
    app.deliver(&events[0]).await;
    // The consumer applies events in order: once the last one is counted, all are.
    let last = offer_placed(&app, c);
    app.deliver(&last).await;
    testkit::wait_until(DEADLINE, "the offers to be counted", || {
        let db = app.state.db.clone();
        async move {
            offer_count::Entity::find_by_id(c)
                .one(&db)
                .await
                .unwrap()
                .is_some()
        }
    })
    .await;

    let ranked = popular(&app, &investor.token).await;
    assert_eq!(ranked, vec![(b, 3), (a, 1), (c, 1)], "drafts never appear");

    // Cancelled: off the list at once (the write bumps the cache generation).
    app.act(&b.to_string(), "cancel", &seller.token).await;
    assert_eq!(popular(&app, &investor.token).await, vec![(a, 1), (c, 1)]);

    // Sellers see only their own invoices.
    assert_problem(app.get("/api/invoices/popular", &seller.token).await, 403).await;
}

/// The consumer counts a batch's placed offers in one statement: an invoice placed on
/// three times in a batch gains three, one already counted gains on top, and an event
/// twice in the batch counts once.
#[tokio::test]
async fn a_batch_of_placed_offers_counts_each_once_in_one_statement() {
    let app = spawn_app().await;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let consume = |events: Vec<Envelope>| {
        let state = app.state.clone();
        async move {
            service_kit::inbox::consume_staged_batch(
                &state.db,
                &invoice::inbound::Effects::new(&state),
                &events,
                &state.clock,
            )
            .await
            .unwrap()
        }
    };
    let counts = || {
        let db = app.state.db.clone();
        async move {
            let mut rows: Vec<(Uuid, i64)> = offer_count::Entity::find()
                .all(&db)
                .await
                .unwrap()
                .into_iter()
                .map(|r| (r.invoice_id, r.offers))
                .collect();
            rows.sort();
            rows
        }
    };
    assert_eq!(consume(vec![offer_placed(&app, a)]).await, 1);
    let twice = offer_placed(&app, b);
    let batch = vec![
        offer_placed(&app, b),
        twice.clone(),
        offer_placed(&app, a),
        twice,
        offer_placed(&app, b),
    ];
    assert_eq!(
        consume(batch).await,
        4,
        "the copy in the batch is not applied"
    );
    let mut expected = vec![(a, 2), (b, 3)];
    expected.sort();
    assert_eq!(counts().await, expected);
}
