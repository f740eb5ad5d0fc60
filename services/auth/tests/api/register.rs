use serde_json::json;

use crate::helpers::{PASSWORD, assert_problem, spawn_app};

#[tokio::test]
async fn registering_returns_the_user_without_any_password() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/api/auth/register",
            &json!({"email": "Ada@Example.com", "password": PASSWORD, "role": "seller",
                    "full_name": "Ada Obi", "company_name": "Obi Textiles"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let text = res.text().await.unwrap();
    assert!(!text.contains(PASSWORD) && !text.contains("argon2") && !text.contains("password"));
    let user: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["role"], "seller");
    assert_eq!(user["kyc_status"], "none");
    assert_eq!(user["company_name"], "Obi Textiles");
}

#[tokio::test]
async fn a_duplicate_email_is_a_conflict() {
    let app = spawn_app().await;
    app.register("dup@example.com", "investor").await;
    let res = app
        .post(
            "/api/auth/register",
            &json!({"email": "DUP@example.com", "password": PASSWORD, "role": "seller", "full_name": "X"}),
        )
        .await;
    assert_problem(res, 409).await;
}

#[tokio::test]
async fn invalid_fields_are_422_problems_naming_each_field() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"email": "not-an-email", "password": PASSWORD, "role": "seller", "full_name": "A"}),
            "email",
        ),
        (
            json!({"email": "a@example.com", "password": "short", "role": "seller", "full_name": "A"}),
            "password",
        ),
        (
            json!({"email": "a@example.com", "password": PASSWORD, "role": "admin", "full_name": "A"}),
            "role",
        ),
        (
            json!({"email": "a@example.com", "password": PASSWORD, "role": "pirate", "full_name": "A"}),
            "role",
        ),
        (
            json!({"email": "a@example.com", "password": PASSWORD, "role": "seller", "full_name": " "}),
            "full_name",
        ),
        (
            json!({"email": "a@example.com", "password": PASSWORD, "role": "seller"}),
            "full_name",
        ),
    ];
    for (body, field) in cases {
        let res = app.post("/api/auth/register", &body).await;
        let problem = assert_problem(res, 422).await;
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{body} -> {problem}");
    }
    // Nothing was stored: the address is still free.
    app.register("a@example.com", "seller").await;
}

#[tokio::test]
async fn malformed_bodies_get_problems_not_framework_text() {
    let app = spawn_app().await;
    let url = app.url("/api/auth/register");
    let res = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_problem(res, 400).await;
    let res = app
        .client
        .post(&url)
        .header("content-type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_problem(res, 415).await;
    let huge = "x".repeat(64 * 1024);
    let res = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body(format!("{{\"email\":\"{huge}\"}}"))
        .send()
        .await
        .unwrap();
    assert_problem(res, 413).await;
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/api/auth/nope"))
        .send()
        .await
        .unwrap();
    assert_problem(res, 404).await;
    // A known path with another method: 405 naming what it accepts.
    let res = app
        .client
        .get(app.url("/api/auth/register"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["allow"], "POST");
    assert_problem(res, 405).await;
    let path = "/api/auth/users/0190b6f4-0000-7000-8000-000000000001/suspend";
    let res = app
        .client
        .request(reqwest::Method::TRACE, app.url(path))
        .send()
        .await
        .unwrap();
    assert_problem(res, 405).await;
}
