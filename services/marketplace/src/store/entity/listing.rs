use sea_orm::entity::prelude::*;

/// A listed invoice as marketplace knows it from invoice events (never from the invoice
/// tables).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "listings")]
pub struct Model {
    /// The invoice's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub seller_id: Uuid,
    pub invoice_number: String,
    pub debtor_name: String,
    /// Face value in minor units.
    pub face_minor: i64,
    pub currency: String,
    pub due_date: Date,
    /// The invoice's status as last heard (`listed`, `accepted`, `funded`, `cancelled`, ...).
    pub status: String,
    /// The claim of the acceptance saga: set by exactly one accept (conditional update
    /// `WHERE reserved_offer_id IS NULL`), cleared when the saga releases it.
    pub reserved_offer_id: Option<Uuid>,
    pub accepted_offer_id: Option<Uuid>,
    /// Pending and reserved offers.
    pub active_offers: i64,
    pub listed_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
