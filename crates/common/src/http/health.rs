use actix_web::{HttpResponse, get, web};
use fred::prelude::ClientLike;
use sea_orm::DatabaseConnection;
use serde::Serialize;
use utoipa::ToSchema;

use crate::redis::Pool;

/// What `/readyz` checks.
#[derive(Clone)]
pub struct Readiness {
    pub db: DatabaseConnection,
    pub redis: Pool,
}

#[derive(Serialize, ToSchema)]
pub struct HealthStatus {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<&'static str>,
}

/// Liveness: the process answers.
#[utoipa::path(tag = "health", responses((status = 200, description = "Alive", body = HealthStatus)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthStatus {
        status: "ok",
        redis: None,
        database: None,
    })
}

/// Readiness: Redis and the database answer.
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, description = "Ready", body = HealthStatus),
        (status = 503, description = "Redis or the database does not answer (or Redis is loading its dataset, or the service is still starting)", body = HealthStatus),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<Readiness>) -> HttpResponse {
    let redis = state.redis.next().ping::<String>(None).await;
    let redis_ok = redis.is_ok();
    let db_ok = crate::db::ping(&state.db).await.is_ok();
    let word = |ok: bool| if ok { "ok" } else { "down" };
    let body = HealthStatus {
        status: word(redis_ok && db_ok),
        redis: Some(match &redis {
            Ok(_) => "ok",
            Err(e) if crate::redis::is_loading(e) => "loading",
            Err(_) => "down",
        }),
        database: Some(word(db_ok)),
    };
    if redis_ok && db_ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
