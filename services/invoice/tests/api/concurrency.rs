//! Racing status changes on one invoice: the conditional update lets exactly one through,
//! on both databases, with exactly one history row for it.

use futures::future::join_all;
use serde_json::{Value, json};
use testkit::DbKind;
use uuid::Uuid;

use crate::helpers::{TestApp, User, id_of, spawn_app_with};

const RACERS: usize = 12;

/// A submitted invoice of a new seller's.
async fn submitted(app: &TestApp) -> (User, Uuid) {
    let seller = app.seller();
    let id = id_of(&app.draft(&seller, 1).await);
    app.act(&id.to_string(), "submit", &seller.token).await;
    (seller, id)
}

/// Posts every `(action, token)` at once, each at the version all of them read before;
/// returns each answer's (action, status, body).
async fn race(
    app: &TestApp,
    id: Uuid,
    calls: Vec<(&'static str, String)>,
) -> Vec<(&'static str, u16, Value)> {
    let version = testkit::api::version_of(&app.invoice(id).await);
    let requests = calls.into_iter().map(|(action, token)| async move {
        let res = app
            .post_at(
                &format!("/api/invoices/{id}/{action}"),
                &token,
                version,
                &json!({}),
            )
            .await;
        let status = res.status().as_u16();
        (action, status, res.json::<Value>().await.unwrap())
    });
    join_all(requests).await
}

/// History rows that left `from`.
async fn steps_from(app: &TestApp, id: Uuid, from: &str) -> Vec<Value> {
    app.history(id)
        .await
        .into_iter()
        .filter(|h| h["from"] == from)
        .collect()
}

async fn concurrent_verifications_let_exactly_one_through(kind: DbKind) {
    let app = spawn_app_with(kind, |_| {}).await;
    let (_, id) = submitted(&app).await;
    let calls = (0..RACERS).map(|_| ("verify", app.admin().token)).collect();
    let answers = race(&app, id, calls).await;
    let ok: Vec<_> = answers.iter().filter(|(_, s, _)| *s == 200).collect();
    assert_eq!(ok.len(), 1, "{answers:?}");
    assert_eq!(ok[0].2["status"], "listed");
    for (_, status, body) in answers.iter().filter(|(_, s, _)| *s != 200) {
        assert_eq!(*status, 409, "{body}");
        assert!(
            body["detail"].as_str().unwrap().contains("listed"),
            "{body}"
        );
    }
    assert_eq!(steps_from(&app, id, "submitted").await.len(), 1);
    assert_eq!(app.history(id).await.len(), 3);
    assert_eq!(app.invoice(id).await["status"], "listed");
}

#[tokio::test]
async fn concurrent_verifications_let_exactly_one_through_on_postgres() {
    concurrent_verifications_let_exactly_one_through(DbKind::Postgres).await;
}

#[tokio::test]
async fn concurrent_verifications_let_exactly_one_through_on_sqlite() {
    concurrent_verifications_let_exactly_one_through(DbKind::Sqlite).await;
}

async fn concurrent_cancellations_let_exactly_one_through(kind: DbKind) {
    let app = spawn_app_with(kind, |_| {}).await;
    let (seller, id) = submitted(&app).await;
    let calls = (0..RACERS)
        .map(|_| ("cancel", seller.token.clone()))
        .collect();
    let answers = race(&app, id, calls).await;
    let statuses: Vec<u16> = answers.iter().map(|(_, s, _)| *s).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{answers:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        RACERS - 1,
        "{answers:?}"
    );
    assert_eq!(steps_from(&app, id, "submitted").await.len(), 1);
    assert_eq!(app.history(id).await.len(), 3);
    assert_eq!(app.invoice(id).await["status"], "cancelled");
}

#[tokio::test]
async fn concurrent_cancellations_let_exactly_one_through_on_postgres() {
    concurrent_cancellations_let_exactly_one_through(DbKind::Postgres).await;
}

#[tokio::test]
async fn concurrent_cancellations_let_exactly_one_through_on_sqlite() {
    concurrent_cancellations_let_exactly_one_through(DbKind::Sqlite).await;
}

/// Verifications racing cancellations: exactly one of them moves the invoice out of
/// `submitted`. A cancellation that reads the invoice after a verification committed is a
/// legal second step (listed invoices can be cancelled), so at most one of each kind
/// succeeds and the history holds one row per success.
async fn verifications_racing_cancellations_leave_submitted_once(kind: DbKind) {
    let app = spawn_app_with(kind, |_| {}).await;
    let (seller, id) = submitted(&app).await;
    let calls = (0..RACERS)
        .map(|i| {
            if i % 2 == 0 {
                ("verify", app.admin().token)
            } else {
                ("cancel", seller.token.clone())
            }
        })
        .collect();
    let answers = race(&app, id, calls).await;
    let ok = |action: &str| {
        answers
            .iter()
            .filter(|(a, s, _)| *a == action && *s == 200)
            .count()
    };
    let (verified, cancelled) = (ok("verify"), ok("cancel"));
    assert!(
        answers.iter().all(|(_, s, _)| *s == 200 || *s == 409),
        "{answers:?}"
    );
    assert!(verified <= 1 && cancelled <= 1, "{answers:?}");
    assert!(verified + cancelled >= 1, "{answers:?}");
    let left = steps_from(&app, id, "submitted").await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(
        left[0]["to"],
        if verified == 1 { "listed" } else { "cancelled" }
    );
    assert_eq!(app.history(id).await.len(), 2 + verified + cancelled);
    assert_eq!(
        app.invoice(id).await["status"],
        if cancelled == 1 {
            "cancelled"
        } else {
            "listed"
        }
    );
}

#[tokio::test]
async fn verifications_racing_cancellations_leave_submitted_once_on_postgres() {
    verifications_racing_cancellations_leave_submitted_once(DbKind::Postgres).await;
}

#[tokio::test]
async fn verifications_racing_cancellations_leave_submitted_once_on_sqlite() {
    verifications_racing_cancellations_leave_submitted_once(DbKind::Sqlite).await;
}
