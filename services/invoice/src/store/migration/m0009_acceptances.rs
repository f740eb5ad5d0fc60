//! The offer each accepted invoice was confirmed for (see `entity::acceptance`).

use sea_orm_migration::prelude::*;
use service_kit::db::columns::timestamp;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum InvoiceAcceptances {
    Table,
    InvoiceId,
    OfferId,
    ConfirmedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use InvoiceAcceptances as A;
        m.create_table(
            Table::create()
                .table(A::Table)
                .if_not_exists()
                .col(ColumnDef::new(A::InvoiceId).uuid().not_null().primary_key())
                .col(ColumnDef::new(A::OfferId).uuid().not_null())
                .col(timestamp(A::ConfirmedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(InvoiceAcceptances::Table).to_owned())
            .await
    }
}
