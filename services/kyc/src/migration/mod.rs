//! KYC's schema. `kyc migrate` (or start-up) applies it.

use sea_orm_migration::prelude::*;

mod m0001_kyc;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_kyc::Migration),
            Box::new(common::outbox::migration::Migration),
            // Submissions carry a version an admin's decision names (If-Match).
            Box::new(common::db::AddVersionColumn {
                name: "m0002_submission_version",
                table: "kyc_submissions",
            }),
        ]
    }
}
