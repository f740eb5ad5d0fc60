use sea_orm::entity::prelude::*;

/// An account's second factor: its TOTP secret (base32, stored encrypted as `v1:...`),
/// pending until a first code confirms it; `last_used_step` is the step of the last code
/// accepted.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "totp_factors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    pub secret: String,
    pub created_at: ChronoDateTimeUtc,
    pub confirmed_at: Option<ChronoDateTimeUtc>,
    pub last_used_step: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
