use common::enums::{BadStoredValue, stored};
use common::events::payments::{PaymentKind, PaymentStatus};
use common::money::Currency;
use sea_orm::entity::prelude::*;

/// One movement of money through the provider: a funding or repayment coming in, a
/// payout, distribution or refund going out.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub financing_id: Uuid,
    pub kind: String,
    pub status: String,
    /// What was asked (a checkout's amount, a transfer's amount).
    pub amount_minor: i64,
    /// What actually moved once it succeeded (a debtor may pay less or more than asked).
    pub settled_minor: i64,
    pub currency: String,
    /// The provider's reference: ours, unique, reused on every retry (so the provider
    /// never moves the money twice).
    pub reference: String,
    pub provider: String,
    /// The client's `Idempotency-Key` of the request that made it.
    pub idempotency_key: Option<String>,
    pub payer_id: Option<Uuid>,
    pub payee_id: Option<Uuid>,
    pub authorization_url: Option<String>,
    /// Why it waits or failed, in words for people.
    pub note: Option<String>,
    /// A refund: the charge (a funding or repayment) it hands money back from.
    pub refund_of: Option<Uuid>,
    /// A payout or distribution sent again: the transfer that failed or came back.
    pub retry_of: Option<Uuid>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub fn kind(&self) -> Result<PaymentKind, BadStoredValue> {
        stored("payments", self.id, "kind", &self.kind)
    }

    pub fn status(&self) -> Result<PaymentStatus, BadStoredValue> {
        stored("payments", self.id, "status", &self.status)
    }

    pub fn currency(&self) -> Result<Currency, BadStoredValue> {
        stored("payments", self.id, "currency", &self.currency)
    }
}
