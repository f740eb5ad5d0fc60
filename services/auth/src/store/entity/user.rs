use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub email: String,
    pub password_hash: String,
    /// seller | investor | admin
    pub role: String,
    pub full_name: String,
    pub company_name: Option<String>,
    /// none | pending | in_review | approved | rejected (kept from KYC events)
    pub kyc_status: String,
    /// active | suspended
    pub status: String,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

pub const ACTIVE: &str = "active";
pub const SUSPENDED: &str = "suspended";
/// Every value of `status`.
pub const STATUSES: &[&str] = &[ACTIVE, SUSPENDED];
