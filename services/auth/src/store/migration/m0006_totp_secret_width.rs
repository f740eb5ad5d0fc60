//! Room for an encrypted second-factor secret (`v1:` and the base64 of nonce, ciphertext
//! and tag: 83 characters for a 32-character base32 secret; the column held 64). SQLite
//! does not enforce a text column's length, so only PostgreSQL's column changes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared(
                    "ALTER TABLE totp_factors ALTER COLUMN secret TYPE varchar(255)",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        // Narrowing would cut encrypted secrets: kept wide.
        Ok(())
    }
}
