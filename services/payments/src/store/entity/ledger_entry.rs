use sea_orm::entity::prelude::*;

/// Immutable: a correction is a reversing posting, never an update.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ledger_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub posting_id: Uuid,
    pub account_id: Uuid,
    pub side: String,
    pub amount_minor: i64,
    /// The account's balance right after this entry; none on a pooled account (its
    /// balance is the sum of its entries).
    pub balance_after: Option<i64>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
