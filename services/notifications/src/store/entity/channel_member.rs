use sea_orm::entity::prelude::*;

/// A user who may listen to a live channel (`invoice:{id}`, `offer:{id}`, `payment:{id}`),
/// recorded from the events this service consumed: never from what a client claims.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "channel_members")]
pub struct Model {
    /// The channel's name without the Redis prefix, e.g. `offer:0190...`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub channel: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// `seller`, `investor` or `funder` (the investor whose offer was accepted).
    pub relation: String,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
