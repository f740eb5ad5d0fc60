use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};
use common::http::{ApiError, client_ip};

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
    let ip = client_ip(req.request(), &state.config.base.trusted_proxies)
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".into());
    let quota = state.config.requests_per_ip;
    let decision = match state.limiter.check("auth-ip", &ip, quota).await {
        Ok(d) => d,
        Err(e) => {
            let res = ApiError::from(e).error_response();
            return Ok(req.into_response(res));
        }
    };
    let headers = decision.headers("auth").pairs();
    if !decision.allowed {
        let mut res = ApiError::TooManyRequests {
            detail: format!("too many requests from {ip}; slow down"),
            retry_after_secs: decision.retry_after.as_secs().max(1),
        }
        .error_response();
        for (name, value) in &headers {
            insert(res.headers_mut(), name, value);
        }
        return Ok(req.into_response(res));
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    for (name, value) in &headers {
        insert(res.headers_mut(), name, value);
    }
    Ok(res)
}

fn insert(headers: &mut actix_web::http::header::HeaderMap, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::from_str(value)) {
        headers.insert(n, v);
    }
}
