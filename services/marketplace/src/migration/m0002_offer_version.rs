//! Offers carry a version, bumped by every change, that the seller's accept or reject must
//! name (`If-Match`): the seller accepts the terms they saw, never a revision that
//! committed in between.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Offers {
    Table,
    Version,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Offers::Table)
                .add_column(common::db::columns::version(Offers::Version))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Offers::Table)
                .drop_column(Offers::Version)
                .to_owned(),
        )
        .await
    }
}
