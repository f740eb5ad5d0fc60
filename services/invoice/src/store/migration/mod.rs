//! The invoice service's schema. `invoice migrate` (or start-up) applies it.

use sea_orm_migration::prelude::*;

mod m0001_invoices;
mod m0002_offer_counts;
mod m0009_acceptances;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_invoices::Migration),
            Box::new(service_kit::outbox::migration::Migration),
            Box::new(service_kit::inbox::migration::Migration),
            Box::new(m0002_offer_counts::Migration),
            // Invoices carry a version edits and admins' decisions name (If-Match).
            Box::new(service_kit::db::AddVersionColumn {
                name: "m0003_invoice_version",
                table: "invoices",
            }),
            // Statuses, currencies and roles: the database refuses any other word.
            Box::new(service_kit::db::OneOfWords {
                name: "m0004_invoices_status_words",
                table: "invoices",
                column: "status",
                words: crate::domain::InvoiceStatus::WORDS,
            }),
            Box::new(service_kit::db::OneOfWords {
                name: "m0005_invoices_currency_words",
                table: "invoices",
                column: "currency",
                words: common::money::Currency::WORDS,
            }),
            Box::new(service_kit::db::OneOfWords {
                name: "m0006_history_from_words",
                table: "invoice_status_history",
                column: "from_status",
                words: crate::domain::InvoiceStatus::WORDS,
            }),
            Box::new(service_kit::db::OneOfWords {
                name: "m0007_history_to_words",
                table: "invoice_status_history",
                column: "to_status",
                words: crate::domain::InvoiceStatus::WORDS,
            }),
            Box::new(service_kit::db::OneOfWords {
                name: "m0008_history_actor_words",
                table: "invoice_status_history",
                column: "actor",
                words: common::events::invoice::ActorKind::WORDS,
            }),
            Box::new(m0009_acceptances::Migration),
            Box::new(service_kit::outbox::migration::Unsent),
        ]
    }
}
