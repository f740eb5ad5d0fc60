use sea_orm::entity::prelude::*;

/// A request for review: the documents at the time, the declared identity, the verdict.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "kyc_submissions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub role: String,
    /// in_review | approved | rejected
    pub status: String,
    pub full_name: String,
    /// `v1:` AES-256-GCM ciphertext; never the number itself.
    pub bvn_cipher: Option<String>,
    pub nin_cipher: Option<String>,
    /// `Vec<Uuid>`
    pub document_ids: Json,
    /// `Vec<CheckResult>`: identity provider and name checks.
    pub checks: Json,
    /// `Vec<String>`: what the reviewer should look at (never decides alone).
    pub warnings: Json,
    pub reason: Option<String>,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
    /// 1 when submitted, bumped by every change (the `ETag`; an admin's decision names it).
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use common::enums::{BadStoredValue, stored_json};

impl Model {
    /// The stored `document_ids`, or an error naming this row.
    pub fn document_ids(&self) -> Result<Vec<Uuid>, BadStoredValue> {
        stored_json(
            "kyc_submissions",
            self.id,
            "document_ids",
            &self.document_ids,
        )
    }

    /// The stored `checks`, or an error naming this row.
    pub fn submission_checks(&self) -> Result<Vec<crate::domain::CheckResult>, BadStoredValue> {
        stored_json("kyc_submissions", self.id, "checks", &self.checks)
    }

    /// The stored `warnings`, or an error naming this row.
    pub fn submission_warnings(&self) -> Result<Vec<String>, BadStoredValue> {
        stored_json("kyc_submissions", self.id, "warnings", &self.warnings)
    }
}
