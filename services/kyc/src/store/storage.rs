//! Where document bytes live: a local folder (default) or S3-compatible object storage
//! (AWS S3, MinIO, moto), both through `object_store`.
//!
//! Environment (see [`StorageConfig::from_env`]): `KYC_STORAGE` (`local` | `s3`),
//! `KYC_STORAGE_DIR`, `KYC_S3_BUCKET`, `KYC_S3_ENDPOINT`, `KYC_S3_REGION`,
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `KYC_S3_ALLOW_HTTP`.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use secrecy::{ExposeSecret, SecretString};
use service_kit::config::{self, ConfigError};

/// Storage keys are made by the service (`documents/{userId}/{documentId}`), never from a
/// user-given name. Keys are still checked (see [`check_key`]).
///
/// A `get` of a missing key fails with [`StorageError::NotFound`]; tell it apart with
/// [`is_not_found`]. `delete` of a missing key succeeds.
#[async_trait::async_trait]
pub trait DocumentStore: Send + Sync + 'static {
    async fn put(&self, key: &str, bytes: Bytes) -> anyhow::Result<()>;
    async fn get(&self, key: &str) -> anyhow::Result<Bytes>;
    async fn delete(&self, key: &str) -> anyhow::Result<()>;
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("no document stored at {key}")]
    NotFound { key: String },
    #[error("invalid storage key {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    #[error("object storage failed for {key}")]
    Backend {
        key: String,
        #[source]
        source: object_store::Error,
    },
}

/// True when `error` is a [`DocumentStore::get`] of a key that holds nothing.
pub fn is_not_found(error: &anyhow::Error) -> bool {
    matches!(
        error.downcast_ref::<StorageError>(),
        Some(StorageError::NotFound { .. })
    )
}

/// Refuses keys that could leave the store's root or mean two things: empty, a leading
/// `/`, `..` or `.` segments, empty segments (`a//b`, trailing `/`), backslashes and
/// control characters.
pub fn check_key(key: &str) -> Result<Path, StorageError> {
    let invalid = |reason| StorageError::InvalidKey {
        key: key.to_owned(),
        reason,
    };
    if key.is_empty() {
        return Err(invalid("empty"));
    }
    if key.starts_with('/') {
        return Err(invalid("starts with /"));
    }
    if key.contains('\\') {
        return Err(invalid("contains a backslash"));
    }
    if key.chars().any(char::is_control) {
        return Err(invalid("contains a control character"));
    }
    for segment in key.split('/') {
        match segment {
            "" => return Err(invalid("has an empty segment")),
            "." | ".." => return Err(invalid("has a . or .. segment")),
            _ => {}
        }
    }
    Path::parse(key).map_err(|_| invalid("is not a valid object path"))
}

/// The shared implementation: any `object_store` backend.
struct Objects<S> {
    inner: S,
}

impl<S: ObjectStore> Objects<S> {
    async fn put(&self, key: &str, bytes: Bytes) -> anyhow::Result<()> {
        let path = check_key(key)?;
        match self.inner.put(&path, PutPayload::from(bytes)).await {
            Ok(_) => Ok(()),
            // Nothing is "not found" about a write (S3 says so of a missing bucket).
            Err(source) => Err(StorageError::Backend {
                key: key.to_owned(),
                source,
            }
            .into()),
        }
    }

    async fn get(&self, key: &str) -> anyhow::Result<Bytes> {
        let path = check_key(key)?;
        let result = self.inner.get(&path).await.map_err(|e| backend(key, e))?;
        Ok(result.bytes().await.map_err(|e| backend(key, e))?)
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        let path = check_key(key)?;
        match self.inner.delete(&path).await {
            Ok(()) => Ok(()),
            Err(e) if is_missing_object(&e) => Ok(()),
            Err(e) => Err(backend(key, e).into()),
        }
    }
}

/// `object_store` reports every 404 as `NotFound`, a missing S3 bucket included: that one
/// is a configuration error, not a missing document.
fn is_missing_object(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. }) && !e.to_string().contains("NoSuchBucket")
}

fn backend(key: &str, source: object_store::Error) -> StorageError {
    if is_missing_object(&source) {
        StorageError::NotFound {
            key: key.to_owned(),
        }
    } else {
        StorageError::Backend {
            key: key.to_owned(),
            source,
        }
    }
}

/// Documents as files under one folder (`<dir>/documents/<userId>/<documentId>`).
pub struct LocalStore(Objects<LocalFileSystem>);

impl LocalStore {
    /// Creates `dir` when missing.
    pub fn new(dir: impl Into<PathBuf>) -> anyhow::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("create storage folder {}: {e}", dir.display()))?;
        let inner = LocalFileSystem::new_with_prefix(&dir)?.with_automatic_cleanup(true);
        Ok(Self(Objects { inner }))
    }
}

