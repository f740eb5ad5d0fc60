//! A payout account per user and currency: a transfer in cedis cannot go to a naira
//! account. Existing accounts were resolved as NGN and stay so.

use common::money::Currency;
use sea_orm_migration::prelude::*;
use service_kit::db::columns::{string, timestamp};
use service_kit::db::{OneOfWords, rebuild_sqlite_table};

use super::m0001_payments::{PayoutAccounts as A, uuid};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Extra {
    Currency,
}

const WORDS: OneOfWords = OneOfWords {
    name: "m0014_payout_accounts_currency_words",
    table: "payout_accounts",
    column: "currency",
    words: Currency::WORDS,
};

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if m.get_database_backend() != sea_orm::DatabaseBackend::Sqlite {
            for sql in [
                "ALTER TABLE payout_accounts ADD COLUMN currency varchar(3) NOT NULL DEFAULT 'NGN'",
                "ALTER TABLE payout_accounts DROP CONSTRAINT payout_accounts_pkey",
                "ALTER TABLE payout_accounts ADD PRIMARY KEY (user_id, currency)",
            ] {
                db.execute_unprepared(sql).await?;
            }
            return WORDS.up(m).await;
        }
        // SQLite cannot change a primary key: the accounts move to a table keyed by
        // (user, currency).
        let next = Table::create()
            .col(uuid(A::UserId))
            .col(string(Extra::Currency, 3).default("NGN").to_owned())
            .col(string(A::BankCode, 8))
            .col(string(A::AccountNumber, 16))
            .col(string(A::AccountName, 200))
            .col(string(A::RecipientCode, 64))
            .col(timestamp(A::UpdatedAt))
            .primary_key(Index::create().col(A::UserId).col(Extra::Currency))
            .to_owned();
        let [on_insert, on_update] = WORDS.sqlite_triggers()?;
        rebuild_sqlite_table(
            m,
            "payout_accounts",
            &next,
            "user_id, currency, bank_code, account_number, account_name, recipient_code, updated_at",
            "user_id, 'NGN', bank_code, account_number, account_name, recipient_code, updated_at",
            &[on_insert, on_update],
        )
        .await
    }
}
