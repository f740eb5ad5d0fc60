//! The marketplace service's schema. `marketplace migrate` (or start-up) applies it.

use sea_orm_migration::prelude::*;

mod m0001_marketplace;
mod m0002_offer_version;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_marketplace::Migration),
            Box::new(common::outbox::migration::Migration),
            Box::new(common::inbox::migration::Migration),
            Box::new(m0002_offer_version::Migration),
        ]
    }
}
