//! The API and the worker as separate processes ("pods") sharing S3-compatible storage
//! (moto's S3 server), and OCR through the real `tesseract`.

use common::auth::Role;
use kyc::store::storage::{S3Config, StorageConfig};
use serde_json::{Value, json};
use service_kit::shutdown::CancellationToken;
use testkit::{DbKind, MotoServer, TestDb};

use crate::helpers::{TestApp, config, spawn_app_with, spawn_with_config};

fn s3(moto: &MotoServer, bucket: &str) -> StorageConfig {
    StorageConfig::S3(S3Config {
        bucket: bucket.into(),
        endpoint: Some(moto.endpoint()),
        region: MotoServer::REGION.into(),
        access_key_id: Some(MotoServer::ACCESS_KEY_ID.into()),
        secret_access_key: Some(MotoServer::SECRET_ACCESS_KEY.to_owned().into()),
        allow_http: true,
    })
}

#[tokio::test]
async fn an_api_pod_and_a_worker_pod_share_documents_through_s3() {
    let moto = MotoServer::start();
    moto.create_bucket("kyc-docs").await;
    let db = TestDb::new(DbKind::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&db, dir.path());
    cfg.storage = s3(&moto, "kyc-docs");
    cfg.worker_in_process = false;
    // Both pods need the same identity key.
    cfg.identity_key = Some(secrecy::SecretString::from(
        "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_owned(),
    ));
    let worker_cfg = cfg.clone();
    let app: TestApp = spawn_with_config(db, dir, cfg).await;

    let worker_stop = CancellationToken::new();
    let worker = tokio::spawn(kyc::run_worker(
        worker_cfg,
        app.clock.clone(),
        worker_stop.clone(),
    ));

    let investor = app.investor();
    app.ready_to_submit(&investor, Role::Investor, 3).await;
    let id = app.submit_ok(&investor).await;
    // Nothing is on the local disk: the bytes are in the bucket.
    assert!(!app.dir.path().join("documents").exists());

    let admin = app.admin();
    let detail: Value = app
        .get(&format!("/api/kyc/submissions/{id}"), &admin.token)
        .await
        .json()
        .await
        .unwrap();
    let doc = &detail["documents"][0];
    let res = app
        .get(doc["download_path"].as_str().unwrap(), &admin.token)
        .await;
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.unwrap();
    assert_eq!(bytes.len() as i64, doc["size_bytes"].as_i64().unwrap());

    worker_stop.cancel();
    worker.await.unwrap().unwrap();
}

#[tokio::test]
async fn ocr_reads_the_government_id_and_a_mismatched_name_only_warns_the_reviewer() {
    let app = spawn_app_with(DbKind::Postgres, |c| {
        c.ocr_command = Some("tesseract".into());
        c.max_pixels = 10_000_000;
    })
    .await;
    let name_png = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/name.png"
    ))
    .unwrap();
    let admin = app.admin();
    for (declared, matches) in [("John Adebayo", true), ("Chidi Nwosu", false)] {
        let investor = app.investor();
        let id = app
            .upload_ok(&investor.token, "government_id", name_png.clone())
            .await;
        let doc = app.processed(&investor.token, id).await;
        assert_eq!(doc["status"], "accepted");
        let proof = app
            .upload_ok(
                &investor.token,
                "proof_of_address",
                testkit::fixtures::pdf(declared),
            )
            .await;
        app.processed(&investor.token, proof).await;
        let res = app
            .post(
                "/api/kyc/submit",
                &investor.token,
                &json!({"full_name": declared, "nin": "12345678901"}),
            )
            .await;
        assert_eq!(res.status(), 201);
        let submission: Value = res.json().await.unwrap();
        let detail: Value = app
            .get(
                &format!(
                    "/api/kyc/submissions/{}",
                    submission["submission_id"].as_str().unwrap()
                ),
                &admin.token,
            )
            .await
            .json()
            .await
            .unwrap();
        let id_doc = detail["documents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["document_type"] == "government_id")
            .unwrap();
        assert!(
            id_doc["ocr_text"]
                .as_str()
                .unwrap()
                .to_uppercase()
                .contains("ADEBAYO"),
            "{id_doc}"
        );
        assert!(id_doc["ocr_confidence"].as_f64().unwrap() > 50.0);
        let name_check = detail["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == "name_match")
            .unwrap();
        if matches {
            assert_eq!(name_check["outcome"], "passed", "{detail}");
        } else {
            assert_eq!(name_check["outcome"], "warning", "{detail}");
            assert!(!detail["warnings"].as_array().unwrap().is_empty());
            assert_eq!(detail["status"], "in_review", "a warning never rejects");
        }
    }
}
