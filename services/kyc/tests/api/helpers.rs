use std::ops::Deref;
use std::time::Duration;

use common::auth::{KycStatus, Role};
use common::keys::Keys;
use kyc::KycConfig;
use kyc::store::storage::StorageConfig;
use serde_json::Value;
use service_kit::config::BaseConfig;
use service_kit::queue::WorkerConfig;
use service_kit::ratelimit::Quota;
use service_kit::redis::Pool;
use testkit::api::{ApiClient, Running, Spawned, base_config, spawn_service};
use testkit::{DbKind, TestDb};
use uuid::Uuid;

pub use testkit::api::User;

pub const DEADLINE: Duration = Duration::from_secs(20);

#[allow(dead_code)]
pub struct TestApp {
    /// First, so the service is told to stop before anything else is dropped.
    _running: Running,
    /// The address, HTTP client, signing keys and clock, and users and calls with them
    /// (its sellers and investors have no KYC yet).
    pub api: ApiClient,
    pub keys: Keys,
    pub redis: Pool,
    pub config: KycConfig,
    pub db: TestDb,
    pub state: kyc::state::AppState,
    pub dir: tempfile::TempDir,
}

impl Deref for TestApp {
    type Target = ApiClient;

    fn deref(&self) -> &ApiClient {
        &self.api
    }
}

/// Worker timings short enough for tests (a dead worker is noticed within a second).
pub fn fast_worker() -> WorkerConfig {
    WorkerConfig {
        block_timeout: Duration::from_millis(200),
        heartbeat_interval: Duration::from_millis(100),
        heartbeat_ttl: Duration::from_millis(600),
        reaper_interval: Duration::from_millis(200),
        delayed_poll_interval: Duration::from_millis(50),
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        ..WorkerConfig::default()
    }
}

pub fn config(db: &TestDb, data_dir: &std::path::Path) -> KycConfig {
    KycConfig {
        base: BaseConfig {
            data_dir: data_dir.display().to_string(),
            max_body_bytes: 16 * 1024,
            redis_pool_size: 4,
            database_pool_size: None,
            ..base_config("kyc", db)
        },
        storage: StorageConfig::Local {
            dir: data_dir.join("documents"),
        },
        max_upload_bytes: 256 * 1024,
        max_pixels: 1_000_000,
        clamd_addr: None,
        clamd_timeout: Duration::from_secs(5),
        ocr_command: None,
        ocr_timeout: Duration::from_secs(30),
        identity_key: None,
        identity_key_file: data_dir.join("identity.key"),
        generate_identity_key: true,
        worker_in_process: true,
        workers: 1,
        worker: fast_worker(),
        uploads_per_user: Quota {
            burst: 1000,
            period: Duration::from_secs(3600),
        },
        requeue_after: Duration::from_secs(600),
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(DbKind::Postgres, |_| {}).await
}

pub async fn spawn_app_with(kind: DbKind, tweak: impl FnOnce(&mut KycConfig)) -> TestApp {
    let db = TestDb::new(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&db, dir.path());
    tweak(&mut config);
    spawn_with_config(db, dir, config).await
}

pub async fn spawn_with_config(db: TestDb, dir: tempfile::TempDir, config: KycConfig) -> TestApp {
    let prefix = config.base.redis_prefix.clone();
    let Spawned {
        running,
        api,
        redis,
        keys,
        state,
        ..
    } = spawn_service(&prefix, |clock| kyc::build(config.clone(), clock)).await;
    TestApp {
        _running: running,
        api: api.with_kyc(KycStatus::None),
        keys,
        redis,
        config,
        db,
        state,
        dir,
    }
}

impl TestApp {
    /// Uploads `bytes` as `document_type` under `file_name` (a name the service ignores).
    pub async fn upload_named(
        &self,
        token: &str,
        document_type: &str,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> reqwest::Response {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(file_name.to_owned())
            .mime_str("image/jpeg")
            .unwrap();
        let form = reqwest::multipart::Form::new()
            .text("document_type", document_type.to_owned())
            .part("file", part);
        self.client
            .post(self.url("/api/kyc/documents"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn upload(
        &self,
        token: &str,
        document_type: &str,
        bytes: Vec<u8>,
    ) -> reqwest::Response {
        self.upload_named(token, document_type, "document.jpg", bytes)
            .await
    }

    /// Uploads and returns the new document id (asserting 202).
    pub async fn upload_ok(&self, token: &str, document_type: &str, bytes: Vec<u8>) -> Uuid {
        let res = self.upload(token, document_type, bytes).await;
        assert_eq!(res.status(), 202, "upload {document_type}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["status"], "queued");
        body["document_id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn status(&self, token: &str) -> Value {
        let res = self.get("/api/kyc/status", token).await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    /// Waits until the document leaves `queued`; returns its summary from `GET /documents`.
    pub async fn processed(&self, token: &str, document_id: Uuid) -> Value {
        testkit::wait_for(DEADLINE, "the document to be processed", || async {
            let res = self.get("/api/kyc/documents", token).await;
            let body: Value = res.json().await.unwrap();
            body["documents"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["id"] == document_id.to_string() && d["status"] != "queued")
                .cloned()
        })
        .await
    }

    /// Uploads every document `role` needs, waits for each to be accepted.
    pub async fn ready_to_submit(&self, user: &User, role: Role, seed: u8) {
        let types: &[&str] = match role {
            Role::Seller => &["government_id", "business_registration", "proof_of_address"],
            _ => &["government_id", "proof_of_address"],
        };
        for (i, t) in types.iter().enumerate() {
            let bytes = if i % 2 == 0 {
                testkit::fixtures::png(32, 32, seed.wrapping_add(i as u8 * 40))
            } else {
                testkit::fixtures::pdf(&format!("{}-{seed}-{i}", user.id))
            };
            let id = self.upload_ok(&user.token, t, bytes).await;
            let doc = self.processed(&user.token, id).await;
            assert_eq!(doc["status"], "accepted", "{t}: {doc}");
        }
    }

    /// Submits and returns the submission id.
    pub async fn submit_ok(&self, user: &User) -> Uuid {
        let res = self
            .post(
                "/api/kyc/submit",
                &user.token,
                &serde_json::json!({"full_name": "Adaeze Okafor", "bvn": "22212345678"}),
            )
            .await;
        assert_eq!(res.status(), 201, "submit");
        let body: Value = res.json().await.unwrap();
        body["submission_id"].as_str().unwrap().parse().unwrap()
    }
}

pub use testkit::assert_problem;
