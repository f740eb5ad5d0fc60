//! Auth and KYC on one Redis, as in production: the KYC decision reaches the user's
//! next access token.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use auth::AuthConfig;
use base64::Engine;
use e2e::{DEADLINE, Stack};
use kyc::KycConfig;
use serde_json::{Value, json};
use testkit::fixtures;

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn an_approved_users_next_token_says_approved() {
    let mut stack = Stack::new();
    let (base, auth_db) = stack.base("auth").await;
    let auth_config = AuthConfig::with_base(base);
    let auth_app = auth::build(auth_config.clone(), stack.clock.clone())
        .await
        .unwrap();
    let auth_url = stack.serve(auth_app, auth_db);
    let (base, kyc_db) = stack.base("kyc").await;
    let kyc_config = KycConfig {
        workers: 1,
        ..KycConfig::with_base(base)
    };
    let kyc_app = kyc::build(kyc_config, stack.clock.clone()).await.unwrap();
    let kyc_url = stack.serve(kyc_app, kyc_db);
    let clock = stack.clock.clone();
    let http = reqwest::Client::new();

    // Register and log in through auth.
    let email = format!("{}@example.com", uuid::Uuid::new_v4().simple());
    let password = "correct horse 42";
    let res = http
        .post(format!("{auth_url}/api/auth/register"))
        .json(&json!({"email": email, "password": password, "role": "investor", "full_name": "Adaeze Okafor"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let login = |email: String, password: &'static str| {
        let http = http.clone();
        let auth_url = auth_url.clone();
        async move {
            let res = http
                .post(format!("{auth_url}/api/auth/login"))
                .json(&json!({"email": email, "password": password}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            res.json::<Value>().await.unwrap()
        }
    };
    let tokens = login(email.clone(), password).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&access)["kyc"], "none");

    // Upload, process, submit through KYC with auth's token.
    for (t, bytes) in [
        ("government_id", fixtures::png(24, 24, 7)),
        ("proof_of_address", fixtures::pdf("utility bill")),
    ] {
        let form = reqwest::multipart::Form::new()
            .text("document_type", t)
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name("f"),
            );
        let res = http
            .post(format!("{kyc_url}/api/kyc/documents"))
            .bearer_auth(&access)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
    }
    testkit::wait_until(DEADLINE, "both documents accepted", || async {
        let status: Value = http
            .get(format!("{kyc_url}/api/kyc/status"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        status["can_submit"] == true
    })
    .await;
    let res = http
        .post(format!("{kyc_url}/api/kyc/submit"))
        .bearer_auth(&access)
        .json(&json!({"full_name": "Adaeze Okafor", "bvn": "22212345678"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let submission: Value = res.json().await.unwrap();

    // An admin (made the operator's way, logged in through auth) approves in KYC.
    let admin_email = format!("admin-{}@example.com", uuid::Uuid::new_v4().simple());
    auth::cli::create_admin(&auth_config, clock.clone(), &admin_email, password, "Root")
        .await
        .unwrap();
    let admin = login(admin_email, password).await;
    let res = http
        .post(format!(
            "{kyc_url}/api/kyc/submissions/{}/approve",
            submission["submission_id"].as_str().unwrap()
        ))
        .header("if-match", "\"1\"")
        .bearer_auth(admin["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Auth consumes kyc.approved; the next token (after a refresh) carries it.
    let refresh = std::sync::Arc::new(std::sync::Mutex::new(
        tokens["refresh_token"].as_str().unwrap().to_owned(),
    ));
    let approved = testkit::wait_for(DEADLINE, "a refreshed token saying approved", || {
        let http = http.clone();
        let auth_url = auth_url.clone();
        let refresh = refresh.clone();
        async move {
            let current = refresh.lock().unwrap().clone();
            let res = http
                .post(format!("{auth_url}/api/auth/refresh"))
                .json(&json!({"refresh_token": current}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            let pair: Value = res.json().await.unwrap();
            *refresh.lock().unwrap() = pair["refresh_token"].as_str().unwrap().to_owned();
            let access = pair["access_token"].as_str().unwrap().to_owned();
            (claims(&access)["kyc"] == "approved").then_some(access)
        }
    })
    .await;
    let me: Value = http
        .get(format!("{auth_url}/api/auth/me"))
        .bearer_auth(&approved)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["kyc_status"], "approved");
}
