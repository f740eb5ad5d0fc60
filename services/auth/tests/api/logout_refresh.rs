use serde_json::json;
use testkit::DbKind;

use crate::helpers::{assert_problem, spawn_app, spawn_app_with};

#[tokio::test]
async fn logout_refuses_the_token_at_once_and_ends_the_session() {
    let app = spawn_app().await;
    let (_, access, refresh) = app.user("seller").await;
    assert_eq!(app.get_auth("/api/auth/me", &access).await.status(), 200);
    assert_eq!(
        app.post_auth("/api/auth/logout", &access).await.status(),
        204
    );
    let problem = assert_problem(app.get_auth("/api/auth/me", &access).await, 401).await;
    assert!(problem["detail"].as_str().unwrap().contains("revoked"));
    let res = app
        .post("/api/auth/refresh", &json!({"refresh_token": refresh}))
        .await;
    assert_problem(res, 401).await;
}

#[tokio::test]
async fn refresh_rotates_and_each_refresh_token_works_once() {
    let app = spawn_app().await;
    let (_, _, refresh1) = app.user("investor").await;
    let res = app
        .post("/api/auth/refresh", &json!({"refresh_token": refresh1}))
        .await;
    assert_eq!(res.status(), 200);
    let pair: serde_json::Value = res.json().await.unwrap();
    let refresh2 = pair["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh1, refresh2);
    assert_eq!(
        app.get_auth("/api/auth/me", pair["access_token"].as_str().unwrap())
            .await
            .status(),
        200
    );

    // Presenting the used token again is theft: the whole family dies, refresh2 included.
    let reuse = app
        .post("/api/auth/refresh", &json!({"refresh_token": refresh1}))
        .await;
    let problem = assert_problem(reuse, 401).await;
    assert!(problem["detail"].as_str().unwrap().contains("already used"));
    let after = app
        .post("/api/auth/refresh", &json!({"refresh_token": refresh2}))
        .await;
    assert_problem(after, 401).await;
}

#[tokio::test]
async fn an_unknown_refresh_token_is_refused() {
    let app = spawn_app().await;
    let res = app
        .post("/api/auth/refresh", &json!({"refresh_token": "made-up"}))
        .await;
    assert_problem(res, 401).await;
    let res = app.post("/api/auth/refresh", &json!({})).await;
    assert_problem(res, 422).await;
}

#[tokio::test]
async fn refresh_tokens_expire_on_the_injected_clock() {
    let app = spawn_app().await;
    let (_, _, refresh) = app.user("seller").await;
    app.clock.advance(chrono::Duration::days(31));
    let res = app
        .post("/api/auth/refresh", &json!({"refresh_token": refresh}))
        .await;
    let problem = assert_problem(res, 401).await;
    assert!(problem["detail"].as_str().unwrap().contains("expired"));
}

async fn concurrent_refreshes_of_one_token_succeed_once(kind: DbKind) {
    let app = spawn_app_with(kind, |_| {}).await;
    let (_, _, refresh) = app.user("seller").await;
    let body = json!({"refresh_token": refresh});
    let attempts = (0..12).map(|_| app.post("/api/auth/refresh", &body));
    let statuses: Vec<u16> = futures_join(attempts).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 401),
        "{statuses:?}"
    );
}

async fn futures_join<F>(futs: impl Iterator<Item = F>) -> Vec<u16>
where
    F: std::future::Future<Output = reqwest::Response>,
{
    let handles: Vec<_> = futs.collect();
    let mut out = Vec::new();
    for res in futures::future::join_all(handles).await {
        out.push(res.status().as_u16());
    }
    out
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_succeed_once_on_postgres() {
    concurrent_refreshes_of_one_token_succeed_once(DbKind::Postgres).await;
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_succeed_once_on_sqlite() {
    concurrent_refreshes_of_one_token_succeed_once(DbKind::Sqlite).await;
}
