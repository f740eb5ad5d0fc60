//! Many sellers' clicks at once: exactly one offer per invoice is ever accepted, however
//! many accepts of different offers race on two instances sharing one database. Many
//! investors' offers at once: placed together in batches, each exactly once, within the
//! limit, with its event.

use std::collections::HashMap;

use common::clock::Clock;
use common::events::Service;
use common::ids::InvoiceId;
use futures::future::join_all;
use marketplace::domain::pricing::{Quote, Rate};
use marketplace::store::offers::placing::{Placed, Placing, place_together};
use marketplace::store::offers::{MarketError, NewOffer};
use serde_json::{Value, json};
use testkit::DbKind;

use crate::helpers::{TestApp, spawn_app_with};

const OFFERS: usize = 5;
const ACCEPTS: usize = 50;

async fn exactly_one_of_many_concurrent_accepts_wins(kind: DbKind) {
    let app = spawn_app_with(kind, |_| {}).await;
    let second = app.another_instance().await;
    let seller = app.seller();
    let invoice = app.listed(&seller).await;
    let mut offers = Vec::new();
    for i in 0..OFFERS {
        offers.push(
            app.offer(&app.investor(), &invoice, &format!("{}", 15 + i))
                .await,
        );
    }
    let client = reqwest::Client::new();
    let calls = (0..ACCEPTS).map(|i| {
        let offer = &offers[i % OFFERS];
        let base = if i % 2 == 0 {
            &app.address
        } else {
            &second.address
        };
        let url = format!(
            "{base}/api/marketplace/offers/{}/accept",
            offer["id"].as_str().unwrap()
        );
        let (client, token) = (client.clone(), seller.token.clone());
        let version = service_kit::http::version::etag(testkit::api::version_of(offer));
        async move {
            let res = client
                .post(url)
                .header("if-match", version)
                .bearer_auth(token)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.json::<serde_json::Value>().await.unwrap())
        }
    });
    let answers = join_all(calls).await;
    let won: Vec<_> = answers.iter().filter(|(s, _)| *s == 202).collect();
    assert_eq!(won.len(), 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != 202) {
        assert_eq!(*status, 409, "{body}");
    }
    let winner = won[0].1["id"].clone();
    // Exactly one offer is reserved, the listing's claim names it, one offer.reserved.
    let mut reserved = 0;
    for o in &offers {
        if app.offer_now(&o["id"]).await["status"] == "reserved" {
            reserved += 1;
        }
    }
    assert_eq!(reserved, 1);
    let l = app.listing(invoice.id).await.unwrap();
    assert_eq!(l["reserved_offer_id"], winner);
    app.wait_for_event(common::events::Service::Invoice, "offer.reserved", &winner)
        .await;
    let asks = app
        .events_on(common::events::Service::Invoice)
        .await
        .into_iter()
        .filter(|e| e.event_type == "offer.reserved")
        .count();
    assert_eq!(asks, 1);
    // The saga finishes: one accepted, the rest rejected.
    let won_offer = app.offer_now(&winner).await;
    app.deliver(&app.answer("invoice.acceptance_confirmed", &won_offer, None))
        .await;
    app.wait_for_offer(&winner, "accepted").await;
    for o in offers.iter().filter(|o| o["id"] != winner) {
        app.wait_for_offer(&o["id"], "rejected").await;
    }
}

#[tokio::test]
async fn exactly_one_of_many_concurrent_accepts_wins_on_postgres() {
    exactly_one_of_many_concurrent_accepts_wins(DbKind::Postgres).await;
}

#[tokio::test]
async fn exactly_one_of_many_concurrent_accepts_wins_on_sqlite() {
    exactly_one_of_many_concurrent_accepts_wins(DbKind::Sqlite).await;
}

async fn concurrent_offers_respect_the_limit(kind: DbKind) {
    let app = spawn_app_with(kind, |c| c.max_active_offers = 3).await;
    let invoice = app.listed(&app.seller()).await;
    let investors: Vec<_> = (0..12).map(|_| app.investor()).collect();
    let body = json!({"invoice_id": invoice.id, "discount_rate": "18"});
    let calls = investors
        .iter()
        .map(|inv| app.post("/api/marketplace/offers", &inv.token, &body));
    let statuses: Vec<u16> = join_all(calls)
        .await
        .into_iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        3,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(
        app.listing(invoice.id).await.unwrap()["offers"]["active"],
        3
    );
}

#[tokio::test]
async fn concurrent_offers_respect_the_limit_on_postgres() {
    concurrent_offers_respect_the_limit(DbKind::Postgres).await;
}

