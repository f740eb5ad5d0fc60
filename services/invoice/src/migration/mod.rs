//! The invoice service's schema. `invoice migrate` (or start-up) applies it.

use sea_orm_migration::prelude::*;

mod m0001_invoices;
mod m0002_offer_counts;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_invoices::Migration),
            Box::new(common::outbox::migration::Migration),
            Box::new(common::inbox::migration::Migration),
            Box::new(m0002_offer_counts::Migration),
            // Invoices carry a version edits and admins' decisions name (If-Match).
            Box::new(common::db::AddVersionColumn {
                name: "m0003_invoice_version",
                table: "invoices",
            }),
        ]
    }
}
