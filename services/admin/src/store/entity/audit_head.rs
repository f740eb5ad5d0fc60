use sea_orm::entity::prelude::*;

/// The chain's head: one row (`id` 1), moved by the appender with a conditional update
/// (`WHERE count = <the count it read>`), so two appenders can never fork the chain.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_head")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i16,
    /// Rows in the chain (the newest row's `seq`).
    pub count: i64,
    /// The newest row's hash (`GENESIS` when empty).
    pub hash: String,
    /// The newest row's `recorded_at` (rows are recorded in order: a new row is never
    /// recorded before it).
    pub recorded_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
