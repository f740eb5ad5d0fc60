//! Sessions: an access token plus a rotating refresh token. The refresh tokens of one
//! login form a family (the access token's `sid`); each works once; a used one presented
//! again revokes the whole family (someone copied it).

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use common::auth::JwtSigner;
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::entity::{refresh_token, user};
use crate::users::{kyc_of, role_of};

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Issues an access token and a new refresh token in `family`.
pub async fn issue<C: ConnectionTrait>(
    db: &C,
    signer: &JwtSigner,
    user: &user::Model,
    family: Uuid,
    refresh_ttl: Duration,
    now: DateTime<Utc>,
) -> anyhow::Result<TokenPair> {
    let refresh = new_refresh_token();
    refresh_token::ActiveModel {
        id: Set(common::new_id_at(now)),
        family_id: Set(family),
        user_id: Set(user.id),
        token_hash: Set(hash_token(&refresh)),
        created_at: Set(now),
        expires_at: Set(now + refresh_ttl),
        used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    let claims = signer.claims(user.id, role_of(user), kyc_of(user), family, now);
    Ok(TokenPair {
        access_token: signer.sign(&claims)?,
        refresh_token: refresh,
        token_type: "Bearer",
        expires_in: signer.ttl_secs(),
    })
}

/// Why a refresh token was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum RefreshRefusal {
    Unknown,
    Expired,
    Revoked,
    /// Presented a second time: the family is now revoked.
    Reused,
}

/// Uses the token once (a conditional update, atomic on both databases). On reuse the
/// family is revoked.
pub async fn use_refresh_token<C: ConnectionTrait>(
    db: &C,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Result<refresh_token::Model, RefreshRefusal>, sea_orm::DbErr> {
    let Some(row) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash_token(token)))
        .one(db)
        .await?
    else {
        return Ok(Err(RefreshRefusal::Unknown));
    };
    if row.revoked_at.is_some() {
        return Ok(Err(RefreshRefusal::Revoked));
    }
    if row.expires_at <= now {
        return Ok(Err(RefreshRefusal::Expired));
    }
    let used = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(row.id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    if used.rows_affected == 1 {
        Ok(Ok(row))
    } else {
        revoke_family(db, row.family_id, now).await?;
        tracing::warn!(family = %row.family_id, user_id = %row.user_id, "Refresh token reused; session revoked.");
        Ok(Err(RefreshRefusal::Reused))
    }
}

pub async fn revoke_family<C: ConnectionTrait>(
    db: &C,
    family: Uuid,
    now: DateTime<Utc>,
) -> Result<u64, sea_orm::DbErr> {
    let res = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::FamilyId.eq(family))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

pub async fn revoke_all_of_user<C: ConnectionTrait>(
    db: &C,
    user: Uuid,
    now: DateTime<Utc>,
) -> Result<u64, sea_orm::DbErr> {
    let res = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::UserId.eq(user))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
