use sea_orm::entity::prelude::*;

/// A KYC submission as admin knows it: in review until decided.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "kyc_reviews")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub submission_id: Uuid,
    pub user_id: Uuid,
    pub role: Option<String>,
    /// Unknown if the decision arrived first.
    pub submitted_at: Option<ChronoDateTimeUtc>,
    /// `in_review`, `approved` or `rejected`.
    pub state: String,
    pub decided_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
