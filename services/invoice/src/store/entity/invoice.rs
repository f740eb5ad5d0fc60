use common::enums::{BadStoredValue, stored};
use common::events::invoice::InvoiceChanged;
use common::money::{Currency, Money};
use sea_orm::entity::prelude::*;

use crate::domain::{Actor, DebtorView, InvoiceFields, InvoiceStatus, InvoiceView};

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

    /// The invoice's status, or an error naming the row if the stored word is not one.
    pub fn status(&self) -> Result<InvoiceStatus, BadStoredValue> {
        stored("invoices", self.id, "status", &self.status)
    }

    /// The invoice's currency, or an error naming the row.
    pub fn currency(&self) -> Result<Currency, BadStoredValue> {
        stored("invoices", self.id, "currency", &self.currency)
    }

    /// The invoice as the API shows it.
    pub fn view(&self) -> Result<InvoiceView, BadStoredValue> {
        let currency = self.currency()?;
        Ok(InvoiceView {
            id: self.id,
            seller_id: self.seller_id,
            invoice_number: self.invoice_number.clone(),
            debtor: DebtorView {
                name: self.debtor_name.clone(),
                email: self.debtor_email.clone(),
                tax_id: self.debtor_tax_id.clone(),
            },
            amount: Money::from_minor(self.amount_minor, currency).to_decimal_string(),
            currency,
            issue_date: self.issue_date,
            due_date: self.due_date,
            description: self.description.clone(),
            status: self.status()?,
            rejection_reason: self.rejection_reason.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
        })
    }

    /// The invoice's checked fields (what an edit starts from).
    pub fn fields(&self) -> Result<InvoiceFields, BadStoredValue> {
        Ok(InvoiceFields {
            invoice_number: self.invoice_number.clone(),
            debtor_name: self.debtor_name.clone(),
            debtor_email: self.debtor_email.clone(),
            debtor_tax_id: self.debtor_tax_id.clone(),
            amount: Money::from_minor(self.amount_minor, self.currency()?),
            issue_date: self.issue_date,
            due_date: self.due_date,
            description: self.description.clone(),
        })
    }

    /// The event payload of a move `from` -> `to` of this invoice (its terms included,
    /// so consumers need no call back).
    pub fn changed(
        &self,
        from: InvoiceStatus,
        to: InvoiceStatus,
        actor: Actor,
        reason: Option<&str>,
    ) -> Result<InvoiceChanged, BadStoredValue> {
        let currency = self.currency()?;
        Ok(InvoiceChanged {
            invoice_id: self.invoice_id(),
            seller_id: common::ids::UserId(self.seller_id),
            invoice_number: self.invoice_number.clone(),
            debtor_name: self.debtor_name.clone(),
            amount: Money::from_minor(self.amount_minor, currency).to_decimal_string(),
            amount_minor: self.amount_minor,
            currency,
            due_date: self.due_date,
            from,
            to,
            reason: reason.map(str::to_owned),
            actor: actor.kind,
            actor_id: actor.id,
        })
    }
}
