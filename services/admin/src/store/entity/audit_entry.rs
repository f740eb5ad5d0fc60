use sea_orm::entity::prelude::*;

/// One event of the platform, recorded once (`event_id` unique), append-only, chained
/// (`hash`) to the row before it (`seq - 1`); see `crate::domain::audit`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    /// Its place in the chain, from 1, without gaps.
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    pub event_id: Uuid,
    pub occurred_at: ChronoDateTimeUtc,
    pub recorded_at: ChronoDateTimeUtc,
    pub producer: String,
    /// The event type.
    pub action: String,
    pub actor_id: Option<Uuid>,
    /// `seller`, `investor`, `admin` or `system` (the database refuses another word).
    pub actor_role: String,
    pub resource_type: String,
    pub resource_id: Uuid,
    /// The payload with personal fields masked (JSON text, hashed as stored).
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    pub trace_id: Option<String>,
    /// HMAC-SHA256 (hex) of the previous row's hash and this row.
    pub hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
