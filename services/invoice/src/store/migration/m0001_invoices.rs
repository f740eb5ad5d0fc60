use sea_orm_migration::prelude::*;
use service_kit::db::columns::{string, timestamp};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Invoices {
    Table,
    Id,
    SellerId,
    InvoiceNumber,
    DebtorName,
    DebtorEmail,
    DebtorTaxId,
    AmountMinor,
    Currency,
    IssueDate,
    DueDate,
    Description,
    Status,
    RejectionReason,
    SearchText,
    DebtorSearch,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum InvoiceStatusHistory {
    Table,
    Id,
    InvoiceId,
    FromStatus,
    ToStatus,
    ActorId,
    Actor,
    Reason,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use Invoices as I;
        m.create_table(
            Table::create()
                .table(I::Table)
                .if_not_exists()
                .col(ColumnDef::new(I::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(I::SellerId).uuid().not_null())
                .col(string(I::InvoiceNumber, 64))
                .col(string(I::DebtorName, 200))
                .col(ColumnDef::new(I::DebtorEmail).string_len(254).null())
                .col(ColumnDef::new(I::DebtorTaxId).string_len(64).null())
                .col(ColumnDef::new(I::AmountMinor).big_integer().not_null())
                .col(string(I::Currency, 3))
                .col(ColumnDef::new(I::IssueDate).date().not_null())
                .col(ColumnDef::new(I::DueDate).date().not_null())
                .col(ColumnDef::new(I::Description).text().not_null())
                .col(string(I::Status, 16))
                .col(ColumnDef::new(I::RejectionReason).text().null())
                .col(ColumnDef::new(I::SearchText).text().not_null())
                .col(string(I::DebtorSearch, 200))
                .col(timestamp(I::CreatedAt))
                .col(timestamp(I::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_invoices_seller_number")
                .table(I::Table)
                .col(I::SellerId)
                .col(I::InvoiceNumber)
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("idx_invoices_status_due", vec![I::Status, I::DueDate]),
            (
                "idx_invoices_seller_created",
                vec![I::SellerId, I::CreatedAt],
            ),
            (
                "idx_invoices_status_amount",
                vec![I::Status, I::AmountMinor],
            ),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(I::Table).if_not_exists();
            for c in cols {
                idx.col(c);
            }
            m.create_index(idx.to_owned()).await?;
        }

        use InvoiceStatusHistory as H;
        m.create_table(
            Table::create()
                .table(H::Table)
                .if_not_exists()
                .col(ColumnDef::new(H::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(H::InvoiceId).uuid().not_null())
                .col(ColumnDef::new(H::FromStatus).string_len(16).null())
                .col(string(H::ToStatus, 16))
                .col(ColumnDef::new(H::ActorId).uuid().null())
                .col(string(H::Actor, 16))
                .col(ColumnDef::new(H::Reason).text().null())
                .col(timestamp(H::At))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_invoice_history_invoice")
                .table(H::Table)
                .col(H::InvoiceId)
                .col(H::At)
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(InvoiceStatusHistory::Table)
                .if_exists()
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(Invoices::Table).if_exists().to_owned())
            .await
    }
}
