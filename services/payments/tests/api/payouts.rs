//! The seller's payout: queued when the funding succeeds, waiting (and saying so) until
//! the seller has a payout account, then sent once under the payment's own reference
//! and recorded when the provider says it is final.

use common::events::payments::{PaymentKind, PaymentStatus};
use serde_json::{Value, json};

use crate::helpers::{DEADLINE, FEE, PRICE, TestApp, accepted, spawn_app};

/// A funded financing of `seller` and `investor`; answers its id.
async fn funded(
    app: &TestApp,
    seller: &testkit::api::User,
    investor: &testkit::api::User,
) -> String {
    let f = app.open(&accepted(seller, investor), investor).await;
    let id = f["id"].as_str().unwrap().to_owned();
    let checkout: Value = app.checkout(&id, investor).await.json().await.unwrap();
    app.pay(checkout["reference"].as_str().unwrap(), None).await;
    app.wait_for_financing_status(&id, investor, "funded").await;
    id
}

async fn payout_of(app: &TestApp, seller: &testkit::api::User) -> Value {
    testkit::wait_for(DEADLINE, "the payout", || async {
        let events = app.payment_events().await;
        let payout = events.iter().find(|e| e.kind == PaymentKind::Payout)?;
        let p: Value = app
            .get(
                &format!("/api/payments/payments/{}", payout.payment_id),
                &app.refreshed(seller).token,
            )
            .await
            .json()
            .await
            .ok()?;
        Some(p)
    })
    .await
}

