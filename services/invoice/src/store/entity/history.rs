use sea_orm::entity::prelude::*;

/// One status change: who, why, when.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invoice_status_history")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub invoice_id: Uuid,
    /// `None` for the creation of the draft.
    pub from_status: Option<String>,
    pub to_status: String,
    /// The user who acted; `None` for the system (sweep, events).
    pub actor_id: Option<Uuid>,
    /// seller | admin | system | marketplace | payments
    pub actor: String,
    pub reason: Option<String>,
    pub at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
