//! The webhook endpoint: only the provider's signatures are accepted (the matrix), 100
//! concurrent deliveries of one webhook make one effect, every answer 2xx; the inbox
//! behind it applies what was accepted, including what a crash left waiting, and keeps a
//! delivery that fails for its retry without holding the others back.

use std::sync::Arc;

use common::clock::Clock;

use serde_json::{Value, json};
use service_kit::webhooks::{WebhookSecret, sign, sign_all};
use testkit::DbKind;

use crate::helpers::{DEADLINE, PRICE, TestApp, accepted, spawn_app, spawn_app_with};

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

/// Delivers a `charge.success` of `reference` under `key`, signed now with the first
/// secret; answers what the endpoint said (`accepted`, `ignored`, `duplicate`).
async fn deliver_charge(app: &TestApp, key: &str, reference: &str) -> Value {
    let now = app.api.clock.now().timestamp();
    let body = charge_body(reference);
    let res = send(
        app,
        key,
        now,
        Some(sign(&app.secrets[0], key, now, &body)),
        &body,
    )
    .await;
    assert_eq!(res.status(), 200, "{key}");
    res.json::<Value>().await.unwrap()["status"].clone()
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
    // Several receipt writers (PostgreSQL; SQLite keeps one).
    let app = Arc::new(spawn_app_with(kind, |c| c.receipt_writers = 4).await);
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

/// Answers first: while another delivery is being answered in this process, an accepted
/// one's effect waits (the lag here is an hour, so only the quiet moment can release
/// it), and it is applied as soon as nothing is being answered.
async fn an_effect_waits_while_deliveries_are_answered(kind: DbKind) {
    let app = spawn_app_with(kind, |c| {
        c.apply_max_lag = std::time::Duration::from_secs(3_600);
    })
    .await;
    let (id, reference) = paid_without_webhook(&app).await;
    // Another delivery, still being answered.
    let other = app.state.answering.enter();
    assert_eq!(
        deliver_charge(&app, "msg_behind", &reference).await,
        "accepted"
    );
    // Stored, answered, and not applied while the other is in flight.
    let waiting = receipt(&app, "msg_behind").await;
    assert!(waiting.applied_at.is_none(), "{waiting:?}");
    assert_eq!(
        app.financing(&id, &app.admin()).await["status"],
        "awaiting_funding"
    );
    drop(other);
    app.wait_for_financing_status(&id, &app.admin(), "funded")
        .await;
    assert!(receipt(&app, "msg_behind").await.applied_at.is_some());
}

#[tokio::test]
async fn an_effect_waits_while_deliveries_are_answered_postgres() {
    an_effect_waits_while_deliveries_are_answered(DbKind::Postgres).await;
}

#[tokio::test]
async fn an_effect_waits_while_deliveries_are_answered_sqlite() {
    an_effect_waits_while_deliveries_are_answered(DbKind::Sqlite).await;
}

/// The wait is bounded: with deliveries answered without a pause, an accepted effect is
/// applied once the configured lag has passed.
#[tokio::test]
async fn an_effect_is_applied_after_the_lag_even_if_answering_never_stops() {
    let app = spawn_app_with(DbKind::Postgres, |c| {
        c.apply_max_lag = std::time::Duration::from_millis(200);
    })
    .await;
    let (id, reference) = paid_without_webhook(&app).await;
    let _never_quiet = app.state.answering.enter();
    assert_eq!(
        deliver_charge(&app, "msg_lag", &reference).await,
        "accepted"
    );
    app.wait_for_financing_status(&id, &app.admin(), "funded")
        .await;
}

/// Receipts written by several writers at once, the same keys arriving in different
/// orders (redeliveries whose leases were lost): every key stored once, every call
/// answered, no batch waiting on another in a cycle (PostgreSQL would end one with a
/// deadlock error).
#[tokio::test]
async fn receipt_writers_side_by_side_store_each_key_once() {
    use payments::store::receipts::{Delivery, Recorded};
    let app = spawn_app_with(DbKind::Postgres, |c| c.receipt_writers = 4).await;
    let keys: Vec<String> = (0..24).map(|k| format!("msg_side_{k:02}")).collect();
    let mut calls = Vec::new();
    for round in 0..8_usize {
        // Each round submits every key at once, in an order of its own.
        let mut order = keys.clone();
        order.rotate_left(round * 5 % keys.len());
        if round % 2 == 1 {
            order.reverse();
        }
        for key in order {
            let receipts = app.state.receipts.clone();
            calls.push(tokio::spawn(async move {
                let recorded = receipts
                    .record(Delivery {
                        provider: "sandbox".into(),
                        key: key.clone(),
                        event_type: "charge.success".into(),
                        reference: "vst_nobody".into(),
                        verified: None,
                    })
                    .await;
                (key, recorded)
            }));
        }
    }
    let mut stored = std::collections::HashMap::<String, usize>::new();
    for call in calls {
        let (key, recorded) = call.await.unwrap();
        match recorded.expect("every receipt call is answered") {
            Recorded::Duplicate => {}
            Recorded::Ignored | Recorded::Accepted => *stored.entry(key).or_default() += 1,
        }
    }
    assert_eq!(stored.len(), keys.len(), "{stored:?}");
    assert!(stored.values().all(|n| *n == 1), "{stored:?}");
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

#[tokio::test]
async fn a_delivery_is_answered_accepted_then_duplicate_and_an_unknown_one_ignored() {
    let app = spawn_app().await;
    let (id, reference) = paid_without_webhook(&app).await;
    for expected in ["accepted", "duplicate"] {
        assert_eq!(deliver_charge(&app, "msg_once", &reference).await, expected);
    }
    assert_eq!(
        deliver_charge(&app, "msg_other", "vst_nobody").await,
        "ignored"
    );
    app.wait_for_financing_status(&id, &app.admin(), "funded")
        .await;
}

/// Stores a receipt for `payment` with `effect` (JSON as stored) the way an accepted
/// delivery leaves it when the process dies before applying it: nothing wakes the
/// applier.
async fn left_behind(app: &TestApp, key: &str, payment: uuid::Uuid, effect: &str) {
    use payments::store::entity::webhook_receipt;
    use sea_orm::{ActiveModelTrait, Set};
    let now = app.api.clock.now();
    webhook_receipt::ActiveModel {
        id: Set(common::new_id_at(now)),
        provider: Set("sandbox".into()),
        event_key: Set(key.into()),
        event_type: Set("charge.success".into()),
        payment_id: Set(Some(payment)),
        received_at: Set(now),
        effect: Set(Some(effect.into())),
        applied_at: Set(None),
        attempts: Set(0),
        last_error: Set(None),
        apply_after: Set(None),
        lane: Set(0),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
}

async fn receipt(app: &TestApp, key: &str) -> payments::store::entity::webhook_receipt::Model {
    use payments::store::entity::webhook_receipt::{Column, Entity};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    Entity::find()
        .filter(Column::EventKey.eq(key))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
}

/// What waits is applied without a wake-up (the applier's poll: as after a crash between
/// answer and apply); a delivery whose effect cannot be applied keeps its error and waits
/// for its retry without holding the other back; once it can be, the retry applies it,
/// once.
async fn left_behind_deliveries_are_applied_and_a_failing_one_waits(kind: DbKind) {
    let app = spawn_app_with(kind, |_| {}).await;
    let db = &app.state.db;
    let (id_a, ref_a) = paid_without_webhook(&app).await;
    let (id_b, ref_b) = paid_without_webhook(&app).await;
    let by_ref = |r: String| async move {
        payments::store::financings::payment_by_reference(db, &r)
            .await
            .unwrap()
            .unwrap()
            .id
    };
    let (pay_a, pay_b) = (by_ref(ref_a).await, by_ref(ref_b).await);
    let paid =
        format!(r#"{{"kind":"charge","outcome":{{"status":"succeeded","amount":{PRICE}}}}}"#);
    left_behind(
        &app,
        "evt_b",
        pay_b,
        r#"{"kind":"charge","outcome":{"status":"paid"}}"#,
    )
    .await;
    left_behind(&app, "evt_a", pay_a, &paid).await;

    let admin = app.admin();
    app.wait_for_financing_status(&id_a, &admin, "funded").await;
    let failing = testkit::wait_for(DEADLINE, "evt_b's failed attempt", || async {
        let r = receipt(&app, "evt_b").await;
        (r.attempts >= 1).then_some(r)
    })
    .await;
    assert_eq!(failing.applied_at, None);
    let error = failing.last_error.unwrap_or_default();
    assert!(error.contains("does not read"), "{error}");
    assert!(receipt(&app, "evt_a").await.applied_at.is_some());
    assert_eq!(
        app.financing(&id_b, &admin).await["status"],
        "awaiting_funding"
    );
    // An operator sees it waiting, with its error.
    let report = app.reconciliation().await;
    let waiting = report["waiting_webhooks"].as_array().unwrap();
    assert_eq!(waiting.len(), 1, "{report}");
    assert_eq!(waiting[0]["event_key"], "evt_b");
    assert_eq!(waiting[0]["attempts"], 1);

    // Mended; its retry is due 2 s after the failure (the injected clock).
    {
        use payments::store::entity::webhook_receipt::{Column, Entity};
        use sea_orm::sea_query::Expr;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        Entity::update_many()
            .col_expr(Column::Effect, Expr::value(paid.clone()))
            .filter(Column::EventKey.eq("evt_b"))
            .exec(db)
            .await
            .unwrap();
    }
    app.advance(chrono::Duration::seconds(3));
    app.wait_for_financing_status(&id_b, &admin, "funded").await;
    let mended = receipt(&app, "evt_b").await;
    assert!(mended.applied_at.is_some());
    assert_eq!(mended.last_error, None);
    let tb = app.trial_balance().await;
    assert_eq!(tb["broken"], json!([]), "{tb}");
    assert_eq!(tb["currencies"][0]["assets_minor"], 2 * PRICE);
}

#[tokio::test]
async fn left_behind_deliveries_are_applied_and_a_failing_one_waits_postgres() {
    left_behind_deliveries_are_applied_and_a_failing_one_waits(DbKind::Postgres).await;
}

#[tokio::test]
async fn left_behind_deliveries_are_applied_and_a_failing_one_waits_sqlite() {
    left_behind_deliveries_are_applied_and_a_failing_one_waits(DbKind::Sqlite).await;
}
