use sea_orm_migration::prelude::*;
use service_kit::db::columns::{string, timestamp, timestamp_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    UserId,
    EventId,
    Kind,
    Title,
    Body,
    Data,
    CreatedAt,
    ReadAt,
}

#[derive(DeriveIden)]
enum Devices {
    Table,
    Id,
    UserId,
    Platform,
    Token,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UnreadCounters {
    Table,
    UserId,
    Unread,
    Version,
}

#[derive(DeriveIden)]
enum ChannelMembers {
    Table,
    Channel,
    UserId,
    Relation,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use Notifications as N;
        m.create_table(
            Table::create()
                .table(N::Table)
                .if_not_exists()
                .col(ColumnDef::new(N::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(N::UserId).uuid().not_null())
                .col(ColumnDef::new(N::EventId).uuid().not_null())
                .col(string(N::Kind, 64))
                .col(string(N::Title, 200))
                .col(ColumnDef::new(N::Body).text().not_null())
                .col(ColumnDef::new(N::Data).text().not_null())
                .col(timestamp(N::CreatedAt))
                .col(timestamp_null(N::ReadAt))
                .to_owned(),
        )
        .await?;
        // One notification per event and recipient: a redelivered event makes no second.
        m.create_index(
            Index::create()
                .name("notifications_event_user")
                .table(N::Table)
                .col(N::EventId)
                .col(N::UserId)
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        // Listing (newest first, keyset on id) and counting unread.
        m.create_index(
            Index::create()
                .name("notifications_user_id")
                .table(N::Table)
                .col(N::UserId)
                .col(N::Id)
                .if_not_exists()
                .to_owned(),
        )
        .await?;

        use Devices as D;
        m.create_table(
            Table::create()
                .table(D::Table)
                .if_not_exists()
                .col(ColumnDef::new(D::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(D::UserId).uuid().not_null())
                .col(string(D::Platform, 16))
                .col(string(D::Token, 512))
                .col(timestamp(D::CreatedAt))
                .col(timestamp(D::UpdatedAt))
                .to_owned(),
        )
        .await?;
        // A device token belongs to one user at a time (the last to register it).
        m.create_index(
            Index::create()
                .name("devices_token")
                .table(D::Table)
                .col(D::Token)
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("devices_user")
                .table(D::Table)
                .col(D::UserId)
                .if_not_exists()
                .to_owned(),
        )
        .await?;

        // The unread count, moved in the transaction of each change, with a version that
        // orders its copies in Redis.
        use UnreadCounters as U;
        m.create_table(
            Table::create()
                .table(U::Table)
                .if_not_exists()
                .col(ColumnDef::new(U::UserId).uuid().not_null().primary_key())
                .col(ColumnDef::new(U::Unread).big_integer().not_null())
                .col(ColumnDef::new(U::Version).big_integer().not_null())
                .to_owned(),
        )
        .await?;

        use ChannelMembers as C;
        m.create_table(
            Table::create()
                .table(C::Table)
                .if_not_exists()
                .col(string(C::Channel, 96))
                .col(ColumnDef::new(C::UserId).uuid().not_null())
                .col(string(C::Relation, 16))
                .col(timestamp(C::CreatedAt))
                .primary_key(Index::create().col(C::Channel).col(C::UserId))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            ChannelMembers::Table.into_iden(),
            UnreadCounters::Table.into_iden(),
            Devices::Table.into_iden(),
            Notifications::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
