//! The notifications service's schema. `notifications migrate` (or start-up) applies it.

use sea_orm_migration::prelude::*;

mod m0001_notifications;
mod m0002_effects_pending;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_notifications::Migration),
            Box::new(service_kit::inbox::migration::Migration),
            Box::new(m0002_effects_pending::Migration),
        ]
    }
}
