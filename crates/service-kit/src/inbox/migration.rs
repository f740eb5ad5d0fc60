//! The `inbox` table's migration.

use sea_orm::DbErr;
use sea_orm::sea_query::Table;
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager, schema};

/// Creates the `inbox` table. Add it to the service's own `Migrator`.
pub struct Migration;

#[derive(sea_orm::DeriveIden)]
enum Inbox {
    Table,
    EventId,
    EventType,
    HandledAt,
}

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20260101_000002_common_inbox"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Inbox::Table)
                    .if_not_exists()
                    .col(schema::pk_uuid(Inbox::EventId))
                    .col(schema::string(Inbox::EventType))
                    .col(schema::timestamp_with_time_zone(Inbox::HandledAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Inbox::Table).if_exists().to_owned())
            .await
    }
}
