//! The `outbox` table's migration.

use sea_orm::DbErr;
use sea_orm::sea_query::{Index, Table};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager, schema};

/// Creates the `outbox` table. Add it to the service's own `Migrator`.
pub struct Migration;

#[derive(sea_orm::DeriveIden)]
enum Outbox {
    Table,
    Id,
    EventType,
    Envelope,
    CreatedAt,
    SentAt,
}

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20260101_000001_common_outbox"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .if_not_exists()
                    .col(schema::pk_uuid(Outbox::Id))
                    .col(schema::string(Outbox::EventType))
                    .col(schema::text(Outbox::Envelope))
                    .col(schema::timestamp_with_time_zone(Outbox::CreatedAt))
                    .col(schema::timestamp_with_time_zone_null(Outbox::SentAt))
                    .to_owned(),
            )
            .await?;
        // The relay's query: WHERE sent_at IS NULL ORDER BY created_at.
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_sent_at")
                    .table(Outbox::Table)
                    .col(Outbox::SentAt)
                    .col(Outbox::CreatedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Outbox::Table).if_exists().to_owned())
            .await
    }
}
