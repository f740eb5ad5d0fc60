//! A user's own notifications: list, unread count, mark read.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use service_kit::auth::AuthUser;
use service_kit::http::{ApiError, FieldError, TokenErrors};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::NotificationError;
use crate::state::AppState;
use crate::store::{self, NotificationView};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only notifications older than this one (the previous page's `next_cursor`).
    #[param(value_type = Option<Uuid>)]
    pub before: Option<String>,
    /// Items per page, 1 to 100 (default 20).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPage {
    /// Newest first.
    pub items: Vec<NotificationView>,
    /// Pass as `before` for the next (older) page; null on the last page.
    pub next_cursor: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadCount {
    pub unread: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadAll {
    /// Notifications this call marked read.
    pub marked: u64,
    /// Unread after it (new ones may have arrived meanwhile).
    pub unread: u64,
}

fn field(name: &str, message: &str) -> FieldError {
    FieldError {
        field: name.to_owned(),
        message: message.to_owned(),
    }
}

/// Your notifications, newest first, with their read state.
#[utoipa::path(
    tag = "notifications",
    security(("bearer" = [])),
    params(ListParams),
    responses(
        (status = 200, description = "One page", body = NotificationPage),
        TokenErrors,
        (status = 422, description = "Bad or unknown parameter (named in `errors`)"),
    )
)]
#[get("")]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let before = match params.before.as_deref() {
        None => None,
        Some(s) => match s.parse::<Uuid>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push(field("before", "must be a notification id (a UUID)"));
                None
            }
        },
    };
    let limit = match params.limit.as_deref() {
        None => 20,
        Some(s) => match s.parse::<u64>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => {
                errors.push(field("limit", "must be a whole number from 1 to 100"));
                20
            }
        },
    };
    if !errors.is_empty() {
        return Err(ApiError::fields(errors));
    }
    let (rows, more) = store::page(&state, user.id, before, limit).await?;
    let next_cursor = if more {
        rows.last().map(|r| r.id)
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(NotificationPage {
        items: rows
            .iter()
            .map(NotificationView::try_from)
            .collect::<Result<_, _>>()?,
        next_cursor,
    }))
}

/// How many of your notifications are unread.
#[utoipa::path(
    tag = "notifications",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The count", body = UnreadCount),
        TokenErrors,
    )
)]
#[get("/unread-count")]
pub async fn unread_count(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let unread = store::unread_count(&state, user.id)
        .await
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(UnreadCount { unread }))
}

/// Mark one of your notifications read (again is fine).
#[utoipa::path(
    tag = "notifications",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Notification id")),
    responses(
        (status = 200, description = "The notification, read", body = NotificationView),
        TokenErrors,
        (status = 404, description = "No such notification of yours"),
    )
)]
#[post("/{id}/read")]
pub async fn read(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    match store::mark_read(&state, user.id, id)
        .await
        .map_err(ApiError::internal)?
    {
        Some(n) => Ok(HttpResponse::Ok().json(NotificationView::try_from(&n)?)),
        None => Err(NotificationError::NoNotification(id).into()),
    }
}

/// Mark all your notifications read.
#[utoipa::path(
    tag = "notifications",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "How many were marked, and the count after", body = ReadAll),
        TokenErrors,
    )
)]
#[post("/read-all")]
pub async fn read_all(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let (marked, unread) = store::mark_all_read(&state, user.id)
        .await
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(ReadAll { marked, unread }))
}
