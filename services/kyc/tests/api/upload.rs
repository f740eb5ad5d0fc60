use serde_json::Value;

use crate::helpers::{assert_problem, spawn_app, spawn_app_with};
use testkit::fixtures;

async fn stored_files(app: &crate::helpers::TestApp) -> usize {
    let dir = app.dir.path().join("documents");
    fn count(p: &std::path::Path) -> usize {
        std::fs::read_dir(p)
            .map(|rd| {
                rd.flatten()
                    .map(|e| {
                        let path = e.path();
                        if path.is_dir() { count(&path) } else { 1 }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    count(&dir)
}

async fn document_count(app: &crate::helpers::TestApp, token: &str) -> usize {
    let res = app.get("/api/kyc/documents", token).await;
    let body: Value = res.json().await.unwrap();
    body["documents"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_png_is_queued_then_accepted_with_every_check_recorded() {
    let app = spawn_app().await;
    let seller = app.seller();
    let id = app
        .upload_ok(&seller.token, "government_id", fixtures::png(40, 30, 1))
        .await;
    let doc = app.processed(&seller.token, id).await;
    assert_eq!(doc["status"], "accepted", "{doc}");
    assert_eq!(doc["reasons"], serde_json::json!([]));

    let res = app
        .get(&format!("/api/kyc/documents/{id}"), &seller.token)
        .await;
    assert_eq!(res.status(), 200);
    let full: Value = res.json().await.unwrap();
    assert_eq!(full["content_type"], "image/png");
    let outcome = |name: &str| {
        full["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == name)
            .map(|c| c["outcome"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no {name} check in {full}"))
    };
    assert_eq!(outcome("file_type"), "passed");
    assert_eq!(outcome("checksum"), "passed");
    assert_eq!(outcome("integrity"), "passed");
    assert_eq!(outcome("duplicate"), "passed");
    // Not configured here: recorded as skipped, never as passed.
    assert_eq!(outcome("virus_scan"), "skipped");
    assert_eq!(outcome("ocr"), "skipped");
}

#[tokio::test]
async fn jpeg_and_pdf_are_accepted_by_their_content() {
    let app = spawn_app().await;
    let investor = app.investor();
    let jpeg = app
        .upload_ok(&investor.token, "government_id", fixtures::jpeg(48, 48, 2))
        .await;
    let pdf = app
        .upload_ok(&investor.token, "proof_of_address", fixtures::pdf("bill"))
        .await;
    assert_eq!(
        app.processed(&investor.token, jpeg).await["status"],
        "accepted"
    );
    assert_eq!(
        app.processed(&investor.token, pdf).await["status"],
        "accepted"
    );
}

#[tokio::test]
async fn a_text_file_named_jpg_is_415_and_nothing_is_stored() {
    let app = spawn_app().await;
    let seller = app.seller();
    let res = app
        .upload_named(
            &seller.token,
            "government_id",
            "passport.jpg",
            b"just some text, honestly".to_vec(),
        )
        .await;
    let body = assert_problem(res, 415).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("JPEG, PNG or PDF"),
        "{body}"
    );
    assert_eq!(stored_files(&app).await, 0);
    assert_eq!(document_count(&app, &seller.token).await, 0);
    assert_eq!(app.status(&seller.token).await["status"], "none");
}

#[tokio::test]
async fn a_file_over_the_size_limit_is_413_and_nothing_is_stored() {
    let app = spawn_app_with(testkit::DbKind::Postgres, |c| c.max_upload_bytes = 4096).await;
    let seller = app.seller();
    let mut big = fixtures::pdf("big");
    big.resize(5000, b' ');
    let res = app.upload(&seller.token, "government_id", big).await;
    assert_problem(res, 413).await;
    assert_eq!(stored_files(&app).await, 0);
    assert_eq!(document_count(&app, &seller.token).await, 0);
}

#[tokio::test]
async fn an_image_over_the_pixel_limit_is_422_before_it_is_decoded() {
    let app = spawn_app_with(testkit::DbKind::Postgres, |c| c.max_pixels = 100 * 100).await;
    let seller = app.seller();
    let res = app
        .upload(&seller.token, "government_id", fixtures::png(101, 100, 3))
        .await;
    let body = assert_problem(res, 422).await;
    assert_eq!(body["errors"][0]["field"], "file", "{body}");
    assert_eq!(stored_files(&app).await, 0);
}

#[tokio::test]
async fn a_truncated_png_is_rejected_by_the_worker_with_a_readable_reason() {
    let app = spawn_app().await;
    let seller = app.seller();
    let id = app
        .upload_ok(&seller.token, "government_id", fixtures::truncated_png())
        .await;
    let doc = app.processed(&seller.token, id).await;
    assert_eq!(doc["status"], "rejected");
    let reasons = doc["reasons"].as_array().unwrap();
    assert!(!reasons.is_empty(), "{doc}");
    assert!(
        reasons.iter().all(|r| r.as_str().unwrap().len() > 10),
        "{doc}"
    );
}

#[tokio::test]
async fn missing_and_invalid_fields_are_422_naming_the_field() {
    let app = spawn_app().await;
    let seller = app.seller();
    let res = app
        .upload(&seller.token, "passport", fixtures::png(8, 8, 1))
        .await;
    let body = assert_problem(res, 422).await;
    assert_eq!(body["errors"][0]["field"], "document_type");

    let form = reqwest::multipart::Form::new().text("document_type", "government_id");
    let res = app
        .client
        .post(app.url("/api/kyc/documents"))
        .bearer_auth(&seller.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let body = assert_problem(res, 422).await;
    assert_eq!(body["errors"][0]["field"], "file");

    let res = app.upload(&seller.token, "government_id", Vec::new()).await;
    assert_problem(res, 422).await;

    let res = app
        .client
        .post(app.url("/api/kyc/documents"))
        .bearer_auth(&seller.token)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(res, 400).await;
    assert_eq!(document_count(&app, &seller.token).await, 0);
}

#[tokio::test]
async fn investors_are_not_asked_for_business_registration() {
    let app = spawn_app().await;
    let investor = app.investor();
    let res = app
        .upload(
            &investor.token,
            "business_registration",
            fixtures::png(8, 8, 1),
        )
        .await;
    let body = assert_problem(res, 422).await;
    assert!(
        body["detail"].as_str().unwrap().contains("investors"),
        "{body}"
    );
}

#[tokio::test]
async fn admins_cannot_upload_and_anonymous_callers_are_401() {
    let app = spawn_app().await;
    let res = app
        .upload(&app.admin().token, "government_id", fixtures::png(8, 8, 1))
        .await;
    assert_problem(res, 403).await;
    let res = app
        .upload("not-a-token", "government_id", fixtures::png(8, 8, 1))
        .await;
    assert_problem(res, 401).await;
    assert_eq!(stored_files(&app).await, 0);
}

#[tokio::test]
async fn uploads_past_the_per_user_quota_are_429_with_retry_after() {
    let app = spawn_app_with(testkit::DbKind::Postgres, |c| c.uploads_per_user.burst = 2).await;
    let seller = app.seller();
    for seed in 0..2 {
        app.upload_ok(&seller.token, "government_id", fixtures::png(8, 8, seed))
            .await;
    }
    let res = app
        .upload(&seller.token, "government_id", fixtures::png(8, 8, 9))
        .await;
    assert!(res.headers().contains_key("retry-after"));
    assert_problem(res, 429).await;
    // Another user is not affected.
    app.upload_ok(&app.seller().token, "government_id", fixtures::png(8, 8, 9))
        .await;
}

#[tokio::test]
async fn a_user_cannot_read_another_users_document() {
    let app = spawn_app().await;
    let owner = app.seller();
    let id = app
        .upload_ok(&owner.token, "government_id", fixtures::png(8, 8, 4))
        .await;
    let other = app.seller();
    let res = app
        .get(&format!("/api/kyc/documents/{id}"), &other.token)
        .await;
    assert_problem(res, 404).await;
    assert_eq!(document_count(&app, &other.token).await, 0);
    let res = app
        .get(&format!("/api/kyc/documents/{id}"), &owner.token)
        .await;
    assert_eq!(res.status(), 200);
}
