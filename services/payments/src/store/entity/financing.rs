use common::enums::{BadStoredValue, stored};
use common::ids::{InvoiceId, OfferId, UserId};
use common::money::Currency;
use sea_orm::entity::prelude::*;

use crate::domain::{FinancingStatus, Terms};

/// One accepted offer's money: the investor's funding obligation, then the payout,
/// repayments and distributions it leads to.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "financings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Unique: `offer.accepted` opens one financing, however often it is delivered.
    pub offer_id: Uuid,
    pub invoice_id: Uuid,
    pub investor_id: Uuid,
    pub seller_id: Uuid,
    pub currency: String,
    /// As marketplace priced them (docs/pricing.md): face F, price P, fee.
    pub face_minor: i64,
    pub price_minor: i64,
    pub fee_minor: i64,
    /// See `domain::FinancingStatus`.
    pub status: String,
    /// The investor must pay by then (`PAYMENTS_FUNDING_WINDOW_HOURS` after acceptance).
    pub funding_due_at: ChronoDateTimeUtc,
    /// What the debtor has paid towards F (never more than F).
    pub repaid_minor: i64,
    /// What the investor has been sent of it.
    pub distributed_minor: i64,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub fn status(&self) -> Result<FinancingStatus, BadStoredValue> {
        stored("financings", self.id, "status", &self.status)
    }

    pub fn currency(&self) -> Result<Currency, BadStoredValue> {
        stored("financings", self.id, "currency", &self.currency)
    }

    pub fn terms(&self) -> Result<Terms, BadStoredValue> {
        Ok(Terms {
            face_minor: self.face_minor,
            price_minor: self.price_minor,
            fee_minor: self.fee_minor,
            currency: self.currency()?,
        })
    }

    pub fn invoice(&self) -> InvoiceId {
        InvoiceId(self.invoice_id)
    }

    pub fn offer(&self) -> OfferId {
        OfferId(self.offer_id)
    }

    pub fn investor(&self) -> UserId {
        UserId(self.investor_id)
    }

    pub fn seller(&self) -> UserId {
        UserId(self.seller_id)
    }

    /// What the debtor still owes.
    pub fn outstanding_minor(&self) -> i64 {
        (self.face_minor - self.repaid_minor).max(0)
    }
}
