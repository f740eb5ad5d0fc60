//! The marketplace service's schema. `marketplace migrate` (or start-up) applies it.

use sea_orm_migration::prelude::*;

mod m0001_marketplace;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_marketplace::Migration),
            Box::new(common::outbox::migration::Migration),
            Box::new(common::inbox::migration::Migration),
            // Offers carry a version the seller's accept or reject names (If-Match).
            Box::new(common::db::AddVersionColumn {
                name: "m0002_offer_version",
                table: "offers",
            }),
        ]
    }
}
