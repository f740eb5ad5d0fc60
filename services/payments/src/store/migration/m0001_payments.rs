//! Financings, payments, webhook receipts, payout accounts and the ledger.

use sea_orm_migration::prelude::*;
use service_kit::db::columns::{string, timestamp, version};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Financings {
    Table,
    Id,
    OfferId,
    InvoiceId,
    InvestorId,
    SellerId,
    Currency,
    FaceMinor,
    PriceMinor,
    FeeMinor,
    Status,
    FundingDueAt,
    RepaidMinor,
    DistributedMinor,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    Id,
    FinancingId,
    Kind,
    Status,
    AmountMinor,
    SettledMinor,
    Currency,
    Reference,
    Provider,
    IdempotencyKey,
    PayerId,
    PayeeId,
    AuthorizationUrl,
    Note,
    RefundOf,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum WebhookReceipts {
    Table,
    Id,
    Provider,
    EventKey,
    EventType,
    PaymentId,
    ReceivedAt,
}

#[derive(DeriveIden)]
pub(super) enum PayoutAccounts {
    Table,
    UserId,
    BankCode,
    AccountNumber,
    AccountName,
    RecipientCode,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum LedgerAccounts {
    Table,
    Id,
    Code,
    Currency,
    Kind,
    BalanceMinor,
    Version,
    CreatedAt,
}

#[derive(DeriveIden)]
enum LedgerPostings {
    Table,
    Id,
    Key,
    Currency,
    Memo,
    PaymentId,
    CreatedAt,
}

#[derive(DeriveIden)]
pub(super) enum LedgerEntries {
    Table,
    Id,
    PostingId,
    AccountId,
    Side,
    AmountMinor,
    BalanceAfter,
    CreatedAt,
}

pub(super) fn money(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c).big_integer().not_null().to_owned()
}

pub(super) fn uuid(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c).uuid().not_null().to_owned()
}

pub(super) fn key(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c).uuid().not_null().primary_key().to_owned()
}

