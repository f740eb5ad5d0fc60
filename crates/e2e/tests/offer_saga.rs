//! The offer saga end to end: marketplace and invoice on one Redis prefix, each with its
//! own database, events travelling only through the outbox relays and queues.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ops::Deref;

use common::clock::Clock;
use e2e::{DEADLINE, Stack};
use invoice::InvoiceConfig;
use marketplace::MarketplaceConfig;
use serde_json::{Value, json};
use testkit::api::{ApiClient, Backing, User};
use uuid::Uuid;

/// Marketplace and invoice on one stack; `api` talks to marketplace with test tokens.
struct TestApp {
    api: ApiClient,
    _stack: Stack,
}

impl Deref for TestApp {
    type Target = ApiClient;

    fn deref(&self) -> &ApiClient {
        &self.api
    }
}

/// The invoice service's address.
struct InvoiceService {
    address: String,
}

struct Invoice {
    id: Uuid,
}

async fn spawn() -> (TestApp, InvoiceService) {
    let mut stack = Stack::new();
    let backing = Backing::new(&stack.prefix).await;
    let clock = backing.clock.clone();
    let (base, db) = stack.base("marketplace").await;
    let market = MarketplaceConfig {
        sweep_interval: std::time::Duration::from_secs(3600),
        ..MarketplaceConfig::with_base(base)
    };
    let app = marketplace::build(market, clock.clone()).await.unwrap();
    let port = app.port();
    stack.serve(app, db);
    let (base, db) = stack.base("invoice").await;
    let inv = InvoiceConfig {
        sweep_interval: std::time::Duration::from_secs(3600),
        ..InvoiceConfig::with_base(base)
    };
    let app = invoice::build(inv, clock).await.unwrap();
    let address = stack.serve(app, db);
    let (api, _, _) = backing.client(port);
    (TestApp { api, _stack: stack }, InvoiceService { address })
}

impl TestApp {
    /// The listing as an admin sees it.
    async fn listing(&self, id: Uuid) -> Option<Value> {
        let res = self
            .get(
                &format!("/api/marketplace/invoices/{id}"),
                &self.admin().token,
            )
            .await;
        if res.status() == 404 {
            return None;
        }
        assert_eq!(res.status(), 200);
        Some(res.json().await.unwrap())
    }

    async fn wait_for_listing(&self, id: Uuid, status: &str) {
        testkit::wait_until(DEADLINE, &format!("listing {id} {status}"), || async {
            self.listing(id)
                .await
                .is_some_and(|l| l["status"] == status)
        })
        .await;
    }

    /// Makes an offer (asserting 201) and returns it.
    async fn offer(&self, investor: &User, invoice: &Invoice, rate: &str) -> Value {
        let body = json!({"invoice_id": invoice.id, "discount_rate": rate});
        let res = self
            .post("/api/marketplace/offers", &investor.token, &body)
            .await;
        assert_eq!(res.status(), 201, "offer at {rate}");
        res.json().await.unwrap()
    }

    async fn wait_for_offer(&self, id: &Value, status: &str) -> Value {
        let id = id.as_str().unwrap();
        testkit::wait_for(DEADLINE, &format!("offer {id} {status}"), || async {
            let path = format!("/api/marketplace/offers/{id}");
            let o: Value = self
                .get(&path, &self.admin().token)
                .await
                .json()
                .await
                .unwrap();
            (o["status"] == status).then_some(o)
        })
        .await
    }

    /// Accepts `offer` as `seller` (asserting 202).
    async fn accept(&self, seller: &User, offer: &Value) {
        let id = offer["id"].as_str().unwrap();
        let res = self
            .post_at(
                &format!("/api/marketplace/offers/{id}/accept"),
                &seller.token,
                testkit::api::version_of(offer),
                &json!({}),
            )
            .await;
        assert_eq!(res.status(), 202, "accept");
    }
}

async fn call(app: &TestApp, url: String, token: &str, body: Value) -> (u16, Value) {
    call_at(app, url, token, None, body).await
}