#[async_trait::async_trait]
impl DocumentStore for LocalStore {
    #[tracing::instrument(skip(self, bytes), fields(len = bytes.len()))]
    async fn put(&self, key: &str, bytes: Bytes) -> anyhow::Result<()> {
        self.0.put(key, bytes).await
    }
    #[tracing::instrument(skip(self))]
    async fn get(&self, key: &str) -> anyhow::Result<Bytes> {
        self.0.get(key).await
    }
    #[tracing::instrument(skip(self))]
    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.0.delete(key).await
    }
}

#[derive(Debug, Clone)]
pub struct S3Config {
    pub bucket: String,
    /// For MinIO, moto and the like (path-style requests); unset = AWS S3.
    pub endpoint: Option<String>,
    pub region: String,
    /// Unset = the ambient AWS credentials (instance profile, web identity, ...).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<SecretString>,
    /// Allow a plain-HTTP endpoint (local MinIO or moto only).
    pub allow_http: bool,
}

/// Documents as objects in one S3 bucket.
pub struct S3Store(Objects<object_store::aws::AmazonS3>);

impl S3Store {
    pub fn new(cfg: &S3Config) -> anyhow::Result<Self> {
        // `from_env` first: web-identity (EKS), session tokens and the like come from the
        // standard AWS_* variables; what the config names explicitly wins.
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&cfg.bucket)
            .with_region(&cfg.region)
            .with_allow_http(cfg.allow_http);
        builder = match &cfg.endpoint {
            // Custom endpoints (MinIO, moto) take the bucket in the path.
            Some(endpoint) => builder
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(false),
            None => builder.with_virtual_hosted_style_request(!cfg.bucket.contains('.')),
        };
        if let Some(id) = &cfg.access_key_id {
            builder = builder.with_access_key_id(id);
        }
        if let Some(secret) = &cfg.secret_access_key {
            builder = builder.with_secret_access_key(secret.expose_secret());
        }
        let inner = builder
            .build()
            .map_err(|e| anyhow::anyhow!("S3 storage for bucket {}: {e}", cfg.bucket))?;
        Ok(Self(Objects { inner }))
    }
}

#[async_trait::async_trait]
impl DocumentStore for S3Store {
    #[tracing::instrument(skip(self, bytes), fields(len = bytes.len()))]
    async fn put(&self, key: &str, bytes: Bytes) -> anyhow::Result<()> {
        self.0.put(key, bytes).await
    }
    #[tracing::instrument(skip(self))]
    async fn get(&self, key: &str) -> anyhow::Result<Bytes> {
        self.0.get(key).await
    }
    #[tracing::instrument(skip(self))]
    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.0.delete(key).await
    }
}

#[derive(Debug, Clone)]
pub enum StorageConfig {
    Local { dir: PathBuf },
    S3(S3Config),
}

impl StorageConfig {
    /// `KYC_STORAGE`: `local` (default, `KYC_STORAGE_DIR`, default
    /// `<data_dir>/kyc-documents`) or `s3` (`KYC_S3_BUCKET` required; `KYC_S3_ENDPOINT`;
    /// `KYC_S3_REGION`, default `us-east-1`; `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`;
    /// `KYC_S3_ALLOW_HTTP`, default false).
    pub fn from_env(data_dir: &str) -> Result<Self, ConfigError> {
        let kind = config::string("KYC_STORAGE", "local").to_ascii_lowercase();
        match kind.trim() {
            "local" => Ok(Self::Local {
                dir: config::var("KYC_STORAGE_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(data_dir).join("kyc-documents")),
            }),
            "s3" => Ok(Self::S3(S3Config {
                bucket: config::var("KYC_S3_BUCKET").ok_or_else(|| ConfigError {
                    name: "KYC_S3_BUCKET".into(),
                    reason: "required when KYC_STORAGE=s3".into(),
                })?,
                endpoint: config::var("KYC_S3_ENDPOINT"),
                region: config::string("KYC_S3_REGION", "us-east-1"),
                access_key_id: config::var("AWS_ACCESS_KEY_ID"),
                secret_access_key: config::secret("AWS_SECRET_ACCESS_KEY"),
                allow_http: config::flag("KYC_S3_ALLOW_HTTP", false)?,
            })),
            other => Err(ConfigError {
                name: "KYC_STORAGE".into(),
                reason: format!("expected local or s3, got {other:?}"),
            }),
        }
    }
}

/// The store `cfg` describes.
pub fn from_config(cfg: &StorageConfig) -> anyhow::Result<Arc<dyn DocumentStore>> {
    Ok(match cfg {
        StorageConfig::Local { dir } => Arc::new(LocalStore::new(dir.clone())?),
        StorageConfig::S3(s3) => Arc::new(S3Store::new(s3)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "documents/0190f1c2-aaaa/0190f1c2-bbbb";

    async fn round_trip_delete_and_missing(store: &dyn DocumentStore) {
        store
            .put(KEY, Bytes::from_static(b"%PDF-1.7 first"))
            .await
            .unwrap();
        assert_eq!(store.get(KEY).await.unwrap(), &b"%PDF-1.7 first"[..]);
        store.put(KEY, Bytes::from_static(b"second")).await.unwrap();
        assert_eq!(store.get(KEY).await.unwrap(), &b"second"[..]);

        store.delete(KEY).await.unwrap();
        let err = store.get(KEY).await.unwrap_err();
        assert!(is_not_found(&err), "{err:#}");
        store.delete(KEY).await.unwrap();

        let err = store.get("documents/nobody/nothing").await.unwrap_err();
        assert!(is_not_found(&err), "{err:#}");
    }

    #[tokio::test]
    async fn a_local_store_keeps_returns_and_deletes_documents() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join("created/on/demand")).unwrap();
        round_trip_delete_and_missing(&store).await;
    }

    #[tokio::test]
    async fn a_local_store_writes_under_its_folder_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path()).unwrap();
        store.put(KEY, Bytes::from_static(b"x")).await.unwrap();
        assert_eq!(std::fs::read(dir.path().join(KEY)).unwrap(), b"x");
    }

