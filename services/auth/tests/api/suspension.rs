use serde_json::json;

use crate::helpers::{PASSWORD, assert_problem, spawn_app};

#[tokio::test]
async fn suspension_refuses_every_earlier_token_at_once_and_blocks_login() {
    let app = spawn_app().await;
    let (_, admin) = app.admin().await;
    let (user, access, refresh) = app.user("seller").await;
    let id = user["id"].as_str().unwrap();
    let email = user["email"].as_str().unwrap();

    let res = app
        .post_auth(&format!("/api/auth/users/{id}/suspend"), &admin)
        .await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "suspended");

    assert_problem(app.get_auth("/api/auth/me", &access).await, 401).await;
    let login = app
        .post(
            "/api/auth/login",
            &json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_problem(login, 403).await;
    let res = app
        .post("/api/auth/refresh", &json!({"refresh_token": refresh}))
        .await;
    assert_problem(res, 401).await;

    // Suspending twice is a conflict; reactivating lets the user back in with new tokens,
    // while the old token stays refused.
    assert_problem(
        app.post_auth(&format!("/api/auth/users/{id}/suspend"), &admin)
            .await,
        409,
    )
    .await;
    assert_eq!(
        app.post_auth(&format!("/api/auth/users/{id}/reactivate"), &admin)
            .await
            .status(),
        200
    );
    app.clock.advance(chrono::Duration::milliseconds(5));
    let fresh = app.login(email).await;
    assert_eq!(
        app.get_auth("/api/auth/me", fresh["access_token"].as_str().unwrap())
            .await
            .status(),
        200
    );
    assert_problem(app.get_auth("/api/auth/me", &access).await, 401).await;
}

#[tokio::test]
async fn only_admins_may_suspend_and_unknown_users_are_404() {
    let app = spawn_app().await;
    let (victim, _, _) = app.user("investor").await;
    let (_, seller, _) = app.user("seller").await;
    let id = victim["id"].as_str().unwrap();
    assert_problem(
        app.post_auth(&format!("/api/auth/users/{id}/suspend"), &seller)
            .await,
        403,
    )
    .await;
    let res = app
        .client
        .post(app.url(&format!("/api/auth/users/{id}/suspend")))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401).await;
    let (_, admin) = app.admin().await;
    let ghost = uuid::Uuid::now_v7();
    assert_problem(
        app.post_auth(&format!("/api/auth/users/{ghost}/suspend"), &admin)
            .await,
        404,
    )
    .await;
    assert_problem(
        app.post_auth("/api/auth/users/not-a-uuid/suspend", &admin)
            .await,
        404,
    )
    .await;
    assert_problem(
        app.post_auth(&format!("/api/auth/users/{id}/reactivate"), &admin)
            .await,
        409,
    )
    .await;
}

#[tokio::test]
async fn only_admins_may_reactivate_and_a_refused_reactivation_leaves_the_user_suspended() {
    let app = spawn_app().await;
    let (victim, victim_access, _) = app.user("investor").await;
    let id = victim["id"].as_str().unwrap();
    let email = victim["email"].as_str().unwrap();
    let (_, admin) = app.admin().await;
    let res = app
        .post_auth(&format!("/api/auth/users/{id}/suspend"), &admin)
        .await;
    assert_eq!(res.status(), 200);
    // Neither a seller, nor an investor, nor the suspended user themself.
    let (_, seller, _) = app.user("seller").await;
    let (_, investor, _) = app.user("investor").await;
    for token in [&seller, &investor, &victim_access] {
        let res = app
            .post_auth(&format!("/api/auth/users/{id}/reactivate"), token)
            .await;
        let status = res.status().as_u16();
        assert!(status == 403 || status == 401, "{status}");
        assert_problem(res, status).await;
    }
    let login = app
        .post(
            "/api/auth/login",
            &json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_problem(login, 403).await;
    // The admin can.
    let res = app
        .post_auth(&format!("/api/auth/users/{id}/reactivate"), &admin)
        .await;
    assert_eq!(res.status(), 200);
}
