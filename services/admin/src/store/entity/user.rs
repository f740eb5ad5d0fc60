use sea_orm::entity::prelude::*;

/// A user as admin knows them from events: who they are, their role, KYC and account
/// standing. Each part is moved only by an event newer than the one that last moved it
/// (`*_at`: the events' `occurred_at`), so events applied out of order end the same.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// Unknown until `user.registered` arrives.
    pub email: Option<String>,
    pub full_name: Option<String>,
    /// Lowercased email and name: what `q` matches.
    pub search: Option<String>,
    /// `seller`, `investor` or `admin`.
    pub role: Option<String>,
    /// `none`, `in_review`, `approved` or `rejected`.
    pub kyc_status: String,
    /// `active` or `suspended`.
    pub status: String,
    pub registered_at: Option<ChronoDateTimeUtc>,
    pub kyc_at: Option<ChronoDateTimeUtc>,
    pub status_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