pub(super) use service_kit::db::index;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use Financings as F;
        m.create_table(
            Table::create()
                .table(F::Table)
                .if_not_exists()
                .col(key(F::Id))
                .col(uuid(F::OfferId))
                .col(uuid(F::InvoiceId))
                .col(uuid(F::InvestorId))
                .col(uuid(F::SellerId))
                .col(string(F::Currency, 3))
                .col(money(F::FaceMinor))
                .col(money(F::PriceMinor))
                .col(money(F::FeeMinor))
                .col(string(F::Status, 24))
                .col(timestamp(F::FundingDueAt))
                .col(money(F::RepaidMinor).default(0).to_owned())
                .col(money(F::DistributedMinor).default(0).to_owned())
                .col(timestamp(F::CreatedAt))
                .col(timestamp(F::UpdatedAt))
                .col(version(F::Version))
                .to_owned(),
        )
        .await?;
        index(m, "uq_financings_offer", F::Table, &["offer_id"], true).await?;
        index(
            m,
            "idx_financings_invoice",
            F::Table,
            &["invoice_id"],
            false,
        )
        .await?;
        index(
            m,
            "idx_financings_investor",
            F::Table,
            &["investor_id", "created_at"],
            false,
        )
        .await?;
        index(
            m,
            "idx_financings_seller",
            F::Table,
            &["seller_id", "created_at"],
            false,
        )
        .await?;
        index(
            m,
            "idx_financings_status_due",
            F::Table,
            &["status", "funding_due_at"],
            false,
        )
        .await?;

        use Payments as P;
        m.create_table(
            Table::create()
                .table(P::Table)
                .if_not_exists()
                .col(key(P::Id))
                .col(uuid(P::FinancingId))
                .col(string(P::Kind, 16))
                .col(string(P::Status, 16))
                .col(money(P::AmountMinor))
                .col(money(P::SettledMinor).default(0).to_owned())
                .col(string(P::Currency, 3))
                .col(string(P::Reference, 64))
                .col(string(P::Provider, 16))
                .col(ColumnDef::new(P::IdempotencyKey).string_len(128).null())
                .col(ColumnDef::new(P::PayerId).uuid().null())
                .col(ColumnDef::new(P::PayeeId).uuid().null())
                .col(ColumnDef::new(P::AuthorizationUrl).text().null())
                .col(ColumnDef::new(P::Note).text().null())
                .col(ColumnDef::new(P::RefundOf).uuid().null())
                .col(timestamp(P::CreatedAt))
                .col(timestamp(P::UpdatedAt))
                .col(version(P::Version))
                .to_owned(),
        )
        .await?;
        index(m, "uq_payments_reference", P::Table, &["reference"], true).await?;
        index(
            m,
            "uq_payments_idempotency",
            P::Table,
            &["financing_id", "kind", "idempotency_key"],
            true,
        )
        .await?;
        index(
            m,
            "idx_payments_financing",
            P::Table,
            &["financing_id", "created_at"],
            false,
        )
        .await?;
        index(
            m,
            "idx_payments_status_updated",
            P::Table,
            &["status", "updated_at"],
            false,
        )
        .await?;

        use WebhookReceipts as W;
        m.create_table(
            Table::create()
                .table(W::Table)
                .if_not_exists()
                .col(key(W::Id))
                .col(string(W::Provider, 16))
                .col(string(W::EventKey, 200))
                .col(string(W::EventType, 64))
                .col(ColumnDef::new(W::PaymentId).uuid().null())
                .col(timestamp(W::ReceivedAt))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "uq_webhook_receipts_key",
            W::Table,
            &["provider", "event_key"],
            true,
        )
        .await?;

        use PayoutAccounts as A;
        m.create_table(
            Table::create()
                .table(A::Table)
                .if_not_exists()
                .col(key(A::UserId))
                .col(string(A::BankCode, 8))
                .col(string(A::AccountNumber, 16))
                .col(string(A::AccountName, 200))
                .col(string(A::RecipientCode, 64))
                .col(timestamp(A::UpdatedAt))
                .to_owned(),
        )
        .await?;

        use LedgerAccounts as L;
        m.create_table(
            Table::create()
                .table(L::Table)
                .if_not_exists()
                .col(key(L::Id))
                .col(string(L::Code, 80))
                .col(string(L::Currency, 3))
                .col(string(L::Kind, 16))
                .col(money(L::BalanceMinor).default(0).to_owned())
                .col(version(L::Version))
                .col(timestamp(L::CreatedAt))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "uq_ledger_accounts_code",
            L::Table,
            &["code", "currency"],
            true,
        )
        .await?;

        use LedgerPostings as LP;
        m.create_table(
            Table::create()
                .table(LP::Table)
                .if_not_exists()
                .col(key(LP::Id))
                .col(string(LP::Key, 120))
                .col(string(LP::Currency, 3))
                .col(string(LP::Memo, 64))
                .col(ColumnDef::new(LP::PaymentId).uuid().null())
                .col(timestamp(LP::CreatedAt))
                .to_owned(),
        )
        .await?;
        index(m, "uq_ledger_postings_key", LP::Table, &["key"], true).await?;

        use LedgerEntries as E;
        m.create_table(
            Table::create()
                .table(E::Table)
                .if_not_exists()
                .col(key(E::Id))
                .col(uuid(E::PostingId))
                .col(uuid(E::AccountId))
                .col(string(E::Side, 8))
                .col(money(E::AmountMinor))
                .col(money(E::BalanceAfter))
                .col(timestamp(E::CreatedAt))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_ledger_entries_account",
            E::Table,
            &["account_id", "id"],
            false,
        )
        .await?;
        index(
            m,
            "idx_ledger_entries_posting",
            E::Table,
            &["posting_id"],
            false,
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "ledger_entries",
            "ledger_postings",
            "ledger_accounts",
            "payout_accounts",
            "webhook_receipts",
            "payments",
            "financings",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
