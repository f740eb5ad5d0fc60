use serde_json::json;

use crate::helpers::{PASSWORD, assert_problem, spawn_app};

#[tokio::test]
async fn logging_in_gives_a_bearer_access_token_and_a_refresh_token() {
    let app = spawn_app().await;
    app.register("lo@example.com", "investor").await;
    let tokens = app.login("LO@example.com").await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    let access = tokens["access_token"].as_str().unwrap();
    let me = app.get_auth("/api/auth/me", access).await;
    assert_eq!(me.status(), 200);
    let me: serde_json::Value = me.json().await.unwrap();
    assert_eq!(me["email"], "lo@example.com");
    assert_eq!(me["role"], "investor");
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    app.register("known@example.com", "seller").await;
    let wrong = app
        .post(
            "/api/auth/login",
            &json!({"email": "known@example.com", "password": "wrong password 1"}),
        )
        .await;
    let wrong = assert_problem(wrong, 401).await;
    let unknown = app
        .post(
            "/api/auth/login",
            &json!({"email": "nobody@example.com", "password": PASSWORD}),
        )
        .await;
    let unknown = assert_problem(unknown, 401).await;
    assert_eq!(wrong["detail"], unknown["detail"]);
}

#[tokio::test]
async fn the_jwks_endpoint_publishes_the_signing_key() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/api/auth/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let set: serde_json::Value = res.json().await.unwrap();
    let key = &set["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert!(key["kid"].as_str().unwrap().starts_with('k'));
    assert!(
        key.get("d").is_none(),
        "private part must never be published"
    );
}
