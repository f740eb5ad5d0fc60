//! Second factors ([`crate::domain::totp`]): set up, confirmed by a first code, and each
//! accepted code's step recorded with a conditional update, so that two logins racing
//! with one code cannot both pass. Secrets are stored encrypted (AES-256-GCM, the kit's
//! [`FieldCipher`], key `AUTH_TOTP_KEY` or its file): a copy of the database alone does
//! not give anyone an admin's codes.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
};
use secrecy::ExposeSecret;
use service_kit::crypto::FieldCipher;
use uuid::Uuid;

use super::entity::totp_factor::{self, ActiveModel, Column, Entity};

/// The variable that names the second factors' key (its errors say so).
pub const KEY_VAR: &str = "AUTH_TOTP_KEY";

/// The cipher of the configured key (`AUTH_TOTP_KEY`, else its file, generated there when
/// `JWT_GENERATE_KEY` allows).
pub fn cipher(config: &crate::config::AuthConfig) -> anyhow::Result<FieldCipher> {
    FieldCipher::load(
        KEY_VAR,
        config.totp_key.clone(),
        &config.totp_key_file,
        config.generate_key,
    )
}

/// The secret of a stored factor, as bytes (kept as base32, encrypted; a secret stored
/// before encryption, plain base32, is read as it is until [`encrypt_plain`] runs).
pub fn secret_of(cipher: &FieldCipher, factor: &totp_factor::Model) -> anyhow::Result<Vec<u8>> {
    let base32 = if factor.secret.starts_with("v1:") {
        let opened = cipher
            .decrypt(&factor.secret)
            .map_err(|e| anyhow::anyhow!("a stored TOTP secret: {e}"))?;
        opened.expose_secret().to_owned()
    } else {
        factor.secret.clone()
    };
    crate::domain::totp::from_base32(&base32)
        .ok_or_else(|| anyhow::anyhow!("a stored TOTP secret is not base32"))
}

/// Encrypts the secrets stored before encryption (plain base32), once, at start-up.
pub async fn encrypt_plain<C: ConnectionTrait>(
    db: &C,
    cipher: &FieldCipher,
) -> anyhow::Result<usize> {
    let plain = Entity::find()
        .filter(Column::Secret.not_like("v1:%"))
        .all(db)
        .await?;
    for factor in &plain {
        Entity::update_many()
            .col_expr(Column::Secret, Expr::value(cipher.encrypt(&factor.secret)))
            .filter(Column::UserId.eq(factor.user_id))
            .filter(Column::Secret.eq(factor.secret.clone()))
            .exec(db)
            .await?;
    }
    if !plain.is_empty() {
        tracing::info!(
            count = plain.len(),
            "Second-factor secrets encrypted at rest."
        );
    }
    Ok(plain.len())
}

/// The user's factor, pending or confirmed.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
) -> anyhow::Result<Option<totp_factor::Model>> {
    Ok(Entity::find_by_id(user_id).one(db).await?)
}

/// The user's factor if a code has confirmed it (sign-in asks for a code then).
pub async fn confirmed<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
) -> anyhow::Result<Option<totp_factor::Model>> {
    Ok(find(db, user_id)
        .await?
        .filter(|f| f.confirmed_at.is_some()))
}

/// Replaces a pending factor's secret (or starts one); `false`, changing nothing, when a
/// confirmed factor is there.
pub async fn set_pending<C: ConnectionTrait>(
    db: &C,
    cipher: &FieldCipher,
    user_id: Uuid,
    secret: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    Entity::delete_many()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::ConfirmedAt.is_null())
        .exec(db)
        .await?;
    if find(db, user_id).await?.is_some() {
        return Ok(false);
    }
    Entity::insert(ActiveModel {
        user_id: Set(user_id),
        secret: Set(cipher.encrypt(secret)),
        created_at: Set(now),
        confirmed_at: Set(None),
        last_used_step: Set(None),
    })
    .exec(db)
    .await?;
    Ok(true)
}

/// Confirms the pending factor with the code of `step`; `false` if it was not pending.
pub async fn confirm<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    step: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let done = Entity::update_many()
        .col_expr(Column::ConfirmedAt, Expr::value(now))
        .col_expr(Column::LastUsedStep, Expr::value(step))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::ConfirmedAt.is_null())
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Records that the code of `step` was used; `false` if that step (or a later one) was
/// used already: the code does not work twice.
pub async fn use_step<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    step: i64,
) -> anyhow::Result<bool> {
    let done = Entity::update_many()
        .col_expr(Column::LastUsedStep, Expr::value(step))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::ConfirmedAt.is_not_null())
        .filter(
            Condition::any()
                .add(Column::LastUsedStep.is_null())
                .add(Column::LastUsedStep.lt(step)),
        )
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Removes the user's factor (`auth reset-totp`, when an admin lost the device).
pub async fn remove<C: ConnectionTrait>(db: &C, user_id: Uuid) -> anyhow::Result<bool> {
    let done = Entity::delete_many()
        .filter(Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(done.rows_affected > 0)
}
