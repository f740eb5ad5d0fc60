//! The audit log and its head.

use sea_orm_migration::prelude::*;
use service_kit::db::columns::{string, timestamp};

use crate::domain::audit::GENESIS;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0001_audit"
    }
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Seq,
    EventId,
    OccurredAt,
    RecordedAt,
    Producer,
    Action,
    ActorId,
    ActorRole,
    ResourceType,
    ResourceId,
    Payload,
    TraceId,
    Hash,
}

#[derive(DeriveIden)]
enum AuditHead {
    Table,
    Id,
    Count,
    Hash,
    RecordedAt,
}

async fn index(
    m: &SchemaManager<'_>,
    name: &str,
    cols: &[&str],
    unique: bool,
) -> Result<(), DbErr> {
    service_kit::db::index(m, name, AuditLog::Table, cols, unique).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use AuditLog as A;
        m.create_table(
            Table::create()
                .table(A::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(A::Seq)
                        .big_integer()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(A::EventId).uuid().not_null())
                .col(timestamp(A::OccurredAt))
                .col(timestamp(A::RecordedAt))
                .col(string(A::Producer, 32))
                .col(string(A::Action, 64))
                .col(ColumnDef::new(A::ActorId).uuid().null())
                .col(string(A::ActorRole, 16))
                .col(string(A::ResourceType, 32))
                .col(ColumnDef::new(A::ResourceId).uuid().not_null())
                .col(ColumnDef::new(A::Payload).text().not_null())
                .col(ColumnDef::new(A::TraceId).string_len(32).null())
                .col(string(A::Hash, 64))
                .to_owned(),
        )
        .await?;
        // Searches filter by one of these and page newest first (by seq).
        index(m, "uq_audit_log_event", &["event_id"], true).await?;
        index(m, "idx_audit_log_actor", &["actor_id", "seq"], false).await?;
        index(m, "idx_audit_log_action", &["action", "seq"], false).await?;
        index(m, "idx_audit_log_resource", &["resource_id", "seq"], false).await?;
        index(m, "idx_audit_log_type", &["resource_type", "seq"], false).await?;
        index(m, "idx_audit_log_recorded", &["recorded_at"], false).await?;

        use AuditHead as H;
        m.create_table(
            Table::create()
                .table(H::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(H::Id)
                        .small_integer()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(H::Count).big_integer().not_null())
                .col(string(H::Hash, 64))
                .col(timestamp(H::RecordedAt))
                .to_owned(),
        )
        .await?;
        let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        m.exec_stmt(
            Query::insert()
                .into_table(H::Table)
                .columns([H::Id, H::Count, H::Hash, H::RecordedAt])
                .values_panic([1_i16.into(), 0_i64.into(), GENESIS.into(), epoch.into()])
                .on_conflict(OnConflict::column(H::Id).do_nothing().to_owned())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AuditHead::Table).if_exists().to_owned())
            .await?;
        m.drop_table(Table::drop().table(AuditLog::Table).if_exists().to_owned())
            .await
    }
}
