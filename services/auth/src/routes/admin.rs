use actix_web::{HttpResponse, post, web};
use common::events::auth::UserStatusChanged;
use common::events::{AuthEvent, Envelope};
use common::ids::UserId;
use fred::prelude::KeysInterface;
use service_kit::auth::{AuthUser, RequireRole};
use service_kit::http::{ApiError, TokenErrors};
use uuid::Uuid;

use crate::domain::AuthError;
use crate::state::AppState;
use crate::store::entity::user::{ACTIVE, SUSPENDED};
use crate::store::sessions;
use crate::store::users::{self, UserView};

/// Suspend a user: they cannot log in or refresh, and every token issued before now is
/// refused by every service at once.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "Suspended", body = UserView),
        TokenErrors,
        (status = 403, description = "Not an admin"),
        (status = 404, description = "No such user"),
        (status = 409, description = "Already suspended, or an admin"),
    )
)]
#[post("/users/{id}/suspend")]
pub async fn suspend(
    state: web::Data<AppState>,
    admin: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    RequireRole::admin(&admin)?;
    change_status(
        &state,
        &admin,
        *id,
        ACTIVE,
        SUSPENDED,
        AuthEvent::UserSuspended,
    )
    .await
}

/// Lift a suspension. Tokens issued before the suspension stay refused.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "Active again", body = UserView),
        TokenErrors,
        (status = 403, description = "Not an admin"),
        (status = 404, description = "No such user"),
        (status = 409, description = "Not suspended"),
    )
)]
#[post("/users/{id}/reactivate")]
pub async fn reactivate(
    state: web::Data<AppState>,
    admin: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    RequireRole::admin(&admin)?;
    change_status(
        &state,
        &admin,
        *id,
        SUSPENDED,
        ACTIVE,
        AuthEvent::UserReactivated,
    )
    .await
}

async fn change_status(
    state: &AppState,
    admin: &AuthUser,
    id: Uuid,
    from: &'static str,
    to: &'static str,
    event: fn(UserStatusChanged) -> AuthEvent,
) -> Result<HttpResponse, ApiError> {
    let target = users::by_id(&state.db, UserId(id))
        .await?
        .ok_or(AuthError::NoSuchUser(UserId(id)))?;
    if users::role_of(&target)? == common::auth::Role::Admin {
        return Err(AuthError::AdminImmune.into());
    }
    let now = state.clock.now();
    if to == SUSPENDED {
        // The marker first: from this instant every older token is refused, even if the
        // database write below fails and is retried.
        let _: () = state
            .redis
            .set(
                state.keys.revoked_before(id),
                now.timestamp_millis(),
                Some(fred::types::Expiration::EX(
                    common::auth::ACCESS_TOKEN_MAX_SECS + 120,
                )),
                None,
                false,
            )
            .await?;
    }
    let txn = service_kit::db::begin_write(&state.db).await?;
    if !users::set_status(&txn, id, from, to, now).await? {
        return Err(AuthError::NotInStatus(from).into());
    }
    if to == SUSPENDED {
        sessions::revoke_all_of_user(&txn, id, now).await?;
    }
    let envelope = Envelope::of(
        event(UserStatusChanged {
            user_id: UserId(id),
            by: UserId(admin.id),
        }),
        state.clock.as_ref(),
    )
    .map_err(ApiError::internal)?;
    service_kit::outbox::add(&txn, &envelope).await?;
    let updated = users::by_id(&txn, UserId(id))
        .await?
        .ok_or(AuthError::NoSuchUser(UserId(id)))?;
    txn.commit().await?;
    state.relay.wake();
    tracing::info!(user_id = %id, admin_id = %admin.id, status = to, "User status changed.");
    Ok(HttpResponse::Ok().json(UserView::try_from(&updated)?))
}
