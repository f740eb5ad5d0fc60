use sea_orm::entity::prelude::*;

/// The offer an accepted invoice was confirmed for (marketplace's `offer.reserved`), so a
/// reservation marketplace gave up on (`offer.reservation_timed_out`) releases this
/// acceptance and no other. Deleted when the acceptance is released.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invoice_acceptances")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub invoice_id: Uuid,
    pub offer_id: Uuid,
    pub confirmed_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
