//! HTTP plumbing shared by every service: RFC 9457 problem+json errors, extractor
//! configuration that turns bad input into problems, request ids, health probes,
//! Prometheus metrics and the OpenAPI document with its UI.

mod app;
mod docs;
mod health;
mod middleware;
mod problem;

pub use app::{finish, metrics};
pub use docs::{BearerSecurity, api_docs};
pub use health::{Readiness, healthz, readyz};
pub use middleware::{RequestId, normalize_errors, request_id};
pub use problem::{ApiError, FieldError, PROBLEM_JSON, Problem};

use actix_web::{HttpRequest, HttpResponse, web};

/// JSON bodies: size limit and malformed/mistyped bodies as problems naming the field.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|err, _req| problem::from_json_error(err).into())
}

/// Query strings: unknown or mistyped parameters are 422 problems.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        ApiError::validation_message(format!("invalid query string: {err}")).into()
    })
}

/// Path segments that do not parse (a malformed id) are 404s: no such resource.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_err, req| {
        ApiError::NotFound(format!("no resource at {}", req.path())).into()
    })
}

/// The default service: a 404 problem for any route the service does not have.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    use actix_web::ResponseError;
    ApiError::NotFound(format!("no route for {} {}", req.method(), req.path())).error_response()
}

/// The client's address: `X-Forwarded-For`'s nearest untrusted hop when the socket peer is
/// a trusted proxy (the gateway), else the socket peer. A client cannot dodge a per-IP
/// limit by sending its own `X-Forwarded-For` unless it is itself a trusted proxy.
pub fn client_ip(req: &HttpRequest, trusted: &[crate::config::IpNet]) -> Option<std::net::IpAddr> {
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|net| net.contains(ip));
    let peer = req.peer_addr().map(|a| a.ip())?;
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter_map(|s| s.parse::<std::net::IpAddr>().ok())
        .collect::<Vec<_>>();
    // Walk from the right (nearest hop) past our own proxies.
    Some(
        forwarded
            .iter()
            .rev()
            .find(|ip| !is_trusted(ip))
            .copied()
            .unwrap_or(peer),
    )
}
