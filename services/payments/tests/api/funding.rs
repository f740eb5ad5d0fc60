//! The funding flow: `offer.accepted` opens the obligation; the investor checks out and
//! pays at the provider; the signed webhook, confirmed by a verify call, funds it; the
//! window closes without payment; a payment after the window is refunded.

use common::events::OfferEvent;
use common::events::payments::{PaymentKind, PaymentStatus};
use serde_json::Value;
use testkit::DbKind;

use crate::helpers::{DEADLINE, FEE, PRICE, accepted, spawn_app, spawn_app_with};

#[tokio::test]
async fn an_accepted_offer_opens_one_funding_obligation_its_parties_see() {
    let app = spawn_app().await;
    let (seller, investor) = (app.seller(), app.investor());
    let o = accepted(&seller, &investor);
    let f = app.open(&o, &investor).await;
    assert_eq!(f["status"], "awaiting_funding");
    assert_eq!(f["price_minor"], PRICE);
    assert_eq!(f["fee_minor"], FEE);
    assert_eq!(f["net_minor"], PRICE - FEE);
    // A redelivery (a new envelope of the same offer) opens nothing more.
    app.deliver(OfferEvent::Accepted(o.clone())).await;
    app.deliver(OfferEvent::Accepted(o.clone())).await;
    testkit::wait_until(DEADLINE, "the redeliveries to be consumed", || async {
        app.events_on(common::events::Service::Payments)
            .await
            .is_empty()
    })
    .await;
    let list: Value = app
        .get("/api/payments/fundings", &investor.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    // The seller sees it; another investor does not.
    assert_ne!(
        app.financing(f["id"].as_str().unwrap(), &seller).await,
        Value::Null
    );
    let other = app.investor();
    assert_eq!(
        app.financing(f["id"].as_str().unwrap(), &other).await,
        Value::Null
    );
    // The investor is told (funding/pending), once.
    let events = app
        .payment_events_when("the funding/pending event", |e| !e.is_empty())
        .await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].kind, PaymentKind::Funding);
    assert_eq!(events[0].status, PaymentStatus::Pending);
    assert_eq!(events[0].amount_minor, PRICE);
}

#[tokio::test]
async fn only_the_investor_checks_out_and_a_repeated_checkout_is_the_same() {
    let app = spawn_app().await;
    let (seller, investor) = (app.seller(), app.investor());
    let f = app.open(&accepted(&seller, &investor), &investor).await;
    let id = f["id"].as_str().unwrap();
    assert_eq!(app.checkout(id, &seller).await.status(), 403);
    assert_eq!(app.checkout(id, &app.investor()).await.status(), 404);
    let first: Value = app.checkout(id, &investor).await.json().await.unwrap();
    assert!(
        first["authorization_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!(
                "/checkout/{}",
                first["reference"].as_str().unwrap()
            )),
        "{first}"
    );
    let again: Value = app.checkout(id, &investor).await.json().await.unwrap();
    assert_eq!(first, again);
    let bad = app
        .api
        .client
        .post(app.url(&format!("/api/payments/fundings/{id}/checkout")))
        .bearer_auth(&investor.token)
        .header("Idempotency-Key", "")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

