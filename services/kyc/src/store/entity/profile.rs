use sea_orm::entity::prelude::*;

/// A user's KYC as a whole: one row per user who has uploaded anything.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "kyc_profiles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// seller | investor (from the token at first upload)
    pub role: String,
    /// none | pending | in_review | approved | rejected
    pub status: String,
    /// Bumped by every change; the cached status is only replaced by a newer version.
    pub version: i64,
    pub submission_id: Option<Uuid>,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use common::auth::Role;
use common::enums::{BadStoredValue, stored};

use crate::domain::ProfileStatus;

impl Model {
    /// The stored `status`, or an error naming this row.
    pub fn profile_status(&self) -> Result<ProfileStatus, BadStoredValue> {
        stored("kyc_profiles", self.user_id, "status", &self.status)
    }

    /// The stored `role`, or an error naming this row.
    pub fn profile_role(&self) -> Result<Role, BadStoredValue> {
        stored("kyc_profiles", self.user_id, "role", &self.role)
    }
}