/// POST with `If-Match` naming `version`, when given (a decision on what was read).
async fn call_at(
    app: &TestApp,
    url: String,
    token: &str,
    version: Option<i64>,
    body: Value,
) -> (u16, Value) {
    let mut req = app.client.post(url).bearer_auth(token).json(&body);
    if let Some(v) = version {
        req = req.header("if-match", service_kit::http::version::etag(v));
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

/// A listed invoice of `seller`'s at the invoice service.
async fn list_invoice(app: &TestApp, inv: &InvoiceService, seller: &User, n: u32) -> Invoice {
    let today = app.clock.now().date_naive();
    let due = today + chrono::Days::new(60);
    let (status, draft) = call(
        app,
        format!("{}/api/invoices", inv.address),
        &seller.token,
        json!({
            "invoice_number": format!("INV-{n:04}"),
            "debtor": {"name": "Dangote Cement Plc"},
            "amount": "1500000.00",
            "issue_date": (today - chrono::Days::new(10)).to_string(),
            "due_date": due.to_string(),
            "description": "Cement supplied in October",
        }),
    )
    .await;
    assert_eq!(status, 201, "{draft}");
    let id: Uuid = draft["id"].as_str().unwrap().parse().unwrap();
    let mut version = testkit::api::version_of(&draft);
    for (action, token) in [
        ("submit", seller.token.clone()),
        ("verify", app.admin().token),
    ] {
        let (status, body) = call_at(
            app,
            format!("{}/api/invoices/{id}/{action}", inv.address),
            &token,
            Some(version),
            json!({}),
        )
        .await;
        assert_eq!(status, 200, "{action}: {body}");
        version = testkit::api::version_of(&body);
    }
    app.wait_for_listing(id, "listed").await;
    Invoice { id }
}

async fn invoice_status(app: &TestApp, inv: &InvoiceService, id: Uuid) -> Value {
    let res = app
        .client
        .get(format!("{}/api/invoices/{id}", inv.address))
        .bearer_auth(app.admin().token)
        .send()
        .await
        .unwrap();
    res.json::<Value>().await.unwrap()["status"].clone()
}

#[tokio::test]
async fn an_offer_accepted_at_the_marketplace_is_confirmed_by_the_invoice_service() {
    let (app, inv) = spawn().await;
    let seller = app.seller();
    let invoice = list_invoice(&app, &inv, &seller, 1).await;
    let l = app.listing(invoice.id).await.unwrap();
    assert_eq!(l["face_value"], "1500000.00");
    assert_eq!(l["invoice_number"], "INV-0001");
    let winner = app.offer(&app.investor(), &invoice, "18").await;
    let loser = app.offer(&app.investor(), &invoice, "20").await;
    app.accept(&seller, &winner).await;
    app.wait_for_offer(&winner["id"], "accepted").await;
    app.wait_for_offer(&loser["id"], "rejected").await;
    testkit::wait_until(DEADLINE, "invoice accepted", || async {
        invoice_status(&app, &inv, invoice.id).await == "accepted"
    })
    .await;
    app.wait_for_listing(invoice.id, "accepted").await;
}

#[tokio::test]
async fn a_cancelled_invoice_rejects_its_offers_with_a_reason() {
    let (app, inv) = spawn().await;
    let seller = app.seller();
    let invoice = list_invoice(&app, &inv, &seller, 1).await;
    let a = app.offer(&app.investor(), &invoice, "18").await;
    let b = app.offer(&app.investor(), &invoice, "19").await;
    let (status, _) = call(
        &app,
        format!("{}/api/invoices/{}/cancel", inv.address, invoice.id),
        &seller.token,
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    // The seller's accept races the cancellation: refused here (409) or by the invoice
    // service (the saga releases it); either way nothing is accepted.
    let id = a["id"].as_str().unwrap();
    let res = app
        .post_at(
            &format!("/api/marketplace/offers/{id}/accept"),
            &seller.token,
            testkit::api::version_of(&a),
            &json!({}),
        )
        .await;
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    assert!([202, 409].contains(&status), "{status} {body}");
    for o in [&a, &b] {
        let o = app.wait_for_offer(&o["id"], "rejected").await;
        assert!(o["reason"].as_str().unwrap().contains("cancelled"), "{o}");
    }
    app.wait_for_listing(invoice.id, "cancelled").await;
    assert_eq!(invoice_status(&app, &inv, invoice.id).await, "cancelled");
}
