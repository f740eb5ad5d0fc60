//! Many sellers' clicks at once: exactly one offer per invoice is ever accepted, however
//! many accepts of different offers race on two instances sharing one database.

use futures::future::join_all;
use serde_json::json;
use testkit::DbKind;

use crate::helpers::spawn_app_with;

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
