//! KYC's schema. `kyc migrate` (or start-up) applies it.

use sea_orm_migration::prelude::*;

mod m0001_kyc;
mod m0002_submission_version;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_kyc::Migration),
            Box::new(common::outbox::migration::Migration),
            Box::new(m0002_submission_version::Migration),
        ]
    }
}
