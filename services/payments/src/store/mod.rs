//! What the service keeps: its tables ([`entity`], [`migration`]), the ledger
//! ([`ledger`]), the financings with their payments ([`financings`]), what a verified
//! outcome does ([`outcomes`]) and the webhook inbox ([`receipts`]).

pub mod entity;
pub mod financings;
pub mod ledger;
pub mod migration;
pub mod outcomes;
pub mod receipts;

use crate::domain::PaymentsError;

impl From<sea_orm::DbErr> for PaymentsError {
    fn from(e: sea_orm::DbErr) -> Self {
        PaymentsError::Store(e.into())
    }
}

impl From<common::enums::BadStoredValue> for PaymentsError {
    fn from(e: common::enums::BadStoredValue) -> Self {
        PaymentsError::Store(e.into())
    }
}
