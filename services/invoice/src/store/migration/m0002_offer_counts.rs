//! Offers each invoice received (from marketplace's `offer.placed`), for the popular list.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum InvoiceOfferCounts {
    Table,
    InvoiceId,
    Offers,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use InvoiceOfferCounts as C;
        m.create_table(
            Table::create()
                .table(C::Table)
                .if_not_exists()
                .col(ColumnDef::new(C::InvoiceId).uuid().not_null().primary_key())
                .col(
                    ColumnDef::new(C::Offers)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_invoice_offer_counts_offers")
                .table(C::Table)
                .col(C::Offers)
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(InvoiceOfferCounts::Table).to_owned())
            .await
    }
}
