//! KYC scenarios.
//!
//! Each simulated user signs up through auth (register and login, on start, with the auth
//! scenario's own transactions), then loops: mostly `GET /api/kyc/status` (served from the
//! `kyc:{userId}` cache), now and then an upload of a small generated PNG as its
//! `government_id` (`POST /api/kyc/documents`, multipart; different bytes every time) and
//! a look at its documents (`GET /api/kyc/documents`, a database read that grows with the
//! uploads). Every upload also queues a job for KYC's document workers, which run in the
//! same process (`KYC_WORKERS`) and so take their CPU from the same cores as the requests.

use goose::goose::GooseResponse;
use goose::prelude::*;
use reqwest::multipart::{Form, Part};
use serde::Deserialize;

use crate::auth::{self, weighted};
use crate::png;

/// Relative frequencies in the loop: `STATUS_WEIGHT` status reads for every upload and
/// every documents list.
const STATUS_WEIGHT: usize = 8;
const UPLOAD_WEIGHT: usize = 1;
const DOCUMENTS_WEIGHT: usize = 1;

pub const STATUS_PATH: &str = "/api/kyc/status";
pub const DOCUMENTS_PATH: &str = "/api/kyc/documents";

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario!("Kyc")
            .register_transaction(
                transaction!(register)
                    .set_name("register")
                    .set_on_start()
                    .set_sequence(1),
            )
            .register_transaction(
                transaction!(login)
                    .set_name("login")
                    .set_on_start()
                    .set_sequence(2),
            )
            .register_transaction(weighted(
                transaction!(status).set_name("status"),
                STATUS_WEIGHT,
            ))
            .register_transaction(weighted(
                transaction!(upload).set_name("upload"),
                UPLOAD_WEIGHT,
            ))
            .register_transaction(weighted(
                transaction!(documents).set_name("documents"),
                DOCUMENTS_WEIGHT,
            )),
    ]
}

async fn register(user: &mut GooseUser) -> TransactionResult {
    auth::register(user).await
}

async fn login(user: &mut GooseUser) -> TransactionResult {
    auth::first_login(user).await
}

/// What the loop reads of `GET /status` (enough to know it is the overview).
#[derive(Deserialize)]
struct Overview {
    #[allow(dead_code)]
    status: String,
    #[allow(dead_code)]
    version: i64,
}

/// What the loop reads of `GET /documents`.
#[derive(Deserialize)]
pub struct DocumentList {
    pub documents: Vec<Document>,
}

#[derive(Deserialize)]
pub struct Document {
    pub id: uuid::Uuid,
    pub status: String,
    #[serde(default)]
    pub reasons: Vec<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub processed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The multipart form of one upload: `document_type=government_id` and `file`.
pub fn upload_form(png: Vec<u8>) -> reqwest::Result<Form> {
    let part = Part::bytes(png)
        .file_name("government-id.png")
        .mime_str("image/png")?;
    Ok(Form::new()
        .text("document_type", "government_id")
        .part("file", part))
}

async fn status(user: &mut GooseUser) -> TransactionResult {
    let token = auth::access_token(user).await?;
    let builder = user
        .get_request_builder(&GooseMethod::Get, STATUS_PATH)?
        .bearer_auth(token);
    let request = GooseRequest::builder()
        .path(STATUS_PATH)
        .name("status")
        .expect_status_code(200)
        .set_request_builder(builder)
        .build();
    let response = user.request(request).await?;
    read_json::<Overview>(user, response).await.map(drop)
}

async fn documents(user: &mut GooseUser) -> TransactionResult {
    let token = auth::access_token(user).await?;
    let builder = user
        .get_request_builder(&GooseMethod::Get, DOCUMENTS_PATH)?
        .bearer_auth(token);
    let request = GooseRequest::builder()
        .path(DOCUMENTS_PATH)
        .name("documents")
        .expect_status_code(200)
        .set_request_builder(builder)
        .build();
    let response = user.request(request).await?;
    read_json::<DocumentList>(user, response).await.map(drop)
}

/// A new PNG as the user's government ID: 202 and queued for the workers.
async fn upload(user: &mut GooseUser) -> TransactionResult {
    let token = auth::access_token(user).await?;
    let png = png::png(png::next_seed())
        .map_err(|e| Box::new(TransactionError::from(format!("png: {e}"))))?;
    let form = upload_form(png).map_err(|e| Box::new(TransactionError::from(e)))?;
    let builder = user
        .get_request_builder(&GooseMethod::Post, DOCUMENTS_PATH)?
        .bearer_auth(token)
        .multipart(form);
    let request = GooseRequest::builder()
        .method(GooseMethod::Post)
        .path(DOCUMENTS_PATH)
        .name("upload")
        .expect_status_code(202)
        .set_request_builder(builder)
        .build();
    let response = user.request(request).await?;
    if response.request.status_code == 401 {
        auth::forget_access_token(user)?;
    }
    if let Ok(r) = response.response {
        // Read the answer so that the connection goes back to the pool.
        let _ = r.bytes().await;
    }
    Ok(())
}

/// Reads a 2xx answer's JSON as `T` (a failure if it is not one); after a 401 the user
/// logs in again before its next request.
async fn read_json<T: serde::de::DeserializeOwned>(
    user: &mut GooseUser,
    mut response: GooseResponse,
) -> Result<Option<T>, Box<TransactionError>> {
    if response.request.status_code == 401 {
        auth::forget_access_token(user)?;
    }
    let ok = response.request.success;
    let body = match response.response {
        Ok(r) => r.bytes().await.ok(),
        Err(_) => None,
    };
    if !ok {
        return Ok(None);
    }
    match body.and_then(|b| serde_json::from_slice::<T>(&b).ok()) {
        Some(value) => Ok(Some(value)),
        None => {
            user.set_failure("unreadable JSON answer", &mut response.request, None, None)?;
            Ok(None)
        }
    }
}
