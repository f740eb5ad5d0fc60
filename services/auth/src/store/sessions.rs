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

use crate::domain::RefreshRefusal;
use crate::store::entity::{refresh_token, user};
use crate::store::users::{kyc_of, role_of};

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

/// A new session step, signed but not stored yet: the CPU work (RSA signing) happens
/// before the write transaction, which then only inserts `row`.
pub struct Prepared {
    pub pair: TokenPair,
    row: refresh_token::ActiveModel,
}

/// Signs an access token and makes a new refresh token in `family`.
pub fn prepare(
    signer: &JwtSigner,
    user: &user::Model,
    family: Uuid,
    refresh_ttl: Duration,
    now: DateTime<Utc>,
) -> anyhow::Result<Prepared> {
    let refresh = new_refresh_token();
    let row = refresh_token::ActiveModel {
        id: Set(common::new_id_at(now)),
        family_id: Set(family),
        user_id: Set(user.id),
        token_hash: Set(hash_token(&refresh)),
        created_at: Set(now),
        expires_at: Set(now + refresh_ttl),
        used_at: Set(None),
        revoked_at: Set(None),
    };
    let claims = signer.claims(user.id, role_of(user)?, kyc_of(user)?, family, now);
    Ok(Prepared {
        pair: TokenPair {
            access_token: signer.sign(&claims)?,
            refresh_token: refresh,
            token_type: "Bearer",
            expires_in: signer.ttl_secs(),
        },
        row,
    })
}

impl Prepared {
    /// Stores the refresh token (in the caller's transaction) and hands out the pair.
    pub async fn store<C: ConnectionTrait>(self, db: &C) -> Result<TokenPair, sea_orm::DbErr> {
        self.row.insert(db).await?;
        Ok(self.pair)
    }
}

/// The refresh token's row, if the token exists.
pub async fn find_refresh_token<C: ConnectionTrait>(
    db: &C,
    token: &str,
) -> Result<Option<refresh_token::Model>, sea_orm::DbErr> {
    refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash_token(token)))
        .one(db)
        .await
}

/// Whether the token of `row` may still be used (not revoked, not expired).
pub fn check_usable(row: &refresh_token::Model, now: DateTime<Utc>) -> Result<(), RefreshRefusal> {
    if row.revoked_at.is_some() {
        return Err(RefreshRefusal::Revoked);
    }
    if row.expires_at <= now {
        return Err(RefreshRefusal::Expired);
    }
    Ok(())
}

/// Uses the token of `row` once (a conditional update, atomic on both databases). On
/// reuse the family is revoked.
pub async fn use_refresh_token<C: ConnectionTrait>(
    db: &C,
    row: &refresh_token::Model,
    now: DateTime<Utc>,
) -> Result<Result<(), RefreshRefusal>, sea_orm::DbErr> {
    if let Err(refusal) = check_usable(row, now) {
        return Ok(Err(refusal));
    }
    let used = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(row.id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    if used.rows_affected == 1 {
        Ok(Ok(()))
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
