use sea_orm::entity::prelude::*;

/// A provider's event, once: `(provider, event_key)` is unique and written in the same
/// transaction as the event's effect, so a redelivery changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_receipts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub provider: String,
    pub event_key: String,
    pub event_type: String,
    pub payment_id: Option<Uuid>,
    pub received_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
