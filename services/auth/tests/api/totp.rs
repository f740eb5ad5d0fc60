//! An admin's second factor: set up, confirmed, then asked for at every sign-in; codes
//! work once, one step either side of now; only admins have one. Time is the injected
//! clock's.

use auth::domain::totp;
use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_problem, spawn_app, spawn_app_with};

async fn setup(app: &TestApp, token: &str) -> Vec<u8> {
    let res = app.post_auth("/api/auth/totp/setup", token).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let secret = body["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32);
    assert!(
        body["otpauth_uri"]
            .as_str()
            .unwrap()
            .contains(&format!("secret={secret}"))
    );
    assert_eq!(
        (body["digits"].as_u64(), body["period"].as_u64()),
        (Some(6), Some(30))
    );
    totp::from_base32(secret).unwrap()
}

async fn totp_state(app: &TestApp, token: &str) -> Value {
    let res = app.get_auth("/api/auth/totp", token).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn step_now(app: &TestApp) -> i64 {
    use common::clock::Clock;
    totp::step_of(app.clock.now().timestamp())
}

async fn confirm(app: &TestApp, token: &str, code: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/auth/totp/confirm"))
        .bearer_auth(token)
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap()
}

async fn login(app: &TestApp, email: &str, code: Option<&str>) -> reqwest::Response {
    let mut body = json!({"email": email, "password": PASSWORD});
    if let Some(code) = code {
        body["totp_code"] = json!(code);
    }
    app.post("/api/auth/login", &body).await
}

/// An admin with a confirmed second factor: (email, secret, the step confirmed with).
async fn admin_with_factor(app: &TestApp) -> (String, Vec<u8>, i64) {
    let (email, token) = app.admin().await;
    let secret = setup(app, &token).await;
    let step = step_now(app);
    let res = confirm(app, &token, &totp::code_at(&secret, step)).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({"enabled": true, "pending": false}));
    (email, secret, step)
}

#[tokio::test]
async fn once_confirmed_sign_in_asks_for_a_code_and_takes_each_once() {
    for kind in [testkit::DbKind::Postgres, testkit::DbKind::Sqlite] {
        let app = spawn_app_with(kind, |_| {}).await;
        let (email, secret, confirmed_at) = admin_with_factor(&app).await;

        // Without a code: 401 naming totp_code, no tokens.
        let body = assert_problem(login(&app, &email, None).await, 401).await;
        assert_eq!(body["errors"][0]["field"], "totp_code", "{body}");
        // The code used to confirm does not work again.
        let code = totp::code_at(&secret, confirmed_at);
        let body = assert_problem(login(&app, &email, Some(&code)).await, 401).await;
        assert_eq!(body["errors"][0]["field"], "totp_code");
        // A wrong password with a right code is still a wrong password.
        let next = totp::code_at(&secret, confirmed_at + 1);
        let res = app
            .post(
                "/api/auth/login",
                &json!({"email": email, "password": "wrong horse 42", "totp_code": next}),
            )
            .await;
        let body = assert_problem(res, 401).await;
        assert!(body.get("errors").is_none(), "{body}");

        // The next step's code works (a step ahead is within the drift), once.
        let res = login(&app, &email, Some(&next)).await;
        assert_eq!(res.status(), 200, "{kind:?}");
        let tokens: Value = res.json().await.unwrap();
        assert!(tokens["access_token"].is_string());
        assert_problem(login(&app, &email, Some(&next)).await, 401).await;

        // Two minutes on: the code of then is stale, the code of now works.
        app.clock.advance(Duration::seconds(120));
        assert_problem(
            login(
                &app,
                &email,
                Some(&totp::code_at(&secret, confirmed_at + 1)),
            )
            .await,
            401,
        )
        .await;
        let now = step_now(&app);
        assert_eq!(
            login(&app, &email, Some(&totp::code_at(&secret, now)))
                .await
                .status(),
            200
        );
        // A code for another secret, and malformed ones (422 naming the field).
        app.clock.advance(Duration::seconds(30));
        let other = totp::new_secret();
        assert_problem(
            login(&app, &email, Some(&totp::code_at(&other, step_now(&app)))).await,
            401,
        )
        .await;
        for bad in ["12345", "abcdef", "1234567"] {
            let body = assert_problem(login(&app, &email, Some(bad)).await, 422).await;
            assert_eq!(body["errors"][0]["field"], "totp_code");
        }
    }
}

#[tokio::test]
async fn concurrent_sign_ins_with_one_code_let_one_through() {
    for kind in [testkit::DbKind::Postgres, testkit::DbKind::Sqlite] {
        let app = spawn_app_with(kind, |c| c.login_failures.burst = 100).await;
        let (email, secret, confirmed_at) = admin_with_factor(&app).await;
        let code = totp::code_at(&secret, confirmed_at + 1);
        let answers =
            futures::future::join_all((0..10).map(|_| login(&app, &email, Some(&code)))).await;
        let ok = answers.iter().filter(|r| r.status() == 200).count();
        let refused = answers.iter().filter(|r| r.status() == 401).count();
        assert_eq!((ok, refused), (1, 9), "{kind:?}");
    }
}

#[tokio::test]
async fn wrong_codes_count_as_failed_logins() {
    let app = spawn_app().await;
    let (email, secret, confirmed_at) = admin_with_factor(&app).await;
    let limit = app.config.login_failures.burst;
    for _ in 0..limit {
        assert_problem(login(&app, &email, Some("000000")).await, 401).await;
    }
    // Past the limit, even the right code is refused for now.
    let right = totp::code_at(&secret, confirmed_at + 1);
    let res = login(&app, &email, Some(&right)).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().get("retry-after").is_some());
}

