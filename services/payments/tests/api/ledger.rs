//! The ledger's admin routes and reconciliation: accounts and entries in cursor pages,
//! only for admins; a funding whose webhook never came is found by the sweep's verify.

use serde_json::{Value, json};

use crate::helpers::{FEE, PRICE, accepted, spawn_app};

#[tokio::test]
async fn a_lost_webhook_is_reconciled_and_the_ledger_pages_through_its_accounts() {
    let app = spawn_app().await;
    let (seller, investor) = (app.seller(), app.investor());
    let f = app.open(&accepted(&seller, &investor), &investor).await;
    let id = f["id"].as_str().unwrap().to_owned();
    let checkout: Value = app.checkout(&id, &investor).await.json().await.unwrap();
    // The provider's webhook never arrives.
    app.sandbox.set_webhook_url(None);
    app.pay(checkout["reference"].as_str().unwrap(), None).await;
    let admin = app.admin();
    // Pending longer than the reconciliation age: listed, then checked by the sweep.
    app.advance(chrono::Duration::minutes(16));
    let admin = app.refreshed(&admin);
    let report = app.reconciliation().await;
    assert_eq!(
        report["stale"][0]["reference"], checkout["reference"],
        "{report}"
    );
    assert_eq!(
        app.get(
            "/api/payments/reconciliation",
            &app.refreshed(&investor).token
        )
        .await
        .status(),
        403
    );
    payments::jobs::sweep::run_once(&app.state).await.unwrap();
    app.wait_for_financing_status(&id, &investor, "funded")
        .await;

    // Accounts: clearing, escrow, fee revenue, seller payable; two per page.
    let mut codes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!(
                "/api/payments/ledger/accounts?limit=2&cursor={}",
                urlencode(c)
            ),
            None => "/api/payments/ledger/accounts?limit=2".to_owned(),
        };
        let page: Value = app.get(&path, &admin.token).await.json().await.unwrap();
        for a in page["items"].as_array().unwrap() {
            codes.push((
                a["code"].as_str().unwrap().to_owned(),
                a["balance_minor"].clone(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let kinds: Vec<&str> = codes
        .iter()
        .map(|(c, _)| c.split(':').next().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "escrow",
            "fee_revenue",
            "provider_clearing",
            "seller_payable"
        ],
        "{codes:?}"
    );
    assert_eq!(codes[1].1, json!(FEE));
    assert_eq!(codes[2].1, json!(PRICE));
    // The clearing account's one entry.
    let accounts: Value = app
        .get("/api/payments/ledger/accounts?limit=200", &admin.token)
        .await
        .json()
        .await
        .unwrap();
    let clearing = accounts["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["code"] == "provider_clearing")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let entries: Value = app
        .get(
            &format!("/api/payments/ledger/accounts/{clearing}/entries"),
            &admin.token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(entries["items"].as_array().unwrap().len(), 1);
    assert_eq!(entries["items"][0]["side"], "debit");
    // A pooled account: no running balance on its entries (the list sums them).
    assert_eq!(entries["items"][0]["balance_after"], Value::Null);
    // Bad pages are refused; the ledger is for admins.
    for (path, status) in [
        ("/api/payments/ledger/accounts?limit=0", 422),
        ("/api/payments/ledger/accounts?limit=201", 422),
        ("/api/payments/ledger/accounts?cursor=nospace", 400),
        ("/api/payments/ledger/accounts?color=red", 422),
        (
            &format!(
                "/api/payments/ledger/accounts?cursor=a%20{}",
                "b".repeat(119)
            ),
            422,
        ),
    ] {
        assert_eq!(app.get(path, &admin.token).await.status(), status, "{path}");
    }
    assert_eq!(
        app.get(
            &format!("/api/payments/ledger/accounts/{clearing}/entries?cursor=x"),
            &admin.token
        )
        .await
        .status(),
        422
    );
    assert_eq!(
        app.get(
            "/api/payments/ledger/accounts",
            &app.refreshed(&seller).token
        )
        .await
        .status(),
        403
    );
}

fn urlencode(s: &str) -> String {
    s.replace(' ', "%20").replace(':', "%3A")
}
