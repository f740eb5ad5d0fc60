//! Push devices: register (idempotent per token), list and remove your own.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service_kit::auth::AuthUser;
use service_kit::http::{ApiError, FieldError, JsonBodyErrors, TokenErrors};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::NotificationError;
use crate::state::AppState;
use crate::store::entity::device;

const PLATFORMS: [&str; 3] = ["android", "ios", "web"];

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceRequest {
    /// `android`, `ios` or `web`.
    #[schema(value_type = String, example = "android", pattern = "^(android|ios|web)$")]
    pub platform: Value,
    /// The push provider's registration token for this device: 1 to 512 visible ASCII
    /// characters (no spaces).
    #[schema(value_type = String, example = "fcm-registration-token", pattern = "^[!-~]{1,512}$")]
    pub token: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    pub id: Uuid,
    pub platform: String,
    /// The token's last 6 characters, at most half of it (tokens are credentials; the full
    /// one is not shown).
    pub token_tail: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&device::Model> for DeviceView {
    fn from(d: &device::Model) -> Self {
        Self {
            id: d.id,
            platform: d.platform.clone(),
            token_tail: crate::jobs::push::token_tail(&d.token),
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

fn field(name: &str, message: &str) -> FieldError {
    FieldError {
        field: name.to_owned(),
        message: message.to_owned(),
    }
}

/// Register this device for push. The same token again is the same device (200); a token
/// last registered by another user moves to you (the device changed hands).
#[utoipa::path(
    tag = "devices",
    security(("bearer" = [])),
    request_body = DeviceRequest,
    responses(
        (status = 201, description = "Registered", body = DeviceView),
        (status = 200, description = "Already registered to you", body = DeviceView),
        TokenErrors,
        JsonBodyErrors,
        (status = 409, description = "You have the most devices allowed; remove one"),
    )
)]
#[post("/devices")]
pub async fn register(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<DeviceRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let platform = match body.platform.as_str() {
        Some(p) if PLATFORMS.contains(&p) => Some(p.to_owned()),
        _ => {
            errors.push(field("platform", "one of android, ios, web"));
            None
        }
    };
    let token = match body.token.as_str() {
        Some(t) if (1..=512).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_graphic()) => {
            Some(t.to_owned())
        }
        _ => {
            errors.push(field(
                "token",
                "must be the provider's token: 1 to 512 visible ASCII characters",
            ));
            None
        }
    };
    let (Some(platform), Some(token)) = (platform, token) else {
        return Err(ApiError::fields(errors));
    };
    let now = state.clock.now();
    let txn = service_kit::db::begin_write(&state.db).await?;
    // The limit is a count then an insert: one user's registrations take turns (SQLite's
    // writers already do; on PostgreSQL a transaction lock on the user).
    if txn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        let (high, _) = user.id.as_u64_pair();
        txn.execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [i64::from_ne_bytes(high.to_ne_bytes()).into()],
        ))
        .await?;
    }
    let existing = device::Entity::find()
        .filter(device::Column::Token.eq(&token))
        .one(&*txn)
        .await?;
    if let Some(d) = &existing
        && d.user_id == user.id
    {
        device::Entity::update_many()
            .col_expr(device::Column::Platform, Expr::value(platform.clone()))
            .col_expr(device::Column::UpdatedAt, Expr::value(now))
            .filter(device::Column::Id.eq(d.id))
            .exec(&*txn)
            .await?;
        txn.commit().await?;
        let view = DeviceView::from(&device::Model {
            platform,
            updated_at: now,
            ..d.clone()
        });
        return Ok(HttpResponse::Ok().json(view));
    }
    let mine = device::Entity::find()
        .filter(device::Column::UserId.eq(user.id))
        .count(&*txn)
        .await?;
    if mine >= state.config.max_devices {
        return Err(NotificationError::TooManyDevices(mine).into());
    }
    if let Some(d) = &existing {
        device::Entity::delete_by_id(d.id).exec(&*txn).await?;
    }
    let model = device::Model {
        id: common::new_id_at(now),
        user_id: user.id,
        platform,
        token,
        created_at: now,
        updated_at: now,
    };
    device::Entity::insert(device::ActiveModel {
        id: Set(model.id),
        user_id: Set(model.user_id),
        platform: Set(model.platform.clone()),
        token: Set(model.token.clone()),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(&*txn)
    .await
    .map_err(|e| {
        if service_kit::db::is_unique_violation(&e) {
            ApiError::from(NotificationError::TokenJustRegistered)
        } else {
            e.into()
        }
    })?;
    txn.commit().await?;
    tracing::info!(device_id = %model.id, user_id = %user.id, "Device registered.");
    Ok(HttpResponse::Created().json(DeviceView::from(&model)))
}

/// Your push devices.
#[utoipa::path(
    tag = "devices",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Your devices, newest first", body = Vec<DeviceView>),
        TokenErrors,
    )
)]
#[get("/devices")]
pub async fn list(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let rows = device::Entity::find()
        .filter(device::Column::UserId.eq(user.id))
        .order_by_desc(device::Column::Id)
        .all(&state.db)
        .await?;
    Ok(HttpResponse::Ok().json(rows.iter().map(DeviceView::from).collect::<Vec<_>>()))
}

/// Stop pushing to one of your devices.
#[utoipa::path(
    tag = "devices",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Device id")),
    responses(
        (status = 204, description = "Removed"),
        TokenErrors,
        (status = 404, description = "No such device of yours"),
    )
)]
#[delete("/devices/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let gone = device::Entity::delete_many()
        .filter(device::Column::Id.eq(id))
        .filter(device::Column::UserId.eq(user.id))
        .exec(&state.db)
        .await?
        .rows_affected;
    if gone == 0 {
        return Err(NotificationError::NoDevice(id).into());
    }
    Ok(HttpResponse::NoContent().finish())
}