#[tokio::test]
async fn set_up_and_confirmation_are_checked() {
    let app = spawn_app().await;
    let (_, token) = app.admin().await;

    assert_eq!(
        totp_state(&app, &token).await,
        json!({"enabled": false, "pending": false})
    );
    // Nothing to confirm yet.
    assert_problem(confirm(&app, &token, "123456").await, 409).await;
    let first = setup(&app, &token).await;
    // A new set-up replaces the pending secret: the first one's codes no longer work.
    let second = setup(&app, &token).await;
    assert_ne!(first, second);
    assert_eq!(
        totp_state(&app, &token).await,
        json!({"enabled": false, "pending": true})
    );
    let step = step_now(&app);
    let body = assert_problem(
        confirm(&app, &token, &totp::code_at(&first, step)).await,
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "code");
    let body = assert_problem(confirm(&app, &token, "12 456").await, 422).await;
    assert_eq!(body["errors"][0]["field"], "code");
    assert_eq!(
        confirm(&app, &token, &totp::code_at(&second, step))
            .await
            .status(),
        200
    );
    // On: no second set-up, no second confirmation.
    assert_problem(app.post_auth("/api/auth/totp/setup", &token).await, 409).await;
    assert_problem(
        confirm(&app, &token, &totp::code_at(&second, step + 1)).await,
        409,
    )
    .await;
    assert_eq!(
        totp_state(&app, &token).await,
        json!({"enabled": true, "pending": false})
    );
}

#[tokio::test]
async fn only_admins_have_a_second_factor_and_tokens_are_checked() {
    let app = spawn_app().await;
    for role in ["seller", "investor"] {
        let (_, token, _) = app.user(role).await;
        assert_problem(app.get_auth("/api/auth/totp", &token).await, 403).await;
        assert_problem(app.post_auth("/api/auth/totp/setup", &token).await, 403).await;
        assert_problem(confirm(&app, &token, "123456").await, 403).await;
    }
    assert_problem(
        app.post_auth("/api/auth/totp/setup", "not-a-token").await,
        401,
    )
    .await;
    let res = app
        .client
        .post(app.url("/api/auth/totp/setup"))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401).await;
}

#[tokio::test]
async fn reset_totp_lets_the_admin_sign_in_with_the_password_again() {
    let app = spawn_app().await;
    let (email, _, _) = admin_with_factor(&app).await;
    assert_problem(login(&app, &email, None).await, 401).await;
    auth::cli::reset_totp(&app.config, &email).await.unwrap();
    assert_eq!(login(&app, &email, None).await.status(), 200);
}

/// Secrets are stored encrypted (the database alone does not give an admin's codes); one
/// stored plain before encryption still works and is encrypted at the next start-up.
#[tokio::test]
async fn secrets_are_encrypted_at_rest_and_plain_ones_are_encrypted_at_start_up() {
    use auth::store::entity::totp_factor;
    use sea_orm::{ActiveModelTrait, EntityTrait, Set};
    for kind in [testkit::DbKind::Postgres, testkit::DbKind::Sqlite] {
        let app = spawn_app_with(kind, |_| {}).await;
        let (email, secret, confirmed_at) = admin_with_factor(&app).await;
        let db = app._db.connect().await;
        let row = totp_factor::Entity::find().one(&db).await.unwrap().unwrap();
        let base32 = totp::base32(&secret);
        assert!(row.secret.starts_with("v1:"), "{kind:?}: {}", row.secret);
        assert!(!row.secret.contains(&base32));

        // As a secret set up before encryption was kept: plain base32. It still works...
        let mut plain: totp_factor::ActiveModel = row.into();
        plain.secret = Set(base32.clone());
        plain.update(&db).await.unwrap();
        let next = totp::code_at(&secret, confirmed_at + 1);
        assert_eq!(login(&app, &email, Some(&next)).await.status(), 200);
        // ... and start-up encrypts it, with the service's key.
        let cipher = auth::store::totp::cipher(&app.config).unwrap();
        assert_eq!(
            auth::store::totp::encrypt_plain(&db, &cipher)
                .await
                .unwrap(),
            1
        );
        let row = totp_factor::Entity::find().one(&db).await.unwrap().unwrap();
        assert!(row.secret.starts_with("v1:"), "{}", row.secret);
        app.clock.advance(Duration::seconds(60));
        let now = totp::code_at(&secret, step_now(&app));
        assert_eq!(login(&app, &email, Some(&now)).await.status(), 200);
        assert_eq!(
            auth::store::totp::encrypt_plain(&db, &cipher)
                .await
                .unwrap(),
            0,
            "encrypted once"
        );
    }
}
