use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    /// UUIDv7, increasing in the order notifications were made: the list's cursor.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    /// The event it came from (unique with `user_id`).
    pub event_id: Uuid,
    /// What happened, e.g. `offer.placed`.
    pub kind: String,
    pub title: String,
    pub body: String,
    /// JSON object with the ids a client needs to link to (invoice, offer, ...).
    pub data: String,
    pub created_at: ChronoDateTimeUtc,
    pub read_at: Option<ChronoDateTimeUtc>,
    /// Its after-commit effects (feed, live and unread copies, push jobs) are not known
    /// to be done: the effects sweep does them again after a grace period.
    pub effects_pending: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
