//! The gateway end to end: the built service binaries and real nginx on free ports, driven
//! as a client would (the demo's walk-through plus the gateway's own behaviour).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::time::Duration;

use support::{Stack, problem_type};

#[tokio::test]
async fn every_flow_works_through_the_gateway_and_the_gateway_answers_problems() {
    let mut stack = Stack::start().await;
    let base = stack.base.clone();
    let client = stack.client.clone();

    // Every flow a client would walk. Auth: register, login, me, refresh, logout, token
    // refused after logout. KYC: uploads (and a text file refused), checks, submissions,
    // the admin's review and download, the approval in the next token, the rejection's
    // reason, the seller's second submission approved. Invoices: drafts, refusals, submit,
    // verify, search, reject and resubmit, cancel, history. Marketplace: the listing heard
    // of, priced offers, refusals, revise, the seller's view, trending, stats, the
    // acceptance saga.
    let mut demo = demo::Demo::new(&base)
        .with_admin(&stack.admin_email, stack.admin_password)
        .quiet();
    demo.run()
        .await
        .unwrap_or_else(|e| panic!("demo failed: {e:#}\n{}\n{}", demo.log, stack.logs()));
    // Shown with `cargo nextest run --no-capture`.
    println!("{}", demo.log);
    assert!(demo.log.contains("refused at once"));
    for step in [
        "is refused: 415 application/problem+json",
        "can_submit is true",
        "Content-Disposition: attachment",
        "X-Content-Type-Options: nosniff",
        "the kyc claim said \"approved\"",
        "The seller's KYC status: rejected, reason",
        "The seller refreshed its token until the kyc claim said \"approved\"",
        "== Invoices (invoice) ==",
        "status draft.",
        "is refused: 422 naming amount, due_date",
        "cannot see the draft (404) nor create invoices (403)",
        "The admin verified it: listed.",
        "the listed invoice among them",
        "cannot edit it once listed: 409",
        "submitted it again: submitted",
        "was cancelled: cancelled",
        "draft (by the seller), then submitted (by the seller), then listed (by the admin)",
        "== Marketplace (marketplace) ==",
        "reached the marketplace (invoice.listed",
        "The investor offered 18.5 %: 201, price",
        "A second offer by the same investor: 409",
        "A rate of \"75\": 422 naming discount_rate.",
        "A rate of \"-1\": 422 naming discount_rate.",
        "The seller cannot make offers: 403.",
        "The investor revised it to 17.25 %: 200",
        "A second investor (KYC-approved in",
        "The seller sees 2 offers on it",
        "Trending lists it",
        "before the revision): 412, nothing accepted; the offer now is version 2 at 17.25 %.",
        "the seller accepted it: 202, reserved at price",
        "the offer is accepted, the invoice accepted, the other offer rejected",
        "Accepting the other offer: 409",
        "/api/invoices/popular answers the investor",
        "== Notifications (notifications) ==",
        "notifications, newest first",
        "The investor cannot mark the seller's notification read: 404.",
        "with a one-time ticket (used again: 401)",
        "the investor's kyc:status channel is refused (forbidden)",
        "over the WebSocket, live:",
        "unread now 0.",
        "== Admin (admin) ==",
        "Every step of the demo is in the audit log",
        "moved by exactly what the demo did",
        "The audit chain verifies",
        "The review queue holds",
    ] {
        assert!(demo.log.contains(step), "no {step:?} in\n{}", demo.log);
    }

    one_trace_runs_from_a_request_to_a_websocket_message(&stack.traces_dir).await;

    // The load tests' seed: a new seller taken through KYC by the admin, whose token lets
    // it draft invoices at once.
    let admin = demo::login(&base, &stack.admin_email, stack.admin_password)
        .await
        .unwrap();
    let seller = demo::approved_seller(&base, &admin).await.unwrap();
    assert_ne!(seller.id, admin.id);
    assert!(seller.email.starts_with("demo-seller-"), "{}", seller.email);
    let res = client
        .get(format!("{base}/api/auth/me"))
        .bearer_auth(&seller.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let me: serde_json::Value = res.json().await.unwrap();
    assert_eq!(me["id"], seller.id.as_str());
    assert_eq!(me["kyc_status"], "approved");
    let res = client
        .post(format!("{base}/api/invoices"))
        .bearer_auth(&seller.access)
        .json(&serde_json::json!({
            "invoice_number": "SEED-1",
            "debtor": {"name": "Dangote Cement Plc"},
            "amount": "1000.00",
            "issue_date": "2026-01-01",
            "due_date": "2026-02-01",
            "description": "seeded",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());

    // The marketplace load test's investors: taken through KYC the same way.
    let investor = demo::approved_investor(&base, &admin).await.unwrap();
    assert!(
        investor.email.starts_with("demo-investor-"),
        "{}",
        investor.email
    );
    let res = client
        .get(format!("{base}/api/auth/me"))
        .bearer_auth(&investor.access)
        .send()
        .await
        .unwrap();
    let me: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        (me["role"].as_str(), me["kyc_status"].as_str()),
        (Some("investor"), Some("approved"))
    );

    // The request id is passed on (or made) and comes back.
    let res = client
        .get(format!("{base}/api/auth/.well-known/jwks.json"))
        .header("x-request-id", "e2e-req-1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-request-id"], "e2e-req-1");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");

    // An unknown prefix is a 404 problem from the gateway itself.
    let res = client
        .get(format!("{base}/api/nope/anything"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(problem_type(&res).starts_with("application/problem+json"));

    // A method nginx refuses itself (TRACE) is a 405 problem naming what it passes on.
    let res = client
        .request(reqwest::Method::TRACE, format!("{base}/api/auth/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert!(problem_type(&res).starts_with("application/problem+json"));
    assert_eq!(
        res.headers()["allow"],
        "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
    );

    // The service's API document, through the gateway.
    let res = client
        .get(format!("{base}/api-docs/auth/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let doc: serde_json::Value = res.json().await.unwrap();
    assert!(doc["paths"]["/api/auth/login"]["post"].is_object());

    // A service that is down is a 502 problem, not an HTML page.
    stack.procs.stop("auth");
    let res = client
        .get(format!("{base}/api/auth/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    assert!(problem_type(&res).starts_with("application/problem+json"));
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], 502);
    stack.stop().await;
}

/// The demo's seller submitted an invoice with a WebSocket open and saw its notification
/// arrive live: one trace holds the request (invoice), the relay's hop of
/// `invoice.submitted` from the outbox to the queues, its consumption (notifications) and
/// the WebSocket delivery, each a span of the process that did it, exported over OTLP.
async fn one_trace_runs_from_a_request_to_a_websocket_message(dir: &Path) {
    let spans = testkit::wait_for(
        Duration::from_secs(30),
        "one trace from the invoice's submit to the WebSocket",
        || async { submit_to_websocket(dir) },
    )
    .await;
    let tree = traces::render(&spans);
    println!("{tree}");
    let lines: Vec<&str> = tree.lines().collect();
    // The request is the root; the rest hang under it.
    assert!(
        lines[1].contains("  invoice  http_request POST /api/invoices/{id}/submit -> 200"),
        "{tree}"
    );
    for (service, name) in [
        ("invoice", "outbox_relay invoice.submitted"),
        ("notifications", "consume_event invoice.submitted"),
        ("notifications", "ws_deliver"),
    ] {
        assert!(
            lines[2..]
                .iter()
                .any(|l| l.contains(&format!("    {service}  {name}"))),
            "no {service} {name} under the request in\n{tree}"
        );
    }
}

/// The spans of a trace with a WebSocket delivery that began with an invoice's submit and
/// went through the relay and the notifications consumer, if one has arrived.
fn submit_to_websocket(dir: &Path) -> Option<Vec<traces::SpanRecord>> {
    let all = traces::Store::read_all(dir).unwrap();
    let submitted = |s: &traces::SpanRecord| s.attribute("event.type") == Some("invoice.submitted");
    all.iter()
        .filter(|s| s.service == "notifications" && s.name == "ws_deliver")
        .map(|d| {
            all.iter()
                .filter(|s| s.trace_id == d.trace_id)
                .cloned()
                .collect::<Vec<_>>()
        })
        .find(|spans| {
            let has = |service: &str, name: &str, what: &dyn Fn(&traces::SpanRecord) -> bool| {
                spans
                    .iter()
                    .any(|s| s.service == service && s.name == name && what(s))
            };
            has("invoice", "http_request", &|s| {
                s.attribute("http.route")
                    .is_some_and(|r| r.ends_with("/submit"))
            }) && has("invoice", "outbox_relay", &submitted)
                && has("notifications", "consume_event", &submitted)
        })
}
