use actix_web::{HttpResponse, get, web};
use fred::prelude::ClientLike;
use sea_orm::DatabaseConnection;
use serde::Serialize;
use utoipa::ToSchema;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::heartbeat::{TaskHealth, TaskState};
use crate::redis::Pool;

/// What `/readyz` checks: Redis, the database and the service's background tasks.
#[derive(Clone)]
pub struct Readiness {
    pub db: DatabaseConnection,
    pub redis: Pool,
    pub tasks: Arc<dyn TaskHealth>,
}

#[derive(Serialize, ToSchema)]
pub struct HealthStatus {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<&'static str>,
    /// Each background task's state; ready only when every one is `running`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tasks: Option<BTreeMap<String, TaskState>>,
}

/// Liveness: the process answers.
#[utoipa::path(tag = "health", responses((status = 200, description = "Alive", body = HealthStatus)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthStatus {
        status: "ok",
        redis: None,
        database: None,
        tasks: None,
    })
}

/// Readiness: Redis and the database answer, and every background task runs (beats).
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, description = "Ready", body = HealthStatus),
        (status = 503, description = "Redis or the database does not answer (or Redis is loading its dataset, or the service is still starting), or a background task is starting, stalled or restarting", body = HealthStatus),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<Readiness>) -> HttpResponse {
    let redis = state.redis.next().ping::<String>(None).await;
    let redis_ok = redis.is_ok();
    let db_ok = crate::db::ping(&state.db).await.is_ok();
    let tasks: BTreeMap<String, TaskState> = state.tasks.tasks().into_iter().collect();
    let tasks_ok = tasks.values().all(|t| t.is_ready());
    let ready = redis_ok && db_ok && tasks_ok;
    let word = |ok: bool| if ok { "ok" } else { "down" };
    let body = HealthStatus {
        status: word(ready),
        redis: Some(match &redis {
            Ok(_) => "ok",
            Err(e) if crate::redis::is_loading(e) => "loading",
            Err(_) => "down",
        }),
        database: Some(word(db_ok)),
        tasks: (!tasks.is_empty()).then_some(tasks),
    };
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
