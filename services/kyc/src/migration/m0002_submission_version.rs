//! KYC submissions carry a version, bumped by every change, that an admin's approve or
//! reject must name (`If-Match`): the decision applies to what was reviewed.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum KycSubmissions {
    Table,
    Version,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(KycSubmissions::Table)
                .add_column(common::db::columns::version(KycSubmissions::Version))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(KycSubmissions::Table)
                .drop_column(KycSubmissions::Version)
                .to_owned(),
        )
        .await
    }
}