    #[tokio::test]
    async fn keys_that_could_escape_or_mislead_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path()).unwrap();
        for bad in [
            "",
            "/etc/passwd",
            "documents/../../etc/passwd",
            "..",
            "documents/./x",
            "documents//x",
            "documents/x/",
            "documents\\x",
            "documents/x\n",
        ] {
            let err = store.put(bad, Bytes::from_static(b"x")).await.unwrap_err();
            assert!(
                matches!(
                    err.downcast_ref::<StorageError>(),
                    Some(StorageError::InvalidKey { .. })
                ),
                "{bad:?}: {err:#}"
            );
            assert!(store.get(bad).await.is_err(), "{bad:?}");
            assert!(store.delete(bad).await.is_err(), "{bad:?}");
        }
        assert!(check_key(KEY).is_ok());
    }

    async fn moto_store(moto: &testkit::MotoServer) -> S3Store {
        moto.create_bucket("kyc-documents").await;
        S3Store::new(&S3Config {
            bucket: "kyc-documents".into(),
            endpoint: Some(moto.endpoint()),
            region: testkit::MotoServer::REGION.into(),
            access_key_id: Some(testkit::MotoServer::ACCESS_KEY_ID.into()),
            secret_access_key: Some(testkit::MotoServer::SECRET_ACCESS_KEY.into()),
            allow_http: true,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn an_s3_store_keeps_returns_and_deletes_documents() {
        let moto = testkit::MotoServer::start();
        let store = moto_store(&moto).await;
        round_trip_delete_and_missing(&store).await;
    }

    #[tokio::test]
    async fn an_s3_store_built_from_config_reads_what_another_wrote() {
        let moto = testkit::MotoServer::start();
        let writer = moto_store(&moto).await;
        let cfg = StorageConfig::S3(S3Config {
            bucket: "kyc-documents".into(),
            endpoint: Some(moto.endpoint()),
            region: "us-east-1".into(),
            access_key_id: Some("test".into()),
            secret_access_key: Some("test".into()),
            allow_http: true,
        });
        let reader = from_config(&cfg).unwrap();
        writer
            .put(KEY, Bytes::from_static(b"shared"))
            .await
            .unwrap();
        assert_eq!(reader.get(KEY).await.unwrap(), &b"shared"[..]);
    }

    #[tokio::test]
    async fn an_s3_store_refuses_a_plain_http_endpoint_unless_allowed() {
        let moto = testkit::MotoServer::start();
        moto.create_bucket("kyc-documents").await;
        let store = S3Store::new(&S3Config {
            bucket: "kyc-documents".into(),
            endpoint: Some(moto.endpoint()),
            region: "us-east-1".into(),
            access_key_id: Some("test".into()),
            secret_access_key: Some("test".into()),
            allow_http: false,
        })
        .unwrap();
        let err = store.put(KEY, Bytes::from_static(b"x")).await.unwrap_err();
        assert!(!is_not_found(&err), "{err:#}");
        assert!(format!("{err:#}").contains("scheme"), "{err:#}");
    }

    #[tokio::test]
    async fn a_missing_bucket_is_a_storage_failure_not_a_missing_document() {
        let moto = testkit::MotoServer::start();
        let store = S3Store::new(&S3Config {
            bucket: "never-created".into(),
            endpoint: Some(moto.endpoint()),
            region: "us-east-1".into(),
            access_key_id: Some("test".into()),
            secret_access_key: Some("test".into()),
            allow_http: true,
        })
        .unwrap();
        let err = store.get(KEY).await.unwrap_err();
        assert!(!is_not_found(&err), "{err:#}");
        assert!(format!("{err:#}").contains("NoSuchBucket"), "{err:#}");
        assert!(store.put(KEY, Bytes::from_static(b"x")).await.is_err());
        assert!(store.delete(KEY).await.is_err());
    }
}
