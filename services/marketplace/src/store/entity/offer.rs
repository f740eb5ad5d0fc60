use sea_orm::entity::prelude::*;

/// An investor's offer on a listing, priced when made (or revised).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "offers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub invoice_id: Uuid,
    pub investor_id: Uuid,
    pub seller_id: Uuid,
    /// Annual discount rate in millionths (18.5 % = 185 000).
    pub rate_millionths: i64,
    pub currency: String,
    /// Minor units, all of them.
    pub face_minor: i64,
    pub discount_minor: i64,
    pub price_minor: i64,
    pub fee_minor: i64,
    /// Days from `priced_on` to the due date.
    pub days: i64,
    pub priced_on: Date,
    /// See `offers::OfferStatus`.
    pub status: String,
    pub reason: Option<String>,
    pub expires_at: ChronoDateTimeUtc,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
    /// 1 when placed, bumped by every change (the `ETag`; the seller's decisions name it).
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The row's id, typed.
    pub fn offer_id(&self) -> common::ids::OfferId {
        common::ids::OfferId(self.id)
    }

    /// The offer's invoice, typed.
    pub fn invoice(&self) -> common::ids::InvoiceId {
        common::ids::InvoiceId(self.invoice_id)
    }
}
