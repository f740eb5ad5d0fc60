use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};
use service_kit::http::ApiError;

use crate::state::AppState;

/// Requests per client IP on `/api/auth` (GCRA in Redis, shared by every auth instance).
/// Adds `RateLimit` and `RateLimit-Policy` headers; past the limit, a 429 problem with
/// `Retry-After`. If Redis cannot answer, the request is refused (503), not waved through.
pub async fn per_ip_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let ip = state.client_key(req.request());
    let quota = state.config.requests_per_ip;
    let decision = match state.limiter.check("auth-ip", &ip, quota).await {
        Ok(d) => d,
        Err(e) => {
            let res = ApiError::from(e).error_response();
            return Ok(req.into_response(res));
        }
    };
    let mut res = if decision.allowed {
        next.call(req).await?.map_into_boxed_body()
    } else {
        let refused = ApiError::TooManyRequests {
            detail: format!("too many requests from {ip}; slow down"),
            retry_after_secs: decision.retry_after.as_secs().max(1),
        }
        .error_response();
        req.into_response(refused)
    };
    // RateLimit, RateLimit-Policy and (when refused) Retry-After, on every answer.
    for (name, value) in decision.headers("auth").pairs() {
        insert(res.headers_mut(), name, &value);
    }
    Ok(res)
}

fn insert(headers: &mut actix_web::http::header::HeaderMap, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::from_str(value)) {
        headers.insert(n, v);
    }
}
