//! The notifications service's schema. `notifications migrate` (or start-up) applies it.

use sea_orm_migration::prelude::*;

mod m0001_notifications;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_notifications::Migration),
            Box::new(service_kit::inbox::migration::Migration),
        ]
    }
}
