//! Indexes on when offers and listings last changed: the sweep's catch-up of lost
//! after-commit effects reads what changed in the last minute or so.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Offers {
    Table,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Listings {
    Table,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("idx_offers_updated_at")
                .table(Offers::Table)
                .col(Offers::UpdatedAt)
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_listings_updated_at")
                .table(Listings::Table)
                .col(Listings::UpdatedAt)
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("idx_offers_updated_at").to_owned())
            .await?;
        m.drop_index(Index::drop().name("idx_listings_updated_at").to_owned())
            .await
    }
}
