//! Two changes, for the webhook's hot path and for transfers that fail:
//! - `ledger_entries.balance_after` may be null: entries on the pooled accounts carry no
//!   running balance (`store::ledger::post`).
//! - `payments.retry_of`: a transfer that replaces one that failed or came back, at most
//!   one per failed transfer (unique).

use sea_orm_migration::prelude::*;
use service_kit::db::columns::{string, timestamp};
use service_kit::db::{OneOfWords, rebuild_sqlite_table};

use super::m0001_payments::{LedgerEntries as E, index, key, money, uuid};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Payments {
    Table,
    RetryOf,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Payments::Table)
                .add_column(ColumnDef::new(Payments::RetryOf).uuid().null())
                .to_owned(),
        )
        .await?;
        index(
            m,
            "uq_payments_retry_of",
            Payments::Table,
            &["retry_of"],
            true,
        )
        .await?;
        let db = m.get_connection();
        if m.get_database_backend() != sea_orm::DatabaseBackend::Sqlite {
            db.execute_unprepared(
                "ALTER TABLE ledger_entries ALTER COLUMN balance_after DROP NOT NULL",
            )
            .await?;
            return Ok(());
        }
        // SQLite cannot drop a NOT NULL: the entries move to a table without it, with
        // their indexes and word triggers made again.
        let next = Table::create()
            .col(key(E::Id))
            .col(uuid(E::PostingId))
            .col(uuid(E::AccountId))
            .col(string(E::Side, 8))
            .col(money(E::AmountMinor))
            .col(ColumnDef::new(E::BalanceAfter).big_integer().null())
            .col(timestamp(E::CreatedAt))
            .to_owned();
        let columns = "id, posting_id, account_id, side, amount_minor, balance_after, created_at";
        let [on_insert, on_update] = OneOfWords {
            name: "m0013_ledger_entries_side_words",
            table: "ledger_entries",
            column: "side",
            words: crate::domain::ledger::Side::WORDS,
        }
        .sqlite_triggers()?;
        rebuild_sqlite_table(
            m,
            "ledger_entries",
            &next,
            columns,
            columns,
            &[
                "CREATE INDEX idx_ledger_entries_account ON ledger_entries (account_id, id)".into(),
                "CREATE INDEX idx_ledger_entries_posting ON ledger_entries (posting_id)".into(),
                on_insert,
                on_update,
            ],
        )
        .await
    }
}
