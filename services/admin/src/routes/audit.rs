//! The audit log, for admins: search and verification.

use actix_web::{HttpResponse, get, web};
use service_kit::auth::{AuthUser, RequireRole};
use service_kit::cache::query_hash;
use service_kit::http::{ApiError, TokenErrors};

use crate::domain::AdminError;
use crate::domain::search::AuditParams;
use crate::outbound::AUDIT_SCOPE;
use crate::state::AppState;
use crate::store::audit::{self, AuditPage, Verification};

/// Audit rows matching the filters, newest first, in keyset pages. A search whose `to`
/// ends before the newest row can never change and is cached as it is; one reaching now
/// is cached under the log's generation, which every appended row bumps, so it never
/// misses a row committed before it. 600 s either way.
#[utoipa::path(
    tag = "audit",
    security(("bearer" = [])),
    params(AuditParams),
    responses(
        (status = 200, description = "One page, newest first", body = AuditPage),
        TokenErrors,
        (status = 403, description = "Not an admin"),
        (status = 422, description = "Unknown parameter or bad value (named in `errors`)"),
    )
)]
#[get("/audit")]
pub async fn search(
    state: web::Data<AppState>,
    user: AuthUser,
    params: web::Query<AuditParams>,
) -> Result<HttpResponse, ApiError> {
    RequireRole::admin(&user)?;
    let query = params.parse().map_err(ApiError::fields)?;
    let fixed = match query.to {
        Some(to) => to < audit::head(&state.db).await?.recorded_at,
        None => false,
    };
    let key = state.keys.audit_search(&query_hash(&format!(
        "{}|{}",
        if fixed { "fixed" } else { "live" },
        query.canonical()
    )));
    let ttl = common::keys::ttl::AUDIT_SEARCH;
    let db = state.db.clone();
    let fetch = move || async move { audit::search(&db, &query).await };
    let body = if fixed {
        state.cache.get_or_fetch_key_json(&key, ttl, fetch).await
    } else {
        state
            .cache
            .get_or_fetch_json(AUDIT_SCOPE, &key, ttl, fetch)
            .await
    }
    .map_err(|e| ApiError::internal(anyhow::anyhow!("{}", e.fetch_error())))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

/// Walks the whole chain: every row's hash recomputed from the one before (with the key
/// the database does not hold), the head row compared with the newest row and with the
/// head last copied outside the database. `ok` false names the first row at fault.
#[utoipa::path(
    tag = "audit",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What the walk found (`ok`, and the first bad row if not)", body = Verification),
        TokenErrors,
        (status = 403, description = "Not an admin"),
    )
)]
#[get("/audit/verify")]
pub async fn verify(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    RequireRole::admin(&user)?;
    let copied = crate::outbound::copied_head(&state)
        .await
        .map_err(|e| AdminError::CopyUnreadable(format!("{e:#}")))?;
    let found = audit::verify(&state.db, state.chain_key(), copied).await?;
    if !found.ok {
        tracing::error!(first_bad = ?found.first_bad, "The audit chain does not verify.");
    }
    Ok(HttpResponse::Ok().json(found))
}
