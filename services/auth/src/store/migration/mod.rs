//! Auth's schema. `auth migrate` (or start-up) applies it.

use sea_orm_migration::prelude::*;

mod m0001_users;
mod m0005_totp;
mod m0006_totp_secret_width;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_users::Migration),
            Box::new(service_kit::outbox::migration::Migration),
            Box::new(service_kit::inbox::migration::Migration),
            // Statuses, currencies and roles: the database refuses any other word.
            Box::new(service_kit::db::OneOfWords {
                name: "m0002_users_role_words",
                table: "users",
                column: "role",
                words: common::auth::Role::WORDS,
            }),
            Box::new(service_kit::db::OneOfWords {
                name: "m0003_users_kyc_status_words",
                table: "users",
                column: "kyc_status",
                words: common::auth::KycStatus::WORDS,
            }),
            Box::new(service_kit::db::OneOfWords {
                name: "m0004_users_status_words",
                table: "users",
                column: "status",
                words: crate::store::entity::user::STATUSES,
            }),
            Box::new(m0005_totp::Migration),
            Box::new(m0006_totp_secret_width::Migration),
            Box::new(service_kit::outbox::migration::Unsent),
        ]
    }
}
