use sea_orm::entity::prelude::*;

/// A provider's event, once: `(provider, event_key)` is unique. A delivery that has an
/// effect is stored with it (`effect`, the outcome the provider's verify call confirmed)
/// and answered; the effect is applied behind the answer, in the transaction that sets
/// `applied_at` (`crate::jobs::webhooks`), so a redelivery changes nothing and an
/// accepted delivery is never lost.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_receipts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub provider: String,
    pub event_key: String,
    pub event_type: String,
    pub payment_id: Option<Uuid>,
    pub received_at: ChronoDateTimeUtc,
    /// The confirmed outcome to apply (JSON of `crate::store::outcomes::Effect`); none
    /// for a delivery that changes nothing.
    #[sea_orm(column_type = "Text", nullable)]
    pub effect: Option<String>,
    /// When its effect was applied (or, for one without, when it was received); none
    /// while it waits.
    pub applied_at: Option<ChronoDateTimeUtc>,
    /// Failed attempts to apply it.
    pub attempts: i32,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    /// Not tried again before this (after a failed attempt).
    pub apply_after: Option<ChronoDateTimeUtc>,
    /// Which of the applier's streams applies it (by the payment's seller, so two
    /// streams never wait for the same seller's payable account).
    pub lane: i16,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
