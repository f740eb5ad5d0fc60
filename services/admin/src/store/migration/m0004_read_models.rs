//! Admin's read models: users, KYC reviews, invoices, facts, totals, financings, activity.

use sea_orm_migration::prelude::*;
use service_kit::db::columns::{string, timestamp, timestamp_null};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0004_read_models"
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    UserId,
    Email,
    FullName,
    Search,
    Role,
    KycStatus,
    Status,
    RegisteredAt,
    KycAt,
    StatusAt,
}

#[derive(DeriveIden)]
enum KycReviews {
    Table,
    SubmissionId,
    UserId,
    Role,
    SubmittedAt,
    State,
    DecidedAt,
}

#[derive(DeriveIden)]
enum Invoices {
    Table,
    InvoiceId,
    SellerId,
    InvoiceNumber,
    DebtorName,
    Currency,
    FaceMinor,
    Status,
    StatusAt,
    SubmittedAt,
}

#[derive(DeriveIden)]
enum Facts {
    Table,
    EventId,
    Metric,
    Currency,
    Amount,
    Day,
    At,
}

#[derive(DeriveIden)]
enum Totals {
    Table,
    Metric,
    Currency,
    Amount,
}

#[derive(DeriveIden)]
enum Financings {
    Table,
    OfferId,
    FeeMinor,
    Currency,
    FundingEventId,
    FundedAt,
}

#[derive(DeriveIden)]
enum Activity {
    Table,
    Day,
    UserId,
    Role,
}

fn uuid(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c).uuid().not_null().to_owned()
}

fn opt_string(c: impl IntoIden, len: u32) -> ColumnDef {
    ColumnDef::new(c).string_len(len).null().to_owned()
}

async fn index(
    m: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    cols: &[&str],
) -> Result<(), DbErr> {
    service_kit::db::index(m, name, table, cols, false).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Users::Table)
                .if_not_exists()
                .col(uuid(Users::UserId).primary_key().to_owned())
                .col(opt_string(Users::Email, 320))
                .col(opt_string(Users::FullName, 200))
                .col(opt_string(Users::Search, 600))
                .col(opt_string(Users::Role, 16))
                .col(string(Users::KycStatus, 16))
                .col(string(Users::Status, 16))
                .col(timestamp_null(Users::RegisteredAt))
                .col(timestamp_null(Users::KycAt))
                .col(timestamp_null(Users::StatusAt))
                .to_owned(),
        )
        .await?;
        index(m, "idx_users_role", Users::Table, &["role", "user_id"]).await?;
        index(m, "idx_users_kyc", Users::Table, &["kyc_status", "user_id"]).await?;
        index(m, "idx_users_status", Users::Table, &["status", "user_id"]).await?;

        m.create_table(
            Table::create()
                .table(KycReviews::Table)
                .if_not_exists()
                .col(uuid(KycReviews::SubmissionId).primary_key().to_owned())
                .col(uuid(KycReviews::UserId))
                .col(opt_string(KycReviews::Role, 16))
                .col(timestamp_null(KycReviews::SubmittedAt))
                .col(string(KycReviews::State, 16))
                .col(timestamp_null(KycReviews::DecidedAt))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_kyc_reviews_state",
            KycReviews::Table,
            &["state", "submitted_at"],
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Invoices::Table)
                .if_not_exists()
                .col(uuid(Invoices::InvoiceId).primary_key().to_owned())
                .col(uuid(Invoices::SellerId))
                .col(string(Invoices::InvoiceNumber, 64))
                .col(string(Invoices::DebtorName, 200))
                .col(string(Invoices::Currency, 3))
                .col(ColumnDef::new(Invoices::FaceMinor).big_integer().not_null())
                .col(string(Invoices::Status, 16))
                .col(timestamp(Invoices::StatusAt))
                .col(timestamp_null(Invoices::SubmittedAt))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_invoices_status",
            Invoices::Table,
            &["status", "submitted_at"],
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Facts::Table)
                .if_not_exists()
                .col(uuid(Facts::EventId))
                .col(string(Facts::Metric, 32))
                .col(opt_string(Facts::Currency, 3))
                .col(ColumnDef::new(Facts::Amount).big_integer().not_null())
                .col(ColumnDef::new(Facts::Day).date().not_null())
                .col(timestamp(Facts::At))
                .primary_key(Index::create().col(Facts::EventId).col(Facts::Metric))
                .to_owned(),
        )
        .await?;
        index(m, "idx_facts_metric_day", Facts::Table, &["metric", "day"]).await?;

        m.create_table(
            Table::create()
                .table(Totals::Table)
                .if_not_exists()
                .col(string(Totals::Metric, 32))
                .col(string(Totals::Currency, 3))
                .col(ColumnDef::new(Totals::Amount).big_integer().not_null())
                .primary_key(Index::create().col(Totals::Metric).col(Totals::Currency))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Financings::Table)
                .if_not_exists()
                .col(uuid(Financings::OfferId).primary_key().to_owned())
                .col(ColumnDef::new(Financings::FeeMinor).big_integer().null())
                .col(opt_string(Financings::Currency, 3))
                .col(ColumnDef::new(Financings::FundingEventId).uuid().null())
                .col(timestamp_null(Financings::FundedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Activity::Table)
                .if_not_exists()
                .col(ColumnDef::new(Activity::Day).date().not_null())
                .col(uuid(Activity::UserId))
                .col(string(Activity::Role, 16))
                .primary_key(Index::create().col(Activity::Day).col(Activity::UserId))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            Activity::Table.into_iden(),
            Financings::Table.into_iden(),
            Totals::Table.into_iden(),
            Facts::Table.into_iden(),
            Invoices::Table.into_iden(),
            KycReviews::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
