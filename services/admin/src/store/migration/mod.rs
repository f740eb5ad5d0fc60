//! The admin service's schema. `admin migrate` (or start-up) applies it.

use sea_orm_migration::prelude::*;
use service_kit::db::OneOfWords;

use common::auth::{KycStatus, Role};
use common::events::invoice::InvoiceStatus;
use common::money::Currency;

use crate::domain::audit::{ActorRole, ResourceType};
use crate::domain::facts::{AccountStatus, Metric, ReviewState};

mod m0001_audit;
mod m0004_read_models;

pub struct Migrator;

/// The database refuses any word outside each enum's.
const WORDS: &[(&str, &str, &str, &[&str])] = &[
    (
        "m0002_audit_log_actor_role_words",
        "audit_log",
        "actor_role",
        ActorRole::WORDS,
    ),
    (
        "m0003_audit_log_resource_type_words",
        "audit_log",
        "resource_type",
        ResourceType::WORDS,
    ),
];

/// The read models' words (after `m0004_read_models`).
const MODEL_WORDS: &[(&str, &str, &str, &[&str])] = &[
    ("m0005_users_role_words", "users", "role", Role::WORDS),
    (
        "m0006_users_kyc_status_words",
        "users",
        "kyc_status",
        KycStatus::WORDS,
    ),
    (
        "m0007_users_status_words",
        "users",
        "status",
        AccountStatus::WORDS,
    ),
    (
        "m0008_kyc_reviews_state_words",
        "kyc_reviews",
        "state",
        ReviewState::WORDS,
    ),
    (
        "m0009_kyc_reviews_role_words",
        "kyc_reviews",
        "role",
        Role::WORDS,
    ),
    (
        "m0010_invoices_status_words",
        "invoices",
        "status",
        InvoiceStatus::WORDS,
    ),
    (
        "m0011_invoices_currency_words",
        "invoices",
        "currency",
        Currency::WORDS,
    ),
    ("m0012_facts_metric_words", "facts", "metric", Metric::WORDS),
    (
        "m0013_facts_currency_words",
        "facts",
        "currency",
        Currency::WORDS,
    ),
    (
        "m0014_totals_metric_words",
        "totals",
        "metric",
        Metric::WORDS,
    ),
    (
        "m0015_totals_currency_words",
        "totals",
        "currency",
        Currency::WORDS,
    ),
    ("m0016_activity_role_words", "activity", "role", Role::WORDS),
];

fn words(
    list: &'static [(
        &'static str,
        &'static str,
        &'static str,
        &'static [&'static str],
    )],
) -> impl Iterator<Item = Box<dyn MigrationTrait>> {
    list.iter().map(|&(name, table, column, words)| {
        Box::new(OneOfWords {
            name,
            table,
            column,
            words,
        }) as Box<dyn MigrationTrait>
    })
}

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all: Vec<Box<dyn MigrationTrait>> = vec![
            Box::new(m0001_audit::Migration),
            Box::new(service_kit::inbox::migration::Migration),
        ];
        all.extend(words(WORDS));
        all.push(Box::new(m0004_read_models::Migration));
        all.extend(words(MODEL_WORDS));
        all
    }
}
