use sea_orm::entity::prelude::*;

/// One uploaded file and what its checks found.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "kyc_documents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    /// government_id | business_registration | proof_of_address
    pub document_type: String,
    /// queued | accepted | rejected
    pub status: String,
    /// Detected from the bytes: image/jpeg | image/png | application/pdf
    pub content_type: String,
    pub size_bytes: i64,
    /// SHA-256 of the bytes as uploaded (hex).
    pub sha256: String,
    /// Where the bytes are (`documents/{userId}/{documentId}`), never a user-given name.
    pub storage_key: String,
    /// high | low
    pub priority: String,
    /// `Vec<CheckResult>`
    pub checks: Json,
    /// `Vec<String>`: why it was rejected, for the user.
    pub reasons: Json,
    /// The same bytes are on file for another user.
    pub flagged: bool,
    pub ocr_text: Option<String>,
    pub ocr_confidence: Option<f64>,
    pub created_at: ChronoDateTimeUtc,
    /// Last time the job was put on the queue (a sweeper re-sends stale ones).
    pub enqueued_at: ChronoDateTimeUtc,
    pub processed_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use common::enums::{BadStoredValue, stored, stored_json};
use common::events::kyc::{DocumentStatus, DocumentType};

impl Model {
    /// The stored `document_type`, or an error naming this row.
    pub fn doc_type(&self) -> Result<DocumentType, BadStoredValue> {
        stored(
            "kyc_documents",
            self.id,
            "document_type",
            &self.document_type,
        )
    }

    /// The stored `status`, or an error naming this row.
    pub fn doc_status(&self) -> Result<DocumentStatus, BadStoredValue> {
        stored("kyc_documents", self.id, "status", &self.status)
    }

    /// The stored `reasons` (a JSON list of strings), or an error naming this row.
    pub fn doc_reasons(&self) -> Result<Vec<String>, BadStoredValue> {
        stored_json("kyc_documents", self.id, "reasons", &self.reasons)
    }

    /// The stored `checks`, or an error naming this row.
    pub fn doc_checks(&self) -> Result<Vec<crate::domain::CheckResult>, BadStoredValue> {
        stored_json("kyc_documents", self.id, "checks", &self.checks)
    }
}
