use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invoices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub seller_id: Uuid,
    /// Unique per seller.
    pub invoice_number: String,
    pub debtor_name: String,
    pub debtor_email: Option<String>,
    pub debtor_tax_id: Option<String>,
    /// Minor units (kobo, cents): never a float.
    pub amount_minor: i64,
    /// ISO 4217
    pub currency: String,
    pub issue_date: Date,
    pub due_date: Date,
    pub description: String,
    /// See `domain::InvoiceStatus`.
    pub status: String,
    pub rejection_reason: Option<String>,
    /// Lower-cased (in Rust: SQLite's `lower()` knows ASCII only) number, debtor and
    /// description, for `q`.
    pub search_text: String,
    /// The debtor's name lower-cased, for `debtor`.
    pub debtor_search: String,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
    /// 1 when drafted, bumped by every change (the `ETag`; edits and admins' decisions name it).
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The row's id, typed.
    pub fn invoice_id(&self) -> common::ids::InvoiceId {
        common::ids::InvoiceId(self.id)
    }
}
