//! Why a KYC operation did not happen, in the domain's words. Routes turn it into a
//! problem (the one mapping is in `routes`).

use uuid::Uuid;

use super::SubmissionStatus;

#[derive(Debug, thiserror::Error)]
pub enum KycError {
    #[error("KYC is already approved")]
    AlreadyApproved,
    /// Documents cannot change while a submission waits for its decision.
    #[error("KYC is in review; documents cannot change until it is decided")]
    DocumentsLocked,
    #[error("KYC is already in review")]
    AlreadySubmitted,
    /// What is missing, each with why (`"cac_certificate (not uploaded)"`).
    #[error("every required document must be accepted before submitting: {}", .0.join(", "))]
    MissingDocuments(Vec<String>),
    /// The profile moved between the checks and the write (another submission won).
    #[error("your KYC changed while submitting; check the status and try again")]
    ChangedWhileSubmitting,
    /// No such document, or not the caller's (never "forbidden").
    #[error("no document {0}")]
    NoDocument(Uuid),
    #[error("no submission {0}")]
    NoSubmission(Uuid),
    #[error("document {document} is not part of submission {submission}")]
    NotPartOf { document: Uuid, submission: Uuid },
    #[error("the file of document {0} is no longer stored")]
    FileGone(Uuid),
    #[error("submission {id} is already {status}")]
    AlreadyDecided { id: Uuid, status: SubmissionStatus },
    /// A decision made on version `seen`; the submission is at `version` now and looks
    /// like `current`.
    #[error("the submission changed since version {seen}")]
    Stale {
        seen: i64,
        version: i64,
        current: Box<serde_json::Value>,
    },
    /// The database, the file store, or a stored value that is not one of its column's words.
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}
