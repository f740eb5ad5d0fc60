//! The overdue sweep, driven by the injected clock: funded invoices past due date + grace
//! become overdue, overdue ones past the default grace defaulted.

use chrono::{DateTime, Days, NaiveDate, Utc};
use common::events::Service;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{DEADLINE, TestApp, id_of, offer_reserved, payment_changed, spawn_app};

async fn due_date(app: &TestApp, id: Uuid) -> NaiveDate {
    app.invoice(id).await["due_date"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// `days` after `due`, at `h:m:s` UTC.
fn at(due: NaiveDate, days: u64, h: u32, m: u32, s: u32) -> DateTime<Utc> {
    (due + Days::new(days))
        .and_hms_opt(h, m, s)
        .unwrap()
        .and_utc()
}

async fn sweep(app: &TestApp) -> usize {
    invoice::jobs::sweep::run_once(&app.state).await.unwrap()
}

#[tokio::test]
async fn a_funded_invoice_is_overdue_only_once_its_grace_has_passed() {
    let app = spawn_app().await;
    let seller = app.seller();
    let id = app.funded(&seller, 1).await;
    let due = due_date(&app, id).await;
    assert_eq!(app.config.overdue_grace_days, 3);

    // On the due date, and through the last day of grace: still funded.
    for (days, h, m, s) in [(0, 23, 59, 59), (1, 12, 0, 0), (3, 23, 59, 59)] {
        app.clock.set(at(due, days, h, m, s));
        assert_eq!(sweep(&app).await, 0, "due + {days} days");
        assert_eq!(app.invoice(id).await["status"], "funded");
    }

    let seller = app.refreshed(&seller);
    assert_eq!(
        app.search("", &seller.token).await["items"][0]["status"],
        "funded"
    );
    let subscriber = service_kit::pubsub::Subscriber::connect(&testkit::redis_url())
        .await
        .unwrap();
    subscriber
        .subscribe(&app.keys.invoice_channel(id))
        .await
        .unwrap();
    let mut live = subscriber.messages();
    app.clock.set(at(due, 4, 0, 0, 0));
    assert_eq!(sweep(&app).await, 1);
    assert_eq!(app.invoice(id).await["status"], "overdue");
    let message = tokio::time::timeout(DEADLINE, live.recv())
        .await
        .expect("a live message for the overdue invoice")
        .unwrap();
    assert_eq!(
        message.json::<serde_json::Value>().unwrap()["status"],
        "overdue"
    );
    subscriber.quit().await.unwrap();
    // Searches see it at once (the page cached above is out of date).
    let seller = app.refreshed(&seller);
    assert_eq!(
        app.search("", &seller.token).await["items"][0]["status"],
        "overdue"
    );
    let history = app.history(id).await;
    let last = history.last().unwrap();
    assert_eq!(last["from"], "funded");
    assert_eq!(last["to"], "overdue");
    assert_eq!(last["actor"], "system");
    assert!(
        last["reason"].as_str().unwrap().contains(&due.to_string()),
        "{last}"
    );
    assert_eq!(
        last["at"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        at(due, 4, 0, 0, 0),
        "stamped by the injected clock"
    );
    testkit::wait_until(
        DEADLINE,
        "invoice.status_changed to overdue for payments",
        || async {
            app.events_on(Service::Payments).await.iter().any(|e| {
                e.event_type == "invoice.status_changed"
                    && e.payload["invoice_id"] == id.to_string()
                    && e.payload["to"] == "overdue"
            })
        },
    )
    .await;

    // A second pass changes nothing more.
    assert_eq!(sweep(&app).await, 0);
    assert_eq!(app.history(id).await.len(), history.len());
}

#[tokio::test]
async fn an_overdue_invoice_defaults_only_once_the_default_grace_has_passed() {
    let app = spawn_app().await;
    let seller = app.seller();
    let id = app.funded(&seller, 1).await;
    let later = id_of(&app.listed(&seller, 2).await);
    let due = due_date(&app, id).await;
    assert_eq!(app.config.default_grace_days, 90);
    app.clock.set(at(due, 4, 0, 0, 0));
    assert_eq!(sweep(&app).await, 1);

    for days in [30, 89, 90] {
        app.clock.set(at(due, days, 23, 59, 59));
        assert_eq!(sweep(&app).await, 0, "due + {days} days");
        assert_eq!(app.invoice(id).await["status"], "overdue");
    }
    app.clock.set(at(due, 91, 0, 0, 0));
    assert_eq!(sweep(&app).await, 1);
    assert_eq!(app.invoice(id).await["status"], "defaulted");
    let history = app.history(id).await;
    let tail: Vec<_> = history[history.len() - 2..]
        .iter()
        .map(|h| (h["from"].clone(), h["to"].clone(), h["actor"].clone()))
        .collect();
    assert_eq!(
        tail,
        [
            (json!("funded"), json!("overdue"), json!("system")),
            (json!("overdue"), json!("defaulted"), json!("system")),
        ]
    );
    // Defaulted is final: a late repayment is not applied.
    app.deliver(&payment_changed(&app, id, "repayment", "succeeded"))
        .await;
    // The consumer takes events in order: once a later one is applied, so was that one.
    app.deliver(&offer_reserved(&app, later)).await;
    app.wait_for_status(later, "accepted").await;
    assert_eq!(app.invoice(id).await["status"], "defaulted");
}

#[tokio::test]
async fn repaying_an_overdue_invoice_makes_it_repaid() {
    let app = spawn_app().await;
    let seller = app.seller();
    let id = app.funded(&seller, 1).await;
    let due = due_date(&app, id).await;
    app.clock.set(at(due, 10, 9, 0, 0));
    assert_eq!(sweep(&app).await, 1);
    assert_eq!(app.invoice(id).await["status"], "overdue");

    app.deliver(&payment_changed(&app, id, "repayment", "succeeded"))
        .await;
    app.wait_for_status(id, "repaid").await;
    let history = app.history(id).await;
    let last = history.last().unwrap();
    assert_eq!(
        (&last["from"], &last["to"], &last["actor"]),
        (&json!("overdue"), &json!("repaid"), &json!("payments"))
    );
    // Long past the default grace, a repaid invoice stays repaid.
    app.clock.set(at(due, 200, 0, 0, 0));
    assert_eq!(sweep(&app).await, 0);
    assert_eq!(app.invoice(id).await["status"], "repaid");
}

#[tokio::test]
async fn the_sweep_leaves_invoices_that_were_never_funded_alone() {
    let app = spawn_app().await;
    let seller = app.seller();
    let draft = id_of(&app.draft(&seller, 1).await);
    let listed = id_of(&app.listed(&seller, 2).await);
    let accepted = id_of(&app.listed(&seller, 3).await);
    app.deliver(&offer_reserved(&app, accepted)).await;
    app.wait_for_status(accepted, "accepted").await;
    let due = due_date(&app, draft).await;

    app.clock.set(at(due, 365, 0, 0, 0));
    assert_eq!(sweep(&app).await, 0);
    for (id, status) in [(draft, "draft"), (listed, "listed"), (accepted, "accepted")] {
        assert_eq!(app.invoice(id).await["status"], status);
    }
}
