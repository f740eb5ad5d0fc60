//! Repayment and the investor's settlement: the debtor pays through links the seller
//! asks for, in parts; what counts reaches the investor; an over-payment is refunded;
//! when nothing is outstanding and all of it has been passed on, the financing is
//! settled and the ledger shows nothing owed to anyone.

use common::events::payments::{PaymentKind, PaymentStatus, RefundTo};
use serde_json::{Value, json};

use crate::helpers::{DEADLINE, FACE, FEE, PRICE, TestApp, accepted, spawn_app};

async fn link(app: &TestApp, invoice: &str, who: &testkit::api::User) -> reqwest::Response {
    app.api
        .client
        .post(app.url(&format!("/api/payments/invoices/{invoice}/repayment")))
        .bearer_auth(&app.refreshed(who).token)
        .send()
        .await
        .unwrap()
}

async fn put_account(app: &TestApp, who: &testkit::api::User) {
    let res = app
        .set_payout_account(
            who,
            &json!({"bank_code": "058", "account_number": "0123456789"}),
        )
        .await;
    assert_eq!(res.status(), 200);
}

async fn detail(app: &TestApp, id: &str, who: &testkit::api::User) -> Value {
    app.get(
        &format!("/api/payments/fundings/{id}"),
        &app.refreshed(who).token,
    )
    .await
    .json()
    .await
    .unwrap()
}

#[tokio::test]
async fn the_debtor_repays_in_two_parts_the_investor_is_settled_and_the_excess_refunded() {
    let app = spawn_app().await;
    let (seller, investor) = (app.seller(), app.investor());
    let o = accepted(&seller, &investor);
    let invoice = o.invoice_id.to_string();
    let f = app.open(&o, &investor).await;
    let id = f["id"].as_str().unwrap().to_owned();
    // Not funded yet: no link.
    assert_eq!(link(&app, &invoice, &seller).await.status(), 409);
    // Only the invoice's seller or an admin asks; another seller's invoice is not found.
    assert_eq!(link(&app, &invoice, &investor).await.status(), 403);
    assert_eq!(link(&app, &invoice, &app.seller()).await.status(), 404);
    let checkout: Value = app.checkout(&id, &investor).await.json().await.unwrap();
    app.pay(checkout["reference"].as_str().unwrap(), None).await;
    app.wait_for_financing_status(&id, &investor, "funded")
        .await;
    put_account(&app, &seller).await;
    put_account(&app, &investor).await;

    // First part: 100 000 000 of 150 000 000.
    let first: Value = link(&app, &invoice, &seller).await.json().await.unwrap();
    assert_eq!(first["amount_minor"], FACE);
    app.pay(first["reference"].as_str().unwrap(), Some(100_000_000))
        .await;
    testkit::wait_until(DEADLINE, "the first part to be passed on", || async {
        let d = detail(&app, &id, &investor).await;
        d["repaid_minor"] == 100_000_000 && d["distributed_minor"] == 100_000_000
    })
    .await;
    // Second: a link for what is left; the debtor pays 10 000 000 too much.
    let second: Value = link(&app, &invoice, &app.admin())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["amount_minor"], 50_000_000);
    app.pay(second["reference"].as_str().unwrap(), Some(60_000_000))
        .await;
    app.wait_for_financing_status(&id, &investor, "settled")
        .await;
    testkit::wait_until(DEADLINE, "the excess to be refunded", || async {
        detail(&app, &id, &seller).await["payments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| {
                p["kind"] == "refund"
                    && p["status"] == "succeeded"
                    && p["amount_minor"] == 10_000_000
            })
    })
    .await;
    // The over-payment goes back to the debtor, which its events say (nobody is told).
    let refunds: Vec<_> = app
        .payment_events()
        .await
        .into_iter()
        .filter(|e| e.kind == PaymentKind::Refund)
        .collect();
    assert!(!refunds.is_empty());
    assert!(
        refunds
            .iter()
            .all(|e| e.refund_to == Some(RefundTo::Debtor)),
        "{refunds:?}"
    );
    let d = detail(&app, &id, &seller).await;
    assert_eq!(d["outstanding_minor"], 0);
    assert_eq!(d["distributed_minor"], FACE);
    // Nothing more to pay.
    assert_eq!(link(&app, &invoice, &seller).await.status(), 409);

    // The invoice service heard the repayment leave nothing outstanding, then the
    // investor's settlement of F.
    let events = app
        .payment_events_when("both repayments", |events| {
            events
                .iter()
                .filter(|e| {
                    e.kind == PaymentKind::Repayment && e.status == PaymentStatus::Succeeded
                })
                .count()
                == 2
        })
        .await;
    let repaid: Vec<_> = events
        .iter()
        .filter(|e| e.kind == PaymentKind::Repayment && e.status == PaymentStatus::Succeeded)
        .map(|e| e.outstanding_minor)
        .collect();
    assert_eq!(repaid, [Some(50_000_000), Some(0)]);
    // The seller's payout and the investor's settlement.
    let settlements = app.invoice_events("settlement.completed", 2).await;
    assert!(
        settlements
            .iter()
            .any(|s| s["kind"] == "investor" && s["amount_minor"] == FACE),
        "{settlements:?}"
    );
    // Nothing owed to anyone; the platform holds its fee.
    let tb = app.trial_balance().await;
    assert_eq!(tb["broken"], json!([]), "{tb}");
    assert_eq!(tb["currencies"][0]["liabilities_minor"], 0, "{tb}");
    assert_eq!(tb["currencies"][0]["assets_minor"], FEE, "{tb}");
    assert_eq!(tb["currencies"][0]["revenue_minor"], FEE, "{tb}");
    let _ = PRICE;
}
