use sea_orm::entity::prelude::*;

/// One countable fact of an event, for time series: a sign-up, a KYC decision, a listing
/// (face value), an offer, a funding (price), a repayment, fee revenue. `(event_id,
/// metric)` is unique.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "facts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub metric: String,
    /// For money; none for counts.
    pub currency: Option<String>,
    /// Minor units for money, 1 for a count (a reversal is negative).
    pub amount: i64,
    /// The UTC day of the event's `occurred_at`.
    pub day: Date,
    pub at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
