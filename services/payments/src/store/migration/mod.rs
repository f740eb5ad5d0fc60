//! The payments service's schema. `payments migrate` (or start-up) applies it.

use common::events::payments::{PaymentKind, PaymentStatus};
use common::money::Currency;
use sea_orm_migration::prelude::*;
use service_kit::db::OneOfWords;

use crate::domain::FinancingStatus;
use crate::domain::ledger::{AccountKind, Side};

mod m0001_payments;
mod m0013_pooled_entries_and_retries;
mod m0014_payout_accounts_per_currency;
mod m0015_webhook_inbox;

pub struct Migrator;

/// The database refuses any word outside each enum's.
const WORDS: &[(&str, &str, &str, &[&str])] = &[
    (
        "m0004_financings_status_words",
        "financings",
        "status",
        FinancingStatus::WORDS,
    ),
    (
        "m0005_financings_currency_words",
        "financings",
        "currency",
        Currency::WORDS,
    ),
    (
        "m0006_payments_kind_words",
        "payments",
        "kind",
        PaymentKind::WORDS,
    ),
    (
        "m0007_payments_status_words",
        "payments",
        "status",
        PaymentStatus::WORDS,
    ),
    (
        "m0008_payments_currency_words",
        "payments",
        "currency",
        Currency::WORDS,
    ),
    (
        "m0009_ledger_accounts_kind_words",
        "ledger_accounts",
        "kind",
        AccountKind::WORDS,
    ),
    (
        "m0010_ledger_accounts_currency_words",
        "ledger_accounts",
        "currency",
        Currency::WORDS,
    ),
    (
        "m0011_ledger_postings_currency_words",
        "ledger_postings",
        "currency",
        Currency::WORDS,
    ),
    (
        "m0012_ledger_entries_side_words",
        "ledger_entries",
        "side",
        Side::WORDS,
    ),
];

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all: Vec<Box<dyn MigrationTrait>> = vec![
            Box::new(m0001_payments::Migration),
            Box::new(service_kit::outbox::migration::Migration),
            Box::new(service_kit::inbox::migration::Migration),
        ];
        all.extend(WORDS.iter().map(|&(name, table, column, words)| {
            Box::new(OneOfWords {
                name,
                table,
                column,
                words,
            }) as Box<dyn MigrationTrait>
        }));
        all.push(Box::new(m0013_pooled_entries_and_retries::Migration));
        all.push(Box::new(m0014_payout_accounts_per_currency::Migration));
        all.push(Box::new(m0015_webhook_inbox::Migration));
        all.push(Box::new(service_kit::outbox::migration::Unsent));
        all
    }
}