#[tokio::test]
async fn concurrent_offers_respect_the_limit_on_sqlite() {
    concurrent_offers_respect_the_limit(DbKind::Sqlite).await;
}

/// An offer at 18 % on `invoice` (the figures are not what this checks).
async fn new_offer(app: &TestApp, invoice: uuid::Uuid) -> NewOffer {
    let listing = marketplace::store::listings::find(&app.state.db, InvoiceId(invoice))
        .await
        .unwrap()
        .unwrap();
    NewOffer {
        listing,
        quote: Quote {
            face: 150_000_000,
            days: 60,
            rate: Rate::from_millionths(180_000),
            discount: 4_438_356,
            price: 145_561_644,
            fee: 1_500_000,
        },
        expires_at: app.clock.now() + chrono::Duration::hours(1),
        priced_on: app.clock.now().date_naive(),
    }
}

/// `investor`'s offer at 18 % on `invoice`, asked today.
fn asking(app: &TestApp, investor: uuid::Uuid, invoice: uuid::Uuid) -> Placing {
    Placing {
        investor,
        invoice_id: invoice,
        rate: Rate::from_millionths(180_000),
        expires_at: app.clock.now() + chrono::Duration::hours(1),
        priced_on: app.clock.now().date_naive(),
    }
}

/// A batch places what the lone path would place, each offer priced on the listing row
/// its claim took, and hands back the rest unchanged: a second offer on a listing
/// already in the batch, an investor's second active offer (its claim given back), an
/// offer on a listing closed since, one the terms cannot price (due too soon: its claim
/// given back). Placed alone, those get the lone path's answers.
async fn a_batch_places_what_it_can_and_hands_back_the_rest(kind: DbKind) {
    let app = spawn_app_with(kind, |_| {}).await;
    let seller = app.seller();
    let (l1, l2, l3, l4) = (
        app.listed(&seller).await,
        app.listed(&seller).await,
        app.listed(&seller).await,
        app.listed(&seller).await,
    );
    // Due in 3 days: offers need 7.
    let soon = app.listed_in(&seller, 3).await;
    let (a, b, c, d) = (
        app.investor(),
        app.investor(),
        app.investor(),
        app.investor(),
    );
    let earlier = app.offer(&a, &l3, "18").await;
    app.deliver(&app.invoice_event("invoice.cancelled", &l4, "listed", "cancelled"))
        .await;
    app.wait_for_listing(l4.id, "cancelled").await;

    let batch = vec![
        asking(&app, a.id, l1.id),
        asking(&app, b.id, l1.id),
        asking(&app, c.id, l2.id),
        asking(&app, a.id, l3.id),
        asking(&app, d.id, l4.id),
        asking(&app, d.id, soon.id),
    ];
    let terms = app.state.config.terms();
    let placed = place_together(&app.state.db, app.clock.as_ref(), 20, terms, batch).await;
    let (mut done, mut alone) = (Vec::new(), Vec::new());
    for p in placed {
        match p {
            Placed::Done(c) => done.push(c),
            Placed::Alone(p) => alone.push(p),
        }
    }
    let who = |o: &marketplace::store::entity::offer::Model| (o.investor_id, o.invoice_id);
    assert_eq!(
        done.iter().map(|c| who(&c.offer)).collect::<Vec<_>>(),
        [(a.id, l1.id), (c.id, l2.id)]
    );
    // Priced on the listing's terms: its face value, 60 days to maturity, 18 %.
    let today = app.clock.now().date_naive();
    for c in &done {
        let expected = terms
            .quote(
                150_000_000,
                today + chrono::Days::new(60),
                today,
                Rate::from_millionths(180_000),
            )
            .unwrap();
        assert_eq!(marketplace::store::offers::quote_of(&c.offer), expected);
        assert_eq!(c.offer.priced_on, today);
    }
    assert_eq!(
        alone
            .iter()
            .map(|p| (p.investor, p.invoice_id))
            .collect::<Vec<_>>(),
        [(b.id, l1.id), (a.id, l3.id), (d.id, l4.id), (d.id, soon.id)]
    );
    // The claims: one each on the placed, the duplicate's and the unpriced one's given
    // back, none on the closed.
    for (l, active) in [(&l1, 1), (&l2, 1), (&l3, 1), (&l4, 0), (&soon, 0)] {
        let row = marketplace::store::listings::find(&app.state.db, InvoiceId(l.id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.active_offers, active, "listing {}", l.id);
    }
    // Each placed offer's event, once.
    marketplace::outbound::after(&app.state, &done).await;
    for c in &done {
        let id = json!(c.offer.id);
        app.wait_for_event(Service::Notifications, "offer.placed", &id)
            .await;
        assert_eq!(
            app.events_about(Service::Notifications, "offer.placed", &id)
                .await
                .len(),
            1
        );
    }
    assert_eq!(earlier["status"], "pending");
    // Alone, each gets its own answer (the lone path prices on the listing it reads; the
    // one due too soon is refused by the route before it gets here).
    let mut answers = Vec::new();
    for p in alone.into_iter().take(3) {
        let new = new_offer(&app, p.invoice_id).await;
        answers.push(
            marketplace::store::offers::changes::place_alone(&app.state, p.investor, new)
                .await
                .map(|c| c.offer.invoice_id),
        );
    }
    assert!(
        matches!(answers[0], Ok(id) if id == l1.id),
        "{:?}",
        answers[0]
    );
    assert!(
        matches!(&answers[1], Err(MarketError::Refused(d)) if d.contains("already have an active offer")),
        "{:?}",
        answers[1]
    );
    assert!(
        matches!(&answers[2], Err(MarketError::Refused(d)) if d == "the invoice is cancelled; it takes no offers"),
        "{:?}",
        answers[2]
    );
}

#[tokio::test]
async fn a_batch_places_what_it_can_and_hands_back_the_rest_on_postgres() {
    a_batch_places_what_it_can_and_hands_back_the_rest(DbKind::Postgres).await;
}

#[tokio::test]
async fn a_batch_places_what_it_can_and_hands_back_the_rest_on_sqlite() {
    a_batch_places_what_it_can_and_hands_back_the_rest(DbKind::Sqlite).await;
}

/// Forty investors place offers on four listings (limit 6) at once, each twice: every
/// answer is 201 or 409, each listing takes exactly its limit, an investor has at most
/// one active offer on a listing, the counts match the rows and every placed offer has
/// exactly one event.
async fn offers_placed_at_once_on_many_listings_are_each_placed_once(kind: DbKind) {
    let app = spawn_app_with(kind, |c| c.max_active_offers = 6).await;
    let seller = app.seller();
    let mut invoices = Vec::new();
    for _ in 0..4 {
        invoices.push(app.listed(&seller).await);
    }
    let investors: Vec<_> = (0..40).map(|_| app.investor()).collect();
    let (app, invoices) = (&app, &invoices);
    let calls = investors.iter().enumerate().flat_map(move |(i, inv)| {
        let invoice = &invoices[i % invoices.len()];
        let body = json!({"invoice_id": invoice.id, "discount_rate": "18"});
        [0, 1].map(move |_| {
            let body = body.clone();
            async move {
                let res = app.post("/api/marketplace/offers", &inv.token, &body).await;
                let status = res.status().as_u16();
                let json: Value = res.json().await.unwrap();
                (invoice.id, inv.id, status, json)
            }
        })
    });
    let answers = join_all(calls).await;
    assert!(
        answers.iter().all(|(_, _, s, _)| *s == 201 || *s == 409),
        "{:?}",
        answers.iter().map(|a| a.2).collect::<Vec<_>>()
    );
    let mut placed: HashMap<uuid::Uuid, Vec<(uuid::Uuid, Value)>> = HashMap::new();
    for (invoice, investor, status, json) in &answers {
        if *status == 201 {
            placed
                .entry(*invoice)
                .or_default()
                .push((*investor, json["id"].clone()));
        }
    }
    for invoice in invoices {
        let offers = &placed[&invoice.id];
        assert_eq!(offers.len(), 6, "listing {}", invoice.id);
        let investors: std::collections::HashSet<_> = offers.iter().map(|(i, _)| i).collect();
        assert_eq!(investors.len(), 6, "one active offer per investor");
        assert_eq!(
            app.listing(invoice.id).await.unwrap()["offers"]["active"],
            6
        );
        let row = marketplace::store::listings::find(&app.state.db, InvoiceId(invoice.id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.active_offers, 6);
        for (_, id) in offers {
            app.wait_for_event(Service::Notifications, "offer.placed", id)
                .await;
            assert_eq!(
                app.events_about(Service::Notifications, "offer.placed", id)
                    .await
                    .len(),
                1
            );
        }
    }
}

#[tokio::test]
async fn offers_placed_at_once_on_many_listings_are_each_placed_once_on_postgres() {
    offers_placed_at_once_on_many_listings_are_each_placed_once(DbKind::Postgres).await;
}

#[tokio::test]
async fn offers_placed_at_once_on_many_listings_are_each_placed_once_on_sqlite() {
    offers_placed_at_once_on_many_listings_are_each_placed_once(DbKind::Sqlite).await;
}
