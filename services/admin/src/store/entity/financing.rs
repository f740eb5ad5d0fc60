use sea_orm::entity::prelude::*;

/// What fee revenue needs: an accepted offer's fee (from `offer.accepted`) and whether
/// its funding succeeded (from `payment.status_changed`), whichever arrives first.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "financings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub offer_id: Uuid,
    pub fee_minor: Option<i64>,
    pub currency: Option<String>,
    /// The funding's `payment.status_changed` (succeeded), once heard.
    pub funding_event_id: Option<Uuid>,
    pub funded_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
