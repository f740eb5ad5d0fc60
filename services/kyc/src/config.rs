//! KYC's settings (environment variables; see README.md for the table).

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use service_kit::config::{self, BaseConfig};
use service_kit::queue::WorkerConfig;
use service_kit::ratelimit::Quota;

use crate::store::storage::StorageConfig;

#[derive(Debug, Clone)]
pub struct KycConfig {
    pub base: BaseConfig,
    pub storage: StorageConfig,
    /// Largest accepted file (bytes).
    pub max_upload_bytes: usize,
    /// Largest accepted image (width × height): no decompression bombs.
    pub max_pixels: u64,
    /// `host:port` of clamd; unset = virus scan skipped (and recorded as skipped).
    pub clamd_addr: Option<String>,
    pub clamd_timeout: Duration,
    /// The `tesseract` command; unset = OCR skipped.
    pub ocr_command: Option<String>,
    pub ocr_timeout: Duration,
    /// Base64 AES-256 key for identity numbers; else `identity_key_file`.
    pub identity_key: Option<SecretString>,
    pub identity_key_file: PathBuf,
    /// Create the key file when missing (local use; off in Kubernetes).
    pub generate_identity_key: bool,
    /// Run document workers inside `kyc serve` (local use); Kubernetes runs `kyc worker`.
    pub worker_in_process: bool,
    /// Documents processed at once per process.
    pub workers: usize,
    pub worker: WorkerConfig,
    /// Uploads allowed per user.
    pub uploads_per_user: Quota,
    /// A document still queued this long after its last enqueue is enqueued again.
    pub requeue_after: Duration,
}

impl KycConfig {
    /// The defaults on `base` (`from_env` starts from them): for tests and
    /// tools that build the service in code.
    pub fn with_base(base: BaseConfig) -> Self {
        let data_dir = PathBuf::from(&base.data_dir);
        Self {
            storage: StorageConfig::Local {
                dir: data_dir.join("kyc-documents"),
            },
            max_upload_bytes: 10 * 1024 * 1024,
            max_pixels: 40_000_000,
            clamd_addr: None,
            clamd_timeout: Duration::from_secs(30),
            ocr_command: None,
            ocr_timeout: Duration::from_secs(60),
            identity_key: None,
            identity_key_file: data_dir.join("kyc-identity.key"),
            generate_identity_key: true,
            worker_in_process: true,
            workers: 2,
            worker: WorkerConfig::default(),
            uploads_per_user: Quota::new(30, Duration::from_secs(3600)),
            requeue_after: Duration::from_secs(600),
            base,
        }
    }

    pub fn from_env() -> anyhow::Result<Self> {
        let base = BaseConfig::from_env("kyc", 8082)?;
        let storage = StorageConfig::from_env(&base.data_dir)?;
        let d = Self::with_base(base);
        let secs = |name: &str, default: Duration| -> Result<Duration, config::ConfigError> {
            Ok(Duration::from_secs(config::parse(name, default.as_secs())?))
        };
        let mut worker = d.worker;
        if let Some(id) = config::var("KYC_WORKER_ID") {
            worker.worker_id = id;
        }
        worker.max_attempts = config::parse("KYC_JOB_MAX_ATTEMPTS", worker.max_attempts)?;
        Ok(Self {
            storage,
            max_upload_bytes: config::parse("KYC_MAX_UPLOAD_BYTES", d.max_upload_bytes)?,
            max_pixels: config::parse("KYC_MAX_PIXELS", d.max_pixels)?,
            clamd_addr: config::var("CLAMD_ADDR"),
            clamd_timeout: secs("CLAMD_TIMEOUT_SECS", d.clamd_timeout)?,
            ocr_command: config::var("KYC_OCR_COMMAND"),
            ocr_timeout: secs("KYC_OCR_TIMEOUT_SECS", d.ocr_timeout)?,
            identity_key: config::secret("KYC_IDENTITY_KEY"),
            identity_key_file: config::var("KYC_IDENTITY_KEY_FILE")
                .map_or(d.identity_key_file, PathBuf::from),
            generate_identity_key: config::flag(
                "KYC_GENERATE_IDENTITY_KEY",
                d.generate_identity_key,
            )?,
            worker_in_process: config::flag("KYC_WORKER_IN_PROCESS", d.worker_in_process)?,
            workers: config::parse("KYC_WORKERS", d.workers)?,
            worker,
            uploads_per_user: Quota {
                burst: config::parse("KYC_UPLOADS_BURST", d.uploads_per_user.burst)?,
                period: secs("KYC_UPLOADS_PERIOD_SECS", d.uploads_per_user.period)?,
            },
            requeue_after: secs("KYC_REQUEUE_AFTER_SECS", d.requeue_after)?,
            base: d.base,
        })
    }
}
