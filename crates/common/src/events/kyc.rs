//! What KYC tells: documents checked, submissions made and decided. Identity numbers are
//! never in these events.

use serde::{Deserialize, Serialize};

use crate::auth::Role;
use crate::ids::{DocumentId, SubmissionId, UserId};

crate::string_enum! {
    /// The documents KYC asks for.
    #[derive(PartialOrd, Ord)]
    pub enum DocumentType {
        GovernmentId = "government_id",
        BusinessRegistration = "business_registration",
        ProofOfAddress = "proof_of_address",
    }
}

crate::string_enum! {
    /// Where an uploaded document stands: queued for its checks, then accepted or rejected.
    pub enum DocumentStatus {
        Queued = "queued",
        Accepted = "accepted",
        Rejected = "rejected",
    }
}

/// `kyc.document_processed`: a document passed (accepted) or failed (rejected, with the
/// reasons) its automatic checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentProcessed {
    pub user_id: UserId,
    pub document_id: DocumentId,
    pub document_type: DocumentType,
    pub status: DocumentStatus,
    #[serde(default)]
    pub reasons: Vec<String>,
}

/// `kyc.submitted`: a user's KYC entered review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KycSubmitted {
    pub user_id: UserId,
    pub submission_id: SubmissionId,
    pub role: Role,
}

/// `kyc.document_downloaded`: an admin downloaded a user's KYC document (a read of
/// personal data: audited like every change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentDownloaded {
    /// Whose document it is.
    pub user_id: UserId,
    pub submission_id: SubmissionId,
    pub document_id: DocumentId,
    pub document_type: DocumentType,
    /// The admin who downloaded it.
    pub downloaded_by: UserId,
}

/// `kyc.approved` and `kyc.rejected` (with a reason): an admin decided a submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KycDecided {
    pub user_id: UserId,
    pub submission_id: SubmissionId,
    pub reviewed_by: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}
