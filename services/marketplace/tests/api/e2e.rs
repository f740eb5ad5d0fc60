//! The saga end to end with the real invoice service: both apps on one Redis prefix, each
//! with its own database, events travelling only through the outbox relays and queues.

use std::time::Duration;

use common::clock::Clock;
use common::shutdown::CancellationToken;
use invoice::InvoiceConfig;
use serde_json::{Value, json};
use testkit::{DbKind, TestDb};
use uuid::Uuid;

use crate::helpers::{DEADLINE, Invoice, TestApp, User, spawn_app};

struct InvoiceService {
    address: String,
    _db: TestDb,
    stop: CancellationToken,
}

impl Drop for InvoiceService {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn invoice_service(app: &TestApp) -> InvoiceService {
    let db = TestDb::new(DbKind::Postgres).await;
    let config = InvoiceConfig {
        base: common::config::BaseConfig {
            service: "invoice",
            database_url: db.url.clone(),
            ..app.config.base.clone()
        },
        max_amount_minor: 100_000_000_000,
        min_days_ahead: 7,
        overdue_grace_days: 3,
        default_grace_days: 90,
        sweep_interval: Duration::from_secs(3600),
    };
    let svc = invoice::build(config, app.clock.clone()).await.unwrap();
    let address = format!("http://127.0.0.1:{}", svc.port());
    let stop = CancellationToken::new();
    tokio::spawn(svc.run_until_stopped(stop.clone()));
    InvoiceService {
        address,
        _db: db,
        stop,
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
        req = req.header("if-match", common::http::version::etag(v));
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
    Invoice {
        id,
        seller_id: seller.id,
        amount: "1500000.00".into(),
        amount_minor: 150_000_000,
        due_date: due,
    }
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
    let app = spawn_app().await;
    let inv = invoice_service(&app).await;
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
    let app = spawn_app().await;
    let inv = invoice_service(&app).await;
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
