use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers, Next};
use actix_web::{HttpMessage, HttpResponse};
use uuid::Uuid;

use super::problem::{PROBLEM_JSON, Problem};

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id: the caller's `X-Request-Id` when it is sane, else a new UUIDv7.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn sane_request_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    (!s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)))
    .then(|| s.to_owned())
}

/// Takes or makes the request id, records it on the span, and echoes it on the response.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(X_REQUEST_ID)
        .and_then(sane_request_id)
        .unwrap_or_else(|| Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    tracing::Span::current().record("request_id", id.as_str());
    let mut res = next.call(req).await?;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(X_REQUEST_ID, v);
    }
    Ok(res)
}

/// Rewrites any 4xx/5xx that is not already problem+json (actix's own text bodies for
/// unknown methods, payload errors, ...) into a problem. `/readyz`'s 503 keeps its
/// health body (what is down is what a probe's reader wants, as its OpenAPI entry says).
pub fn normalize_errors<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(|res: ServiceResponse<B>| {
        let is_problem = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with(PROBLEM_JSON));
        let is_probe = res.request().path() == "/readyz"
            && res.status() == actix_web::http::StatusCode::SERVICE_UNAVAILABLE;
        if is_problem || is_probe {
            return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
        }
        let status = res.status();
        let detail = res
            .response()
            .error()
            .map(|e| e.to_string())
            .filter(|d| !d.is_empty() && status.is_client_error())
            .unwrap_or_else(|| {
                status
                    .canonical_reason()
                    .unwrap_or("error")
                    .to_ascii_lowercase()
            });
        let problem = Problem::new(status, detail);
        let (req, old) = res.into_parts();
        let mut new: HttpResponse<BoxBody> = problem.response();
        for (name, value) in old.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                new.headers_mut().append(name.clone(), value.clone());
            }
        }
        let res = ServiceResponse::new(req, new).map_into_right_body::<B>();
        Ok(ErrorHandlerResponse::Response(res))
    })
}
