//! The webhook endpoint: only the provider's signatures are accepted (the matrix), and
//! 100 concurrent deliveries of one webhook make one effect, every answer 2xx.

use std::sync::Arc;

use common::clock::Clock;

use serde_json::{Value, json};
use service_kit::webhooks::{WebhookSecret, sign, sign_all};
use testkit::DbKind;

use crate::helpers::{DEADLINE, TestApp, accepted, spawn_app, spawn_app_with};

async fn send(
    app: &TestApp,
    id: &str,
    ts: i64,
    signature: Option<String>,
    body: &[u8],
) -> reqwest::Response {
    let mut req = app
        .api
        .client
        .post(app.url("/api/payments/webhooks/sandbox"))
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string())
        .body(body.to_vec());
    if let Some(s) = signature {
        req = req.header("webhook-signature", s);
    }
    req.send().await.unwrap()
}

/// A funding that the investor paid at the sandbox with the sandbox's own webhook held
/// back; answers (the financing id, the payment's reference).
async fn paid_without_webhook(app: &TestApp) -> (String, String) {
    let (seller, investor) = (app.seller(), app.investor());
    let f = app.open(&accepted(&seller, &investor), &investor).await;
    let id = f["id"].as_str().unwrap().to_owned();
    let checkout: Value = app.checkout(&id, &investor).await.json().await.unwrap();
    app.sandbox.set_webhook_url(None);
    let reference = checkout["reference"].as_str().unwrap().to_owned();
    app.pay(&reference, None).await;
    (id, reference)
}

fn charge_body(reference: &str) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"type": "charge.success", "data": {"reference": reference, "status": "success"}}),
    )
    .unwrap()
}

#[tokio::test]
async fn only_a_valid_signature_within_five_minutes_is_accepted() {
    let app = spawn_app().await;
    let (id, reference) = paid_without_webhook(&app).await;
    let investor = app.investor();
    let body = charge_body(&reference);
    let now = app.api.clock.now().timestamp();
    let secret = &app.secrets[0];
    let wrong = WebhookSecret::generate();
    let valid = sign(secret, "msg_a", now, &body);
    /// What is wrong, the timestamp, the signature header, the body, the answer.
    type Case<'a> = (&'a str, i64, Option<String>, Vec<u8>, u16);
    let forged: Vec<Case> = vec![
        (
            "wrong secret",
            now,
            Some(sign(&wrong, "msg_a", now, &body)),
            body.clone(),
            401,
        ),
        (
            "tampered body",
            now,
            Some(valid.clone()),
            charge_body("vst_other"),
            401,
        ),
        (
            "stale",
            now - 301,
            Some(sign(secret, "msg_a", now - 301, &body)),
            body.clone(),
            401,
        ),
        (
            "future",
            now + 301,
            Some(sign(secret, "msg_a", now + 301, &body)),
            body.clone(),
            401,
        ),
        ("missing", now, None, body.clone(), 401),
        ("empty", now, Some("v1,".into()), body.clone(), 401),
    ];
    for (what, ts, sig, b, status) in forged {
        let res = send(&app, "msg_a", ts, sig, &b).await;
        assert_eq!(res.status(), status, "{what}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{what}"
        );
    }
    // Nothing changed: still awaiting funding, nothing in the ledger.
    let f = app.financing(&id, &app.admin()).await;
    assert_eq!(f["status"], "awaiting_funding");
    assert_eq!(app.trial_balance().await["currencies"], json!([]));
    // During a rotation the sender signs with the new and the old secret: accepted.
    let rotated = sign_all(&[wrong, secret.clone()], "msg_a", now, &body);
    let res = send(&app, "msg_a", now, Some(rotated), &body).await;
    assert_eq!(res.status(), 200);
    let _ = investor;
    app.wait_for_financing_status(&id, &app.admin(), "funded")
        .await;
}

async fn a_hundred_concurrent_deliveries_make_one_effect(kind: DbKind) {
    let app = Arc::new(spawn_app_with(kind, |_| {}).await);
    let (id, reference) = paid_without_webhook(&app).await;
    let body = Arc::new(charge_body(&reference));
    let now = app.api.clock.now().timestamp();
    let signature = sign(&app.secrets[0], "msg_dup", now, &body);
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (app, body, signature) = (app.clone(), body.clone(), signature.clone());
        tasks.push(tokio::spawn(async move {
            send(&app, "msg_dup", now, Some(signature), &body)
                .await
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    app.wait_for_financing_status(&id, &app.admin(), "funded")
        .await;
    // Everything the one effect sends (funding pending and succeeded, payout pending),
    // then nothing more.
    let succeeded = app
        .payment_events_when("the effect's three events", |e| e.len() >= 3)
        .await
        .into_iter()
        .filter(|e| e.status == common::events::payments::PaymentStatus::Succeeded)
        .count();
    assert_eq!(succeeded, 1);
    let tb = app.trial_balance().await;
    assert_eq!(tb["broken"], json!([]), "{tb}");
    assert_eq!(tb["currencies"][0]["assets_minor"], crate::helpers::PRICE);
    let _ = DEADLINE;
}

#[tokio::test]
async fn a_hundred_concurrent_deliveries_make_one_effect_postgres() {
    a_hundred_concurrent_deliveries_make_one_effect(DbKind::Postgres).await;
}

#[tokio::test]
async fn a_hundred_concurrent_deliveries_make_one_effect_sqlite() {
    a_hundred_concurrent_deliveries_make_one_effect(DbKind::Sqlite).await;
}

#[tokio::test]
async fn a_webhook_for_another_provider_is_not_found() {
    let app = spawn_app().await;
    let res = app
        .api
        .client
        .post(app.url("/api/payments/webhooks/paystack"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}
