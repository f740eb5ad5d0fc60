use sea_orm_migration::prelude::*;
use service_kit::db::columns::{string, timestamp, timestamp_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum KycDocuments {
    Table,
    Id,
    UserId,
    DocumentType,
    Status,
    ContentType,
    SizeBytes,
    Sha256,
    StorageKey,
    Priority,
    Checks,
    Reasons,
    Flagged,
    OcrText,
    OcrConfidence,
    CreatedAt,
    EnqueuedAt,
    ProcessedAt,
}

#[derive(DeriveIden)]
enum KycProfiles {
    Table,
    UserId,
    Role,
    Status,
    Version,
    SubmissionId,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum KycSubmissions {
    Table,
    Id,
    UserId,
    Role,
    Status,
    FullName,
    BvnCipher,
    NinCipher,
    DocumentIds,
    Checks,
    Warnings,
    Reason,
    ReviewedBy,
    ReviewedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum KycDownloads {
    Table,
    Id,
    DocumentId,
    SubmissionId,
    AdminId,
    DownloadedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use KycDocuments as D;
        m.create_table(
            Table::create()
                .table(D::Table)
                .if_not_exists()
                .col(ColumnDef::new(D::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(D::UserId).uuid().not_null())
                .col(string(D::DocumentType, 32))
                .col(string(D::Status, 16))
                .col(string(D::ContentType, 32))
                .col(ColumnDef::new(D::SizeBytes).big_integer().not_null())
                .col(string(D::Sha256, 64))
                .col(string(D::StorageKey, 200))
                .col(string(D::Priority, 8))
                .col(ColumnDef::new(D::Checks).json().not_null())
                .col(ColumnDef::new(D::Reasons).json().not_null())
                .col(
                    ColumnDef::new(D::Flagged)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .col(ColumnDef::new(D::OcrText).text().null())
                .col(ColumnDef::new(D::OcrConfidence).double().null())
                .col(timestamp(D::CreatedAt))
                .col(timestamp(D::EnqueuedAt))
                .col(timestamp_null(D::ProcessedAt))
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("idx_kyc_documents_user", vec![D::UserId, D::CreatedAt]),
            ("idx_kyc_documents_sha256", vec![D::Sha256]),
            ("idx_kyc_documents_status", vec![D::Status, D::EnqueuedAt]),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(D::Table).if_not_exists();
            for c in cols {
                idx.col(c);
            }
            m.create_index(idx.to_owned()).await?;
        }

        use KycProfiles as P;
        m.create_table(
            Table::create()
                .table(P::Table)
                .if_not_exists()
                .col(ColumnDef::new(P::UserId).uuid().not_null().primary_key())
                .col(string(P::Role, 16))
                .col(string(P::Status, 16))
                .col(ColumnDef::new(P::Version).big_integer().not_null())
                .col(ColumnDef::new(P::SubmissionId).uuid().null())
                .col(timestamp(P::UpdatedAt))
                .to_owned(),
        )
        .await?;

        use KycSubmissions as S;
        m.create_table(
            Table::create()
                .table(S::Table)
                .if_not_exists()
                .col(ColumnDef::new(S::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(S::UserId).uuid().not_null())
                .col(string(S::Role, 16))
                .col(string(S::Status, 16))
                .col(string(S::FullName, 200))
                .col(ColumnDef::new(S::BvnCipher).text().null())
                .col(ColumnDef::new(S::NinCipher).text().null())
                .col(ColumnDef::new(S::DocumentIds).json().not_null())
                .col(ColumnDef::new(S::Checks).json().not_null())
                .col(ColumnDef::new(S::Warnings).json().not_null())
                .col(ColumnDef::new(S::Reason).text().null())
                .col(ColumnDef::new(S::ReviewedBy).uuid().null())
                .col(timestamp_null(S::ReviewedAt))
                .col(timestamp(S::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_kyc_submissions_status")
                .table(S::Table)
                .col(S::Status)
                .col(S::Id)
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_kyc_submissions_user")
                .table(S::Table)
                .col(S::UserId)
                .if_not_exists()
                .to_owned(),
        )
        .await?;

        use KycDownloads as L;
        m.create_table(
            Table::create()
                .table(L::Table)
                .if_not_exists()
                .col(ColumnDef::new(L::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(L::DocumentId).uuid().not_null())
                .col(ColumnDef::new(L::SubmissionId).uuid().not_null())
                .col(ColumnDef::new(L::AdminId).uuid().not_null())
                .col(timestamp(L::DownloadedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_kyc_downloads_document")
                .table(L::Table)
                .col(L::DocumentId)
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            KycDownloads::Table.into_iden(),
            KycSubmissions::Table.into_iden(),
            KycProfiles::Table.into_iden(),
            KycDocuments::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
