//! The marketplace service's schema. `marketplace migrate` (or start-up) applies it.

use sea_orm_migration::prelude::*;

mod m0001_marketplace;
mod m0007_changed_at_indexes;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_marketplace::Migration),
            Box::new(service_kit::outbox::migration::Migration),
            Box::new(service_kit::inbox::migration::Migration),
            // Offers carry a version the seller's accept or reject names (If-Match).
            Box::new(service_kit::db::AddVersionColumn {
                name: "m0002_offer_version",
                table: "offers",
            }),
            // Statuses, currencies and roles: the database refuses any other word.
            Box::new(service_kit::db::OneOfWords {
                name: "m0003_offers_status_words",
                table: "offers",
                column: "status",
                words: crate::store::offers::OfferStatus::WORDS,
            }),
            Box::new(service_kit::db::OneOfWords {
                name: "m0004_offers_currency_words",
                table: "offers",
                column: "currency",
                words: common::money::Currency::WORDS,
            }),
            Box::new(service_kit::db::OneOfWords {
                name: "m0005_listings_status_words",
                table: "listings",
                column: "status",
                words: common::events::invoice::InvoiceStatus::WORDS,
            }),
            Box::new(service_kit::db::OneOfWords {
                name: "m0006_listings_currency_words",
                table: "listings",
                column: "currency",
                words: common::money::Currency::WORDS,
            }),
            Box::new(m0007_changed_at_indexes::Migration),
            Box::new(service_kit::outbox::migration::Unsent),
        ]
    }
}
