//! The dashboard, time series and user statistics, for admins.

use actix_web::{HttpResponse, get, web};
use service_kit::auth::{AuthUser, RequireRole};
use service_kit::http::{ApiError, TokenErrors};

use crate::domain::stats::{MetricParams, StatsParams};
use crate::outbound::{DASHBOARD_SCOPE, USERS_SCOPE};
use crate::state::AppState;
use crate::store::queries::{self, Dashboard, Series, UserStats};

fn cache_failed(e: service_kit::cache::CacheError) -> ApiError {
    ApiError::internal(anyhow::anyhow!("{}", e.fetch_error()))
}

/// The platform at a glance, from admin's read models: users by role and KYC status,
/// the KYC queue and its oldest, invoices by state, offers today, and per currency in
/// minor units listed, funded (prices paid), repaid, overdue and defaulted face value
/// and fee revenue. Cached in `admin:dashboard` (300 s, and until the next event); one
/// computation at a time.
#[utoipa::path(
    tag = "dashboard",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The dashboard, with `generated_at`", body = Dashboard),
        TokenErrors,
        (status = 403, description = "Not an admin"),
    )
)]
#[get("/dashboard")]
pub async fn dashboard(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    RequireRole::admin(&user)?;
    let (db, now) = (state.db.clone(), state.clock.now());
    let body = state
        .cache
        .get_or_fetch_json(
            DASHBOARD_SCOPE,
            &state.keys.admin_dashboard(),
            common::keys::ttl::ADMIN_DASHBOARD,
            || async move { queries::dashboard(&db, now).await },
        )
        .await
        .map_err(cache_failed)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

/// A metric per day or week (sign-ups, KYC decisions, listed, offers, funded, repaid,
/// fee revenue), every bucket present, per currency for money.
#[utoipa::path(
    tag = "dashboard",
    security(("bearer" = [])),
    params(MetricParams),
    responses(
        (status = 200, description = "The series", body = Series),
        TokenErrors,
        (status = 403, description = "Not an admin"),
        (status = 422, description = "Unknown parameter or bad value (named in `errors`)"),
    )
)]
#[get("/metrics")]
pub async fn metrics(
    state: web::Data<AppState>,
    user: AuthUser,
    params: web::Query<MetricParams>,
) -> Result<HttpResponse, ApiError> {
    RequireRole::admin(&user)?;
    let q = params
        .parse(state.clock.now().date_naive())
        .map_err(ApiError::fields)?;
    Ok(
        HttpResponse::Ok()
            .json(queries::series(&state.db, q.metric, q.bucket, q.from, q.to).await?),
    )
}

/// Sign-ups, KYC approvals and rejections, and active sellers and investors per day
/// (30), week (12) or month (12). Cached in `admin:users:{period}` (1800 s, and until the
/// next event).
#[utoipa::path(
    tag = "dashboard",
    security(("bearer" = [])),
    params(StatsParams),
    responses(
        (status = 200, description = "The buckets, oldest first", body = UserStats),
        TokenErrors,
        (status = 403, description = "Not an admin"),
        (status = 422, description = "Unknown parameter or bad value (named in `errors`)"),
    )
)]
#[get("/users/stats")]
pub async fn user_stats(
    state: web::Data<AppState>,
    user: AuthUser,
    params: web::Query<StatsParams>,
) -> Result<HttpResponse, ApiError> {
    RequireRole::admin(&user)?;
    let period = params.parse().map_err(ApiError::fields)?;
    let (db, now) = (state.db.clone(), state.clock.now());
    let body = state
        .cache
        .get_or_fetch_json(
            USERS_SCOPE,
            &state.keys.admin_users(period.as_str()),
            common::keys::ttl::ADMIN_USERS,
            || async move { queries::user_stats(&db, period, now).await },
        )
        .await
        .map_err(cache_failed)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}
