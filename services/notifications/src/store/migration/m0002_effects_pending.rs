//! `notifications.effects_pending`: a notification's after-commit effects (feed, live
//! copy, unread copy, push jobs) not yet known to be done. Written true with the row, in
//! the event's transaction; set false once they are; the effects sweep redoes what a
//! process that died between the two left undone.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Notifications {
    Table,
    EffectsPending,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Notifications::Table)
                .add_column(
                    ColumnDef::new(Notifications::EffectsPending)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .to_owned(),
        )
        .await?;
        // Only the few pending rows are indexed (PostgreSQL and SQLite both take a
        // partial index).
        m.get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS notifications_effects_pending \
                 ON notifications (created_at) WHERE effects_pending",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS notifications_effects_pending")
            .await?;
        m.alter_table(
            Table::alter()
                .table(Notifications::Table)
                .drop_column(Notifications::EffectsPending)
                .to_owned(),
        )
        .await
    }
}
