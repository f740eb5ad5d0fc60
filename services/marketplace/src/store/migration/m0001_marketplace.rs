use sea_orm_migration::prelude::*;
use service_kit::db::columns::{string, timestamp};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Listings {
    Table,
    Id,
    SellerId,
    InvoiceNumber,
    DebtorName,
    FaceMinor,
    Currency,
    DueDate,
    Status,
    ReservedOfferId,
    AcceptedOfferId,
    ActiveOffers,
    ListedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Offers {
    Table,
    Id,
    InvoiceId,
    InvestorId,
    SellerId,
    RateMillionths,
    Currency,
    FaceMinor,
    DiscountMinor,
    PriceMinor,
    FeeMinor,
    Days,
    PricedOn,
    Status,
    Reason,
    ExpiresAt,
    CreatedAt,
    UpdatedAt,
}

fn money(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c).big_integer().not_null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use Listings as L;
        m.create_table(
            Table::create()
                .table(L::Table)
                .if_not_exists()
                .col(ColumnDef::new(L::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(L::SellerId).uuid().not_null())
                .col(string(L::InvoiceNumber, 64))
                .col(string(L::DebtorName, 200))
                .col(money(L::FaceMinor))
                .col(string(L::Currency, 3))
                .col(ColumnDef::new(L::DueDate).date().not_null())
                .col(string(L::Status, 16))
                .col(ColumnDef::new(L::ReservedOfferId).uuid().null())
                .col(ColumnDef::new(L::AcceptedOfferId).uuid().null())
                .col(
                    ColumnDef::new(L::ActiveOffers)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .col(timestamp(L::ListedAt))
                .col(timestamp(L::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_listings_status")
                .table(L::Table)
                .col(L::Status)
                .if_not_exists()
                .to_owned(),
        )
        .await?;

        use Offers as O;
        m.create_table(
            Table::create()
                .table(O::Table)
                .if_not_exists()
                .col(ColumnDef::new(O::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(O::InvoiceId).uuid().not_null())
                .col(ColumnDef::new(O::InvestorId).uuid().not_null())
                .col(ColumnDef::new(O::SellerId).uuid().not_null())
                .col(ColumnDef::new(O::RateMillionths).big_integer().not_null())
                .col(string(O::Currency, 3))
                .col(money(O::FaceMinor))
                .col(money(O::DiscountMinor))
                .col(money(O::PriceMinor))
                .col(money(O::FeeMinor))
                .col(ColumnDef::new(O::Days).big_integer().not_null())
                .col(ColumnDef::new(O::PricedOn).date().not_null())
                .col(string(O::Status, 16))
                .col(ColumnDef::new(O::Reason).text().null())
                .col(timestamp(O::ExpiresAt))
                .col(timestamp(O::CreatedAt))
                .col(timestamp(O::UpdatedAt))
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("idx_offers_invoice_status", vec![O::InvoiceId, O::Status]),
            (
                "idx_offers_investor_created",
                vec![O::InvestorId, O::CreatedAt],
            ),
            ("idx_offers_seller_created", vec![O::SellerId, O::CreatedAt]),
            ("idx_offers_status_expires", vec![O::Status, O::ExpiresAt]),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(O::Table).if_not_exists();
            for c in cols {
                idx.col(c);
            }
            m.create_index(idx.to_owned()).await?;
        }
        // One active offer per investor per invoice: a partial unique index (PostgreSQL
        // and SQLite both have them; sea-query's builder does not).
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX IF NOT EXISTS uq_offers_active_investor \
                 ON offers (invoice_id, investor_id) \
                 WHERE status IN ('pending', 'reserved')",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Offers::Table).if_exists().to_owned())
            .await?;
        m.drop_table(Table::drop().table(Listings::Table).if_exists().to_owned())
            .await
    }
}