async fn paying_funds_the_invoice_and_the_ledger_balances(kind: DbKind) {
    let app = spawn_app_with(kind, |_| {}).await;
    let (seller, investor) = (app.seller(), app.investor());
    let f = app.open(&accepted(&seller, &investor), &investor).await;
    let id = f["id"].as_str().unwrap();
    let checkout: Value = app.checkout(id, &investor).await.json().await.unwrap();
    app.pay(checkout["reference"].as_str().unwrap(), None).await;
    app.wait_for_financing_status(id, &investor, "funded").await;
    let payment: Value = app
        .get(
            &format!(
                "/api/payments/payments/{}",
                checkout["payment_id"].as_str().unwrap()
            ),
            &investor.token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(payment["status"], "succeeded");
    assert_eq!(payment["settled_minor"], PRICE);
    // The invoice service is told it is funded, and the seller's payout is pending.
    let events = app
        .payment_events_when("three payment events", |e| e.len() >= 3)
        .await;
    let kinds: Vec<_> = events.iter().map(|e| (e.kind, e.status)).collect();
    assert_eq!(
        kinds,
        [
            (PaymentKind::Funding, PaymentStatus::Pending),
            (PaymentKind::Funding, PaymentStatus::Succeeded),
            (PaymentKind::Payout, PaymentStatus::Pending),
        ]
    );
    assert_eq!(events[2].amount_minor, PRICE - FEE);
    let tb = app.trial_balance().await;
    assert_eq!(tb["broken"], serde_json::json!([]), "{tb}");
    assert_eq!(tb["currencies"][0]["revenue_minor"], FEE);
    assert_eq!(tb["currencies"][0]["liabilities_minor"], PRICE - FEE);
    // Only admins see the ledger.
    assert_eq!(
        app.get("/api/payments/ledger/trial-balance", &investor.token)
            .await
            .status(),
        403
    );
    // The sandbox's webhook was answered 2xx once the effect was committed.
    testkit::wait_until(DEADLINE, "the webhook to be acknowledged", || async {
        app.sandbox.stats().deliveries_sent >= 1
    })
    .await;
}

#[tokio::test]
async fn paying_funds_the_invoice_and_the_ledger_balances_postgres() {
    paying_funds_the_invoice_and_the_ledger_balances(DbKind::Postgres).await;
}

#[tokio::test]
async fn paying_funds_the_invoice_and_the_ledger_balances_sqlite() {
    paying_funds_the_invoice_and_the_ledger_balances(DbKind::Sqlite).await;
}

#[tokio::test]
async fn a_closed_window_expires_the_obligation_and_a_late_payment_is_refunded() {
    let app = spawn_app().await;
    let (seller, investor) = (app.seller(), app.investor());
    let f = app.open(&accepted(&seller, &investor), &investor).await;
    let id = f["id"].as_str().unwrap();
    let checkout: Value = app.checkout(id, &investor).await.json().await.unwrap();
    // 48 h and a minute later, unpaid: the sweep asks the sandbox once more (still
    // pending) and expires it.
    app.advance(chrono::Duration::hours(48) + chrono::Duration::minutes(1));
    payments::jobs::sweep::run_once(&app.state).await.unwrap();
    app.wait_for_financing_status(id, &investor, "expired")
        .await;
    assert_eq!(app.checkout(id, &investor).await.status(), 409);
    let expired: Vec<_> = app
        .payment_events_when("the expiry event", |e| {
            e.iter().any(|e| e.status == PaymentStatus::Expired)
        })
        .await
        .into_iter()
        .filter(|e| e.status == PaymentStatus::Expired)
        .collect();
    assert_eq!(expired.len(), 1, "one expiry event: {expired:?}");
    // The investor pays anyway: the money is owed back, and a refund is pending.
    app.pay(checkout["reference"].as_str().unwrap(), None).await;
    testkit::wait_until(DEADLINE, "a refund to be pending", || async {
        app.payment_events()
            .await
            .iter()
            .any(|e| e.kind == PaymentKind::Refund && e.status == PaymentStatus::Pending)
    })
    .await;
    // The settlement worker refunds it through the charge; then nothing is owed.
    testkit::wait_until(DEADLINE, "the refund to go through", || async {
        app.payment_events()
            .await
            .iter()
            .any(|e| e.kind == PaymentKind::Refund && e.status == PaymentStatus::Succeeded)
    })
    .await;
    assert_eq!(app.financing(id, &investor).await["status"], "expired");
    // The refund is the investor's, and its events say so (notifications tells them).
    let refunds: Vec<_> = app
        .payment_events()
        .await
        .into_iter()
        .filter(|e| e.kind == PaymentKind::Refund)
        .collect();
    assert_eq!(refunds.len(), 2, "{refunds:?}");
    assert!(
        refunds
            .iter()
            .all(|e| e.refund_to == Some(common::events::payments::RefundTo::Investor)),
        "{refunds:?}"
    );
    let tb = app.trial_balance().await;
    assert_eq!(tb["broken"], serde_json::json!([]), "{tb}");
    assert_eq!(tb["currencies"][0]["liabilities_minor"], 0, "{tb}");
    assert_eq!(tb["currencies"][0]["assets_minor"], 0, "{tb}");
    assert_eq!(tb["currencies"][0]["debits_minor"], 2 * PRICE, "{tb}");
}

#[tokio::test]
async fn a_charge_reversed_before_its_success_was_recorded_fails_the_payment() {
    use payments::store::financings;
    use payments::store::outcomes::{self, ChargeOutcome};
    let app = spawn_app().await;
    let (seller, investor) = (app.seller(), app.investor());
    let f = app.open(&accepted(&seller, &investor), &investor).await;
    let id = f["id"].as_str().unwrap().to_owned();
    let checkout: Value = app.checkout(&id, &investor).await.json().await.unwrap();
    let payment_id: uuid::Uuid = checkout["payment_id"].as_str().unwrap().parse().unwrap();
    // What a webhook or the sweep hands over when the provider says "reversed" of a
    // charge this service never saw succeed: no money arrived.
    let txn = service_kit::db::begin_write(&app.state.db).await.unwrap();
    let p = financings::lock_payment(&*txn, payment_id).await.unwrap();
    let changed = outcomes::charge(
        &*txn,
        app.state.clock.as_ref(),
        "sandbox",
        &p,
        &ChargeOutcome::Reversed,
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].status, "failed");
    assert_eq!(
        changed[0].note.as_deref(),
        Some("the provider reports the charge reversed")
    );
    assert_eq!(
        app.financing(&id, &investor).await["status"],
        "awaiting_funding"
    );
    let tb = app.trial_balance().await;
    assert_eq!(tb["broken"], serde_json::json!([]), "{tb}");
    assert_eq!(
        tb["currencies"],
        serde_json::json!([]),
        "nothing posted: {tb}"
    );
}
