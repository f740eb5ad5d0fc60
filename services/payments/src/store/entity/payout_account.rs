use sea_orm::entity::prelude::*;

/// Where a user's money in one currency goes: a bank account the provider resolved, and
/// the provider's recipient for it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payout_accounts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// One account per currency: transfers in a currency go to its account.
    #[sea_orm(primary_key, auto_increment = false)]
    pub currency: String,
    pub bank_code: String,
    pub account_number: String,
    /// The name the provider resolved the account to.
    pub account_name: String,
    pub recipient_code: String,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
