//! Identity-verification provider: does a BVN or NIN exist, and under which name?
//!
//! `KYC_IDENTITY_PROVIDER` picks the provider; only `sandbox` (the default) exists today.
//!
//! # Sandbox rules
//!
//! The [`SandboxVerifier`] calls nobody and answers from the number alone, so every outcome
//! can be produced on purpose in development and tests:
//!
//! | number | outcome |
//! | --- | --- |
//! | `00000000000` | [`IdentityCheckOutcome::NotFound`] |
//! | ends in `99` (e.g. `12345678999`) | [`IdentityCheckOutcome::NameMismatch`], name on record `SANDBOX MISMATCH` |
//! | anything else | [`IdentityCheckOutcome::Verified`] |
//!
//! Identity numbers never reach a log line: [`IdentityCheckRequest`]'s `Debug` hides it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use service_kit::config::{self, ConfigError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdNumberKind {
    /// Bank Verification Number.
    Bvn,
    /// National Identification Number.
    Nin,
}

impl IdNumberKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bvn => "bvn",
            Self::Nin => "nin",
        }
    }
}

/// What is asked of the provider. `number` is 11 digits, already validated by the caller.
#[derive(Clone)]
pub struct IdentityCheckRequest {
    pub kind: IdNumberKind,
    pub number: String,
    pub full_name: String,
}

impl std::fmt::Debug for IdentityCheckRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityCheckRequest")
            .field("kind", &self.kind)
            .field("number", &"***")
            .field("full_name", &self.full_name)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityCheckOutcome {
    Verified,
    NotFound,
    NameMismatch { name_on_record: String },
}

/// An identity provider. An `Err` means "could not ask now" (the check is skipped), not
/// "the number is bad".
#[async_trait::async_trait]
pub trait IdentityVerifier: Send + Sync {
    async fn verify(&self, req: &IdentityCheckRequest) -> anyhow::Result<IdentityCheckOutcome>;
}

/// The default provider: fixed answers by number (see the module's sandbox rules).
#[derive(Debug, Clone, Copy, Default)]
pub struct SandboxVerifier;

impl SandboxVerifier {
    pub const NOT_FOUND_NUMBER: &'static str = "00000000000";
    pub const MISMATCH_SUFFIX: &'static str = "99";
    pub const MISMATCH_NAME: &'static str = "SANDBOX MISMATCH";

    pub fn outcome(number: &str) -> IdentityCheckOutcome {
        if number == Self::NOT_FOUND_NUMBER {
            IdentityCheckOutcome::NotFound
        } else if number.ends_with(Self::MISMATCH_SUFFIX) {
            IdentityCheckOutcome::NameMismatch {
                name_on_record: Self::MISMATCH_NAME.to_owned(),
            }
        } else {
            IdentityCheckOutcome::Verified
        }
    }
}

#[async_trait::async_trait]
impl IdentityVerifier for SandboxVerifier {
    #[tracing::instrument(skip_all, fields(kind = req.kind.as_str(), provider = "sandbox"))]
    async fn verify(&self, req: &IdentityCheckRequest) -> anyhow::Result<IdentityCheckOutcome> {
        Ok(Self::outcome(&req.number))
    }
}

/// The provider `KYC_IDENTITY_PROVIDER` names (`sandbox`, the default).
pub fn from_env() -> Result<Arc<dyn IdentityVerifier>, ConfigError> {
    provider(&config::string("KYC_IDENTITY_PROVIDER", "sandbox"))
}

/// The provider called `name`.
pub fn provider(name: &str) -> Result<Arc<dyn IdentityVerifier>, ConfigError> {
    match name.trim().to_ascii_lowercase().as_str() {
        "sandbox" => Ok(Arc::new(SandboxVerifier)),
        other => Err(ConfigError {
            name: "KYC_IDENTITY_PROVIDER".into(),
            reason: format!("unknown provider {other:?} (supported: sandbox)"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(number: &str) -> IdentityCheckRequest {
        IdentityCheckRequest {
            kind: IdNumberKind::Bvn,
            number: number.into(),
            full_name: "Ada Obi".into(),
        }
    }

    #[tokio::test]
    async fn the_sandbox_verifies_ordinary_numbers() {
        let outcome = SandboxVerifier
            .verify(&request("22212345678"))
            .await
            .unwrap();
        assert_eq!(outcome, IdentityCheckOutcome::Verified);
    }

    #[tokio::test]
    async fn the_sandbox_knows_no_all_zero_number() {
        let outcome = SandboxVerifier
            .verify(&request("00000000000"))
            .await
            .unwrap();
        assert_eq!(outcome, IdentityCheckOutcome::NotFound);
    }

    #[tokio::test]
    async fn the_sandbox_reports_another_name_for_numbers_ending_in_99() {
        let outcome = SandboxVerifier
            .verify(&request("12345678999"))
            .await
            .unwrap();
        assert_eq!(
            outcome,
            IdentityCheckOutcome::NameMismatch {
                name_on_record: "SANDBOX MISMATCH".into()
            }
        );
        assert_eq!(
            SandboxVerifier::outcome("12345678909"),
            IdentityCheckOutcome::Verified
        );
    }

    #[test]
    fn outcomes_serialize_in_snake_case() {
        let json = |o: &IdentityCheckOutcome| serde_json::to_value(o).unwrap();
        assert_eq!(
            json(&IdentityCheckOutcome::Verified),
            serde_json::json!("verified")
        );
        assert_eq!(
            json(&IdentityCheckOutcome::NotFound),
            serde_json::json!("not_found")
        );
        assert_eq!(
            json(&IdentityCheckOutcome::NameMismatch {
                name_on_record: "X".into()
            }),
            serde_json::json!({"name_mismatch": {"name_on_record": "X"}})
        );
        assert_eq!(serde_json::to_value(IdNumberKind::Nin).unwrap(), "nin");
    }

    #[test]
    fn request_debug_output_never_shows_the_number() {
        let shown = format!("{:?}", request("22212345678"));
        assert!(!shown.contains("22212345678"), "{shown}");
        assert!(shown.contains("Bvn"));
    }

    #[test]
    fn only_the_sandbox_provider_is_configurable() {
        assert!(provider("sandbox").is_ok());
        assert!(provider(" Sandbox ").is_ok());
        let err = provider("smile-identity").err().unwrap();
        assert!(err.to_string().contains("KYC_IDENTITY_PROVIDER"), "{err}");
    }
}
