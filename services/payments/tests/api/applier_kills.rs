//! The webhook applier killed (`kill -9`, real `payments worker` processes) in the middle
//! of its batch ten times while forty accepted deliveries wait: afterwards every
//! financing is funded once, every delivery applied once, and the ledger balances.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use testkit::DbKind;

use crate::helpers::{DEADLINE, PRICE, TestApp, kill9, spawn_app_with, worker};

const FUNDINGS: usize = 40;
const KILLS: usize = 10;

/// Deliveries accepted and not applied.
async fn waiting(app: &TestApp) -> usize {
    payments::store::receipts::unapplied(&app.state.db, 1_000)
        .await
        .unwrap()
        .len()
}

/// Whether an applier's batch transaction is open: its `SELECT ... FOR UPDATE` holds a
/// ROW SHARE lock on `webhook_receipts` until it commits or rolls back (nothing else
/// takes that lock).
async fn batch_open(app: &TestApp) -> bool {
    let row = app
        .state
        .db
        .query_one_raw(Statement::from_string(
            app.state.db.get_database_backend(),
            "SELECT count(*) AS n FROM pg_locks \
             WHERE relation = 'webhook_receipts'::regclass AND mode = 'RowShareLock' AND granted",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap() > 0
}

#[tokio::test]
async fn an_applier_killed_mid_batch_ten_times_applies_each_delivery_once() {
    let app = spawn_app_with(DbKind::Postgres, |c| {
        c.worker_in_process = false;
        c.apply_in_process = false;
    })
    .await;
    let seller = app.seller();
    let mut financings = Vec::new();
    for _ in 0..FUNDINGS {
        // The sandbox's webhook is accepted by the service, and waits: nobody applies.
        financings.push(app.paid(&seller).await.0);
    }
    testkit::wait_until(DEADLINE, "every delivery accepted", || async {
        waiting(&app).await == FUNDINGS
    })
    .await;

    // Start an applier; the moment its batch transaction is open, kill it (-9).
    let mut kills = 0;
    while kills < KILLS {
        let mut w = worker(&app);
        let deadline = tokio::time::Instant::now() + DEADLINE;
        let caught = loop {
            if batch_open(&app).await {
                break true;
            }
            if w.try_wait().unwrap().is_some() || tokio::time::Instant::now() > deadline {
                break false;
            }
        };
        kill9(&mut w);
        assert!(caught, "the applier's batch was never seen open");
        kills += 1;
        // The dead backend's transaction is rolled back once PostgreSQL sees it gone.
        testkit::wait_until(DEADLINE, "the killed batch to be rolled back", || async {
            !batch_open(&app).await
        })
        .await;
    }
    let rolled_back = waiting(&app).await;

    // A last applier applies what is left.
    let mut w = worker(&app);
    testkit::wait_until(
        Duration::from_secs(60),
        "every delivery applied",
        || async { waiting(&app).await == 0 },
    )
    .await;
    kill9(&mut w);
    assert_eq!(
        rolled_back, FUNDINGS,
        "a killed batch must leave everything it took unapplied"
    );

    let admin = app.admin();
    for id in &financings {
        let d: Value = app
            .get(&format!("/api/payments/fundings/{id}"), &admin.token)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(d["status"], "funded", "{d}");
        let fundings: Vec<_> = d["payments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["kind"] == "funding")
            .collect();
        assert_eq!(fundings.len(), 1, "{d}");
        assert_eq!(fundings[0]["status"], "succeeded", "{d}");
    }
    let successes = |e: &[common::events::payments::PaymentStatusChanged]| {
        e.iter()
            .filter(|e| e.status == common::events::payments::PaymentStatus::Succeeded)
            .count()
    };
    let succeeded = successes(
        &app.payment_events_when("every funding's success", |e| successes(e) >= FUNDINGS)
            .await,
    );
    assert_eq!(succeeded, FUNDINGS, "one success event per funding");
    let tb = app.trial_balance().await;
    assert_eq!(tb["broken"], json!([]), "{tb}");
    assert_eq!(
        tb["currencies"][0]["assets_minor"],
        json!(PRICE * FUNDINGS as i64),
        "{tb}"
    );
}
