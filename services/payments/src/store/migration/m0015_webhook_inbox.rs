//! The webhook receipts become an inbox: a delivery is answered once its confirmed effect
//! is stored (`effect`), and applied behind the answer (`applied_at`), several per
//! transaction, in lanes (by seller) that the applier's streams share out. Receipts
//! written before were applied with their delivery.

use sea_orm_migration::prelude::*;
use service_kit::db::columns::timestamp_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookReceipts {
    Table,
    Effect,
    AppliedAt,
    Attempts,
    LastError,
    ApplyAfter,
    Lane,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use WebhookReceipts as W;
        let backend = m.get_database_backend();
        let columns = [
            ColumnDef::new(W::Effect).text().null().to_owned(),
            timestamp_null(W::AppliedAt),
            ColumnDef::new(W::Attempts)
                .integer()
                .not_null()
                .default(0)
                .to_owned(),
            ColumnDef::new(W::LastError).text().null().to_owned(),
            timestamp_null(W::ApplyAfter),
            ColumnDef::new(W::Lane)
                .small_integer()
                .not_null()
                .default(0)
                .to_owned(),
        ];
        // One batch on one connection (SQLite: in one transaction, see
        // `service_kit::db::rebuild_sqlite_table` for why).
        let mut batch = String::new();
        if backend == sea_orm::DatabaseBackend::Sqlite {
            batch.push_str("BEGIN IMMEDIATE; ");
        }
        for column in columns {
            let alter = Table::alter().table(W::Table).add_column(column).to_owned();
            batch.push_str(&backend.build(&alter).to_string());
            batch.push_str("; ");
        }
        batch.push_str(
            "UPDATE webhook_receipts SET applied_at = received_at; \
             CREATE INDEX webhook_receipts_unapplied ON webhook_receipts (lane, id) \
             WHERE applied_at IS NULL; ",
        );
        if backend == sea_orm::DatabaseBackend::Sqlite {
            batch.push_str("COMMIT;");
        }
        m.get_connection().execute_unprepared(&batch).await?;
        Ok(())
    }
}
