//! Invoices carry a version, bumped by every change, that an edit (the seller) and a
//! verification or rejection (an admin) must name (`If-Match`): a decision applies to
//! what was reviewed, never to a change that committed in between.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Invoices {
    Table,
    Version,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Invoices::Table)
                .add_column(common::db::columns::version(Invoices::Version))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Invoices::Table)
                .drop_column(Invoices::Version)
                .to_owned(),
        )
        .await
    }
}
