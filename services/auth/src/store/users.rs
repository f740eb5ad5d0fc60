//! Users: creation (with its `user.registered` event in the same transaction), lookups
//! and status changes.

use chrono::{DateTime, Utc};
use common::auth::{KycStatus, Role};
use common::enums::{BadStoredValue, stored};
use common::events::Envelope;
use common::events::{AuthEvent, auth::UserRegistered};
use common::ids::UserId;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::store::entity::user;

/// A user as the API shows it (never a password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub full_name: String,
    pub company_name: Option<String>,
    pub kyc_status: KycStatus,
    /// `active` or `suspended`
    pub status: String,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<&user::Model> for UserView {
    type Error = BadStoredValue;
    fn try_from(u: &user::Model) -> Result<Self, BadStoredValue> {
        Ok(Self {
            id: u.id,
            email: u.email.clone(),
            role: role_of(u)?,
            full_name: u.full_name.clone(),
            company_name: u.company_name.clone(),
            kyc_status: kyc_of(u)?,
            status: u.status.clone(),
            created_at: u.created_at,
        })
    }
}

/// The user's role, or an error naming the row if the stored word is not a role.
pub fn role_of(u: &user::Model) -> Result<Role, BadStoredValue> {
    stored("users", u.id, "role", &u.role)
}

/// The user's KYC standing, or an error naming the row.
pub fn kyc_of(u: &user::Model) -> Result<KycStatus, BadStoredValue> {
    stored("users", u.id, "kyc_status", &u.kyc_status)
}

pub struct NewUser {
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub full_name: String,
    pub company_name: Option<String>,
}

/// Inserts the user and its `user.registered` event (outbox) with `db`, which should be
/// a transaction. A duplicate email is a unique violation.
pub async fn create<C: ConnectionTrait>(
    db: &C,
    new: NewUser,
    now: DateTime<Utc>,
    clock: &dyn common::Clock,
) -> Result<user::Model, anyhow::Error> {
    let id = common::new_id_at(now);
    let model = user::ActiveModel {
        id: Set(id),
        email: Set(new.email),
        password_hash: Set(new.password_hash),
        role: Set(new.role.as_str().to_owned()),
        full_name: Set(new.full_name),
        company_name: Set(new.company_name),
        kyc_status: Set(KycStatus::None.as_str().to_owned()),
        status: Set(user::ACTIVE.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    let event = Envelope::of(
        AuthEvent::UserRegistered(UserRegistered {
            user_id: UserId(model.id),
            email: model.email.clone(),
            role: new.role,
            full_name: model.full_name.clone(),
        }),
        clock,
    )?;
    service_kit::outbox::add(db, &event).await?;
    Ok(model)
}

pub async fn by_email<C: ConnectionTrait>(
    db: &C,
    email: &str,
) -> Result<Option<user::Model>, sea_orm::DbErr> {
    user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(db)
        .await
}

pub async fn by_id<C: ConnectionTrait>(
    db: &C,
    id: UserId,
) -> Result<Option<user::Model>, sea_orm::DbErr> {
    user::Entity::find_by_id(id.uuid()).one(db).await
}

/// Moves a user from `from` to `to` status; false when the user was not in `from`.
pub async fn set_status<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    from: &str,
    to: &str,
    now: DateTime<Utc>,
) -> Result<bool, sea_orm::DbErr> {
    let res = user::Entity::update_many()
        .col_expr(user::Column::Status, Expr::value(to))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.eq(id))
        .filter(user::Column::Status.eq(from))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn set_kyc<C: ConnectionTrait>(
    db: &C,
    id: UserId,
    kyc: KycStatus,
    now: DateTime<Utc>,
) -> Result<bool, sea_orm::DbErr> {
    let res = user::Entity::update_many()
        .col_expr(user::Column::KycStatus, Expr::value(kyc.as_str()))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}
