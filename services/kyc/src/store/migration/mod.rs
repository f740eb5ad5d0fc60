//! KYC's schema. `kyc migrate` (or start-up) applies it.

use sea_orm_migration::prelude::*;

mod m0001_kyc;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_kyc::Migration),
            Box::new(service_kit::outbox::migration::Migration),
            // Submissions carry a version an admin's decision names (If-Match).
            Box::new(service_kit::db::AddVersionColumn {
                name: "m0002_submission_version",
                table: "kyc_submissions",
            }),
            // Statuses, currencies and roles: the database refuses any other word.
            Box::new(service_kit::db::OneOfWords {
                name: "m0003_documents_type_words",
                table: "kyc_documents",
                column: "document_type",
                words: crate::domain::DocumentType::WORDS,
            }),
            Box::new(service_kit::db::OneOfWords {
                name: "m0004_documents_status_words",
                table: "kyc_documents",
                column: "status",
                words: crate::domain::DocumentStatus::WORDS,
            }),
            Box::new(service_kit::db::OneOfWords {
                name: "m0005_documents_priority_words",
                table: "kyc_documents",
                column: "priority",
                words: crate::jobs::Priority::WORDS,
            }),
            Box::new(service_kit::db::OneOfWords {
                name: "m0006_profiles_status_words",
                table: "kyc_profiles",
                column: "status",
                words: crate::domain::ProfileStatus::WORDS,
            }),
            Box::new(service_kit::db::OneOfWords {
                name: "m0007_profiles_role_words",
                table: "kyc_profiles",
                column: "role",
                words: common::auth::Role::WORDS,
            }),
            Box::new(service_kit::db::OneOfWords {
                name: "m0008_submissions_status_words",
                table: "kyc_submissions",
                column: "status",
                words: crate::domain::SubmissionStatus::WORDS,
            }),
            Box::new(service_kit::db::OneOfWords {
                name: "m0009_submissions_role_words",
                table: "kyc_submissions",
                column: "role",
                words: common::auth::Role::WORDS,
            }),
            Box::new(service_kit::outbox::migration::Unsent),
        ]
    }
}
