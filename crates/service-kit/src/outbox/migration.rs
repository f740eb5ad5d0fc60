//! The `outbox` table's migrations: add [`Migration`] and then [`Unsent`] to the service's
//! own `Migrator`.

use sea_orm::sea_query::{Index, Table};
use sea_orm::{ConnectionTrait, DbErr};
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

/// The relay's index: the rows not sent yet, in the order it sends them; and the sent
/// rows by when, for the purge and the re-send after a Redis restart (partial indexes;
/// PostgreSQL and SQLite both have them). Replaces `idx_outbox_sent_at`.
///
/// The relay asks `WHERE sent_at IS NULL ORDER BY created_at, id LIMIT n` every round.
/// On `idx_outbox_sent_at (sent_at, created_at)` PostgreSQL answered that with a bitmap
/// scan that visited every index entry still saying "not sent" (marking a row sent
/// leaves its old version's entry until vacuum): under a burst of offers, 50,000 entries
/// and 23 ms per round for no row, the largest item of marketplace's database CPU
/// (docs/performance.md). On `idx_outbox_unsent` the scan is ordered and stops at the
/// limit, and it marks the entries of dead versions as it passes them, so the next round
/// skips them. The old index goes, so that no planner picks it for the relay again; the
/// purge (`sent_at < ..`) and the re-send (`sent_at >= ..`) use `idx_outbox_sent`.
pub struct Unsent;

impl MigrationName for Unsent {
    fn name(&self) -> &str {
        "m20261207_000001_common_outbox_unsent"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Unsent {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS idx_outbox_unsent \
             ON outbox (created_at, id) WHERE sent_at IS NULL",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS idx_outbox_sent ON outbox (sent_at) \
             WHERE sent_at IS NOT NULL",
        )
        .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS idx_outbox_sent_at")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS idx_outbox_sent_at ON outbox (sent_at, created_at)",
        )
        .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS idx_outbox_sent")
            .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS idx_outbox_unsent")
            .await?;
        Ok(())
    }
}