#[tokio::test]
async fn a_payout_waits_for_the_sellers_account_then_is_sent_once() {
    let app = spawn_app().await;
    let (seller, investor) = (app.seller(), app.investor());
    funded(&app, &seller, &investor).await;
    let payout = payout_of(&app, &seller).await;
    let id = payout["id"].as_str().unwrap().to_owned();
    assert_eq!(payout["amount_minor"], PRICE - FEE);
    // No account yet: it waits and says so.
    testkit::wait_until(DEADLINE, "the payout to say it waits", || async {
        let p = payment(&app, &id, &seller.token).await;
        p["status"] == "pending"
            && p["note"]
                .as_str()
                .is_some_and(|n| n.contains("payout account"))
    })
    .await;
    assert_eq!(
        app.get("/api/payments/payout-account", &seller.token)
            .await
            .status(),
        404
    );
    let res = app
        .set_payout_account(
            &seller,
            &json!({"bank_code": "058", "account_number": "0123456789"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let account: Value = res.json().await.unwrap();
    assert_eq!(account["account_name"], "SANDBOX ACCOUNT 6789");
    testkit::wait_until(DEADLINE, "the payout to succeed", || async {
        payment(&app, &id, &seller.token).await["status"] == "succeeded"
    })
    .await;
    let reference = payout["reference"].as_str().unwrap();
    let attempts = app.sandbox.transfer_attempts(reference).unwrap();
    assert_eq!(attempts.executed, 1);
    // The seller is told; settlement.completed (seller) goes out; the ledger balances
    // with nothing left owed to the seller.
    app.payment_events_when("the payout/succeeded event", |events| {
        events
            .iter()
            .any(|e| e.kind == PaymentKind::Payout && e.status == PaymentStatus::Succeeded)
    })
    .await;
    let settled = app.invoice_events("settlement.completed", 1).await;
    assert_eq!(settled.len(), 1, "{settled:?}");
    assert_eq!(settled[0]["kind"], "seller");
    let tb = app.trial_balance().await;
    assert_eq!(tb["broken"], json!([]), "{tb}");
    assert_eq!(tb["currencies"][0]["liabilities_minor"], 0);
    assert_eq!(tb["currencies"][0]["assets_minor"], FEE);
}

#[tokio::test]
async fn a_payout_account_is_checked_and_resolved() {
    let app = spawn_app().await;
    let seller = app.seller();
    let put = |body: Value| {
        let app = &app;
        let token = seller.token.clone();
        async move {
            app.api
                .put("/api/payments/payout-account", &token, &body)
                .await
        }
    };
    for (body, field) in [
        (
            json!({"bank_code": "58", "account_number": "0123456789"}),
            "bank_code",
        ),
        (
            json!({"bank_code": "058", "account_number": "12345"}),
            "account_number",
        ),
        (
            json!({"bank_code": "058", "account_number": "0000000000"}),
            "account_number",
        ),
    ] {
        let res = put(body.clone()).await;
        assert_eq!(res.status(), 422, "{body}");
        let problem: Value = res.json().await.unwrap();
        assert!(problem.to_string().contains(field), "{problem}");
    }
    assert_eq!(
        put(json!({"bank_code": "058", "account_number": "0123456789", "x": 1}))
            .await
            .status(),
        422
    );
    assert_eq!(
        app.set_payout_account(
            &app.admin(),
            &json!({"bank_code": "058", "account_number": "0123456789"})
        )
        .await
        .status(),
        403
    );
}

/// The seller's payout account; answers 200 or the status.
async fn set_account(app: &TestApp, user: &testkit::api::User, number: &str) -> u16 {
    app.set_payout_account(user, &json!({"bank_code": "058", "account_number": number}))
        .await
        .status()
        .as_u16()
}

async fn payment(app: &TestApp, id: &str, token: &str) -> Value {
    app.get(&format!("/api/payments/payments/{id}"), token)
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_failed_payout_is_owed_again_and_sent_once_the_seller_fixes_the_account() {
    let app = spawn_app().await;
    let (seller, investor) = (app.seller(), app.investor());
    // The sandbox fails transfers to accounts ending in 1.
    assert_eq!(set_account(&app, &seller, "0123456781").await, 200);
    funded(&app, &seller, &investor).await;
    let first = payout_of(&app, &seller).await;
    let first_id = first["id"].as_str().unwrap().to_owned();
    testkit::wait_until(DEADLINE, "the first payout to fail", || async {
        payment(&app, &first_id, &seller.token).await["status"] == "failed"
    })
    .await;
    // Owed again: one replacement, same amount, waiting for another account instead of
    // being sent to the failing one again.
    let replacement = app
        .payment_events_when("the replacement payout", |events| {
            events.iter().any(|e| {
                e.kind == PaymentKind::Payout
                    && e.status == PaymentStatus::Pending
                    && e.payment_id.to_string() != first_id
            })
        })
        .await
        .into_iter()
        .find(|e| e.kind == PaymentKind::Payout && e.payment_id.to_string() != first_id)
        .unwrap();
    let second_id = replacement.payment_id.to_string();
    assert_eq!(replacement.amount_minor, PRICE - FEE);
    testkit::wait_until(DEADLINE, "the replacement to say it waits", || async {
        let p = payment(&app, &second_id, &seller.token).await;
        p["status"] == "pending"
            && p["note"]
                .as_str()
                .is_some_and(|n| n.contains("new payout account"))
    })
    .await;
    // Tried once at the failing account, and not again.
    let first_ref = first["reference"].as_str().unwrap();
    let tried = app.sandbox.transfer_attempts(first_ref).unwrap();
    assert_eq!((tried.attempts, tried.executed), (1, 1), "{tried:?}");
    let held = payment(&app, &second_id, &seller.token).await;
    assert_eq!(
        app.sandbox
            .transfer_attempts(held["reference"].as_str().unwrap())
            .map(|t| t.attempts)
            .unwrap_or(0),
        0
    );
    let tb = app.trial_balance().await;
    assert_eq!(tb["broken"], json!([]), "{tb}");
    assert_eq!(
        tb["currencies"][0]["liabilities_minor"],
        PRICE - FEE,
        "{tb}"
    );

    // A new account: the replacement goes, once; nothing is owed any more.
    app.advance(chrono::Duration::seconds(1));
    assert_eq!(set_account(&app, &seller, "0123456780").await, 200);
    testkit::wait_until(DEADLINE, "the replacement to succeed", || async {
        payment(&app, &second_id, &seller.token).await["status"] == "succeeded"
    })
    .await;
    let second = payment(&app, &second_id, &seller.token).await;
    let attempts = app
        .sandbox
        .transfer_attempts(second["reference"].as_str().unwrap())
        .unwrap();
    assert_eq!(attempts.executed, 1);
    let tb = app.trial_balance().await;
    assert_eq!(tb["broken"], json!([]), "{tb}");
    assert_eq!(tb["currencies"][0]["liabilities_minor"], 0, "{tb}");
    assert_eq!(tb["currencies"][0]["assets_minor"], FEE, "{tb}");
    let settled = app.invoice_events("settlement.completed", 1).await;
    assert_eq!(settled.len(), 1, "{settled:?}");
    // Only one replacement of the failed payout, however often its outcome arrives.
    let payouts: Vec<_> = app
        .payment_events()
        .await
        .into_iter()
        .filter(|e| e.kind == PaymentKind::Payout && e.status == PaymentStatus::Pending)
        .collect();
    assert_eq!(payouts.len(), 2, "{payouts:?}");
}

#[tokio::test]
async fn a_payout_goes_to_the_account_of_its_currency() {
    let app = spawn_app().await;
    let (seller, investor) = (app.seller(), app.investor());
    // A naira account does not take a cedi payout: it waits for a cedi account.
    assert_eq!(set_account(&app, &seller, "0123456780").await, 200);
    let mut offer = accepted(&seller, &investor);
    offer.currency = common::money::Currency::GHS;
    let f = app.open(&offer, &investor).await;
    let id = f["id"].as_str().unwrap().to_owned();
    let checkout: Value = app.checkout(&id, &investor).await.json().await.unwrap();
    app.pay(checkout["reference"].as_str().unwrap(), None).await;
    app.wait_for_financing_status(&id, &investor, "funded")
        .await;
    let payout = payout_of(&app, &seller).await;
    let payout_id = payout["id"].as_str().unwrap().to_owned();
    assert_eq!(payout["currency"], "GHS");
    testkit::wait_until(DEADLINE, "the payout to wait for a GHS account", || async {
        let p = payment(&app, &payout_id, &seller.token).await;
        p["status"] == "pending"
            && p["note"]
                .as_str()
                .is_some_and(|n| n.contains("GHS payout account"))
    })
    .await;
    let reference = payout["reference"].as_str().unwrap();
    assert!(app.sandbox.transfer_attempts(reference).is_none());
    assert_eq!(
        app.get("/api/payments/payout-account?currency=GHS", &seller.token)
            .await
            .status(),
        404
    );

    let res = app
        .set_payout_account(
            &seller,
            &json!({"bank_code": "058", "account_number": "0123456780", "currency": "GHS"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let account: Value = res.json().await.unwrap();
    assert_eq!(account["currency"], "GHS");
    testkit::wait_until(DEADLINE, "the cedi payout to succeed", || async {
        payment(&app, &payout_id, &seller.token).await["status"] == "succeeded"
    })
    .await;
    assert_eq!(
        app.sandbox.transfer_attempts(reference).unwrap().executed,
        1
    );
    // Both accounts are kept, one per currency.
    for (query, currency) in [
        ("", "NGN"),
        ("?currency=NGN", "NGN"),
        ("?currency=GHS", "GHS"),
    ] {
        let a: Value = app
            .get(
                &format!("/api/payments/payout-account{query}"),
                &seller.token,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(a["currency"], currency, "{query}");
    }
    for query in ["?currency=XYZ", "?currency=ngn", "?colour=red"] {
        let status = app
            .get(
                &format!("/api/payments/payout-account{query}"),
                &seller.token,
            )
            .await
            .status();
        assert_eq!(status, 422, "{query}");
    }
    let res = app
        .set_payout_account(
            &seller,
            &json!({"bank_code": "058", "account_number": "0123456780", "currency": "XYZ"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let tb = app.trial_balance().await;
    assert_eq!(tb["broken"], json!([]), "{tb}");
}

/// Payouts queued while no worker runs are taken together by the next one (one batch:
/// their payments and accounts read at once, transfers side by side, one transaction
/// for the outcomes): each is sent once and recorded, and the one whose seller has no
/// payout account waits and says so, holding back none of the others.
async fn payouts_taken_together_are_each_sent_once(kind: testkit::DbKind) {
    let app = crate::helpers::spawn_app_with(kind, |c| c.worker_in_process = false).await;
    let sellers: Vec<testkit::api::User> = (0..3).map(|_| app.seller()).collect();
    for s in &sellers {
        assert_eq!(set_account(&app, s, "0123456789").await, 200);
    }
    let without = app.seller();
    let mut financings = Vec::new();
    for s in sellers.iter().chain(&sellers).chain([&without]) {
        financings.push((app.paid(s).await, s));
    }
    for ((id, investor), _) in &financings {
        app.wait_for_financing_status(id, investor, "funded").await;
    }
    let queue = app.keys.settlements_high();
    testkit::wait_until(DEADLINE, "the seven payouts queued", || async {
        service_kit::queue::len(&app.redis, &queue).await.unwrap() == financings.len()
    })
    .await;

    let stop = service_kit::shutdown::CancellationToken::new();
    let worker = tokio::spawn(payments::jobs::settlements::run(
        app.state.clone(),
        stop.clone(),
    ));
    let payouts: Vec<Value> =
        testkit::wait_for(DEADLINE, "six payouts sent, one waiting", || async {
            let mut payouts = Vec::new();
            for ((id, _), seller) in &financings {
                let payout = app.payout(id, seller).await?;
                payouts.push(payout);
            }
            let (sent, waiting) = payouts.split_at(6);
            let done = sent.iter().all(|p| p["status"] == "succeeded")
                && waiting[0]["status"] == "pending"
                && waiting[0]["note"]
                    .as_str()
                    .is_some_and(|n| n.contains("payout account"));
            done.then_some(payouts)
        })
        .await;
    stop.cancel();
    worker.await.unwrap().unwrap();

    for p in &payouts[..6] {
        let reference = p["reference"].as_str().unwrap();
        let a = app.sandbox.transfer_attempts(reference).unwrap();
        assert_eq!(a.executed, 1, "{reference}: {a:?}");
        assert_eq!(p["amount_minor"], PRICE - FEE);
    }
    assert_eq!(app.sandbox.stats().transfers_executed, 6);
    let tb = app.trial_balance().await;
    assert_eq!(tb["broken"], json!([]), "{tb}");
    // The fees are earned at funding; what is still owed is the waiting seller's net.
    assert_eq!(tb["currencies"][0]["revenue_minor"], json!(FEE * 7), "{tb}");
    assert_eq!(
        tb["currencies"][0]["liabilities_minor"],
        json!(PRICE - FEE),
        "{tb}"
    );
}

#[tokio::test]
async fn payouts_taken_together_are_each_sent_once_on_postgres() {
    payouts_taken_together_are_each_sent_once(testkit::DbKind::Postgres).await;
}

#[tokio::test]
async fn payouts_taken_together_are_each_sent_once_on_sqlite() {
    payouts_taken_together_are_each_sent_once(testkit::DbKind::Sqlite).await;
}
