//! The per-user KYC row: status transitions as conditional updates (right on PostgreSQL
//! and SQLite alike), each bumping the version the cache is ordered by.

use chrono::{DateTime, Utc};
use common::auth::Role;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use crate::domain::ProfileStatus;
use crate::store::entity::profile;

/// Records an upload: creates the profile (`pending`) or moves `none` to `pending`, and
/// bumps the version. `false` when uploads are closed (in review or approved).
pub async fn record_upload<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    role: Role,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    profile::Entity::insert(profile::ActiveModel {
        user_id: Set(user_id),
        role: Set(role.as_str().to_owned()),
        status: Set(ProfileStatus::None.as_str().to_owned()),
        version: Set(0),
        submission_id: Set(None),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(profile::Column::UserId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    let moved = profile::Entity::update_many()
        .col_expr(
            profile::Column::Status,
            Expr::case(
                profile::Column::Status.eq(ProfileStatus::None.as_str()),
                ProfileStatus::Pending.as_str(),
            )
            .finally(Expr::col(profile::Column::Status))
            .into(),
        )
        .col_expr(
            profile::Column::Version,
            Expr::col(profile::Column::Version).add(1),
        )
        .col_expr(profile::Column::UpdatedAt, Expr::value(now))
        .filter(profile::Column::UserId.eq(user_id))
        .filter(profile::Column::Status.is_in(uploadable()))
        .exec(db)
        .await?;
    Ok(moved.rows_affected == 1)
}

fn uploadable() -> Vec<&'static str> {
    [
        ProfileStatus::None,
        ProfileStatus::Pending,
        ProfileStatus::Rejected,
    ]
    .into_iter()
    .filter(|s| s.can_upload())
    .map(ProfileStatus::as_str)
    .collect()
}

/// Bumps the version (a document's result changed what the overview shows).
pub async fn bump<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    profile::Entity::update_many()
        .col_expr(
            profile::Column::Version,
            Expr::col(profile::Column::Version).add(1),
        )
        .col_expr(profile::Column::UpdatedAt, Expr::value(now))
        .filter(profile::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Moves the profile from one of `from` to `to` (and points it at `submission_id`).
/// `false` if it was in none of `from` (or, given `expected_version`, changed since).
pub async fn transition<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    from: &[ProfileStatus],
    to: ProfileStatus,
    submission_id: Uuid,
    expected_version: Option<i64>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let mut update = profile::Entity::update_many();
    if let Some(v) = expected_version {
        update = update.filter(profile::Column::Version.eq(v));
    }
    let res = update
        .col_expr(profile::Column::Status, Expr::value(to.as_str()))
        .col_expr(profile::Column::SubmissionId, Expr::value(submission_id))
        .col_expr(
            profile::Column::Version,
            Expr::col(profile::Column::Version).add(1),
        )
        .col_expr(profile::Column::UpdatedAt, Expr::value(now))
        .filter(profile::Column::UserId.eq(user_id))
        .filter(profile::Column::Status.is_in(from.iter().map(|s| s.as_str())))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn find<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
) -> Result<Option<profile::Model>, DbErr> {
    profile::Entity::find_by_id(user_id).one(db).await
}
