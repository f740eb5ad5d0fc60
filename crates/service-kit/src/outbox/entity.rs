//! The `outbox` table: events written in the transaction of the change that caused them,
//! waiting for the relay.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    /// The envelope's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub event_type: String,
    /// The envelope as JSON text.
    #[sea_orm(column_type = "Text")]
    pub envelope: String,
    pub created_at: DateTimeUtc,
    /// When the relay pushed it; `NULL` while pending.
    pub sent_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
