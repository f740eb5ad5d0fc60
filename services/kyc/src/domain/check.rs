//! The record of one check on a document or a submission.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckOutcome {
    Passed,
    Failed,
    /// Not configured or not applicable: never counted as passed.
    Skipped,
    /// Passed, with something the reviewer should look at.
    Warning,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CheckResult {
    /// `file_type`, `checksum`, `integrity`, `duplicate`, `virus_scan`, `ocr`,
    /// `identity_bvn`, `identity_nin`, `name_match`
    pub check: String,
    pub outcome: CheckOutcome,
    /// What was found, in words the user or reviewer can read.
    pub detail: String,
}

impl CheckResult {
    pub fn new(check: &str, outcome: CheckOutcome, detail: impl Into<String>) -> Self {
        Self {
            check: check.to_owned(),
            outcome,
            detail: detail.into(),
        }
    }
    pub fn passed(check: &str, detail: impl Into<String>) -> Self {
        Self::new(check, CheckOutcome::Passed, detail)
    }
    pub fn failed(check: &str, detail: impl Into<String>) -> Self {
        Self::new(check, CheckOutcome::Failed, detail)
    }
    pub fn skipped(check: &str, detail: impl Into<String>) -> Self {
        Self::new(check, CheckOutcome::Skipped, detail)
    }
    pub fn warning(check: &str, detail: impl Into<String>) -> Self {
        Self::new(check, CheckOutcome::Warning, detail)
    }
}
