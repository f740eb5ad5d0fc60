use sea_orm::entity::prelude::*;

/// An invoice as admin knows it from `invoice.*` events: its terms and latest status.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invoices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub invoice_id: Uuid,
    pub seller_id: Uuid,
    pub invoice_number: String,
    pub debtor_name: String,
    pub currency: String,
    /// Face value in minor units.
    pub face_minor: i64,
    pub status: String,
    /// The `occurred_at` of the event that set `status` (an older event does not move it).
    pub status_at: ChronoDateTimeUtc,
    /// When it was last submitted for verification.
    pub submitted_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
