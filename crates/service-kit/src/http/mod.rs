//! HTTP plumbing shared by every service: RFC 9457 problem+json errors, extractor
//! configuration that turns bad input into problems, request ids, health probes,
//! Prometheus metrics and the OpenAPI document with its UI.

mod app;
mod dates;
mod docs;
mod handover;
mod health;
mod middleware;
mod problem;
mod responses;
mod starting;
pub mod version;

pub use crate::mount::{Mount, WithPages};

pub(crate) use app::SHUTDOWN_TIMEOUT_SECS;
pub use app::{AppFactory, finish, metrics, serve};
pub use dates::iso_date;
pub use docs::{BearerSecurity, ProblemResponses, api_docs};
pub use handover::{Handover, Upgrades};
pub use health::{Readiness, healthz, readyz};
pub use middleware::{RequestId, normalize_errors, request_id};
pub use problem::{ApiError, FieldError, PROBLEM_JSON, Problem};
pub use responses::{JsonBodyErrors, TokenErrors, VersionErrors};
pub use starting::Starting;

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
    web::PathConfig::default().error_handler(|err, req| {
        // A documented path of its own (`/api/invoices/popular`) asked with a method only
        // its templated neighbour takes (`PATCH /api/invoices/{id}`): 405, as for any
        // known path, not a 404 for an id that is not one.
        let known = req.app_data::<actix_web::web::Data<KnownRoutes>>();
        if let Some(methods) = known.and_then(|k| k.literal(req.path()))
            && !methods.iter().any(|m| m == req.method().as_str())
        {
            let res = method_not_allowed(req, methods);
            return actix_web::error::InternalError::from_response(err, res).into();
        }
        ApiError::NotFound(format!("no resource at {}", req.path())).into()
    })
}

/// The paths of the service's OpenAPI document with their methods, so that a known path
/// asked with another method is a 405 with `Allow`, not a 404.
#[derive(Clone, Default)]
pub struct KnownRoutes(std::sync::Arc<Vec<(actix_web::dev::ResourceDef, Vec<String>)>>);

impl KnownRoutes {
    pub fn from_openapi(api: &utoipa::openapi::OpenApi) -> Self {
        let routes = api
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let def = actix_web::dev::ResourceDef::new(path.as_str());
                let value = serde_json::to_value(item).unwrap_or_default();
                let methods = ["get", "put", "post", "delete", "patch", "head", "options"]
                    .iter()
                    .filter(|m| value.get(**m).is_some())
                    .map(|m| m.to_ascii_uppercase())
                    .collect();
                (def, methods)
            })
            .collect();
        Self(std::sync::Arc::new(routes))
    }

    /// The methods of the documented path that is exactly `path` (no template).
    fn literal(&self, path: &str) -> Option<&[String]> {
        self.0
            .iter()
            .find(|(def, _)| !def.pattern().is_some_and(|p| p.contains('{')) && def.is_match(path))
            .map(|(_, methods)| methods.as_slice())
    }

    fn allowed(&self, path: &str) -> Option<&[String]> {
        self.0
            .iter()
            .find(|(def, _)| def.is_match(path))
            .map(|(_, methods)| methods.as_slice())
    }
}

/// The default service: a 405 problem (with `Allow`) for a known path asked with another
/// method, a 404 problem for anything else.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    use actix_web::ResponseError;
    let known = req.app_data::<actix_web::web::Data<KnownRoutes>>();
    if let Some(methods) = known.and_then(|k| k.allowed(req.path())) {
        return method_not_allowed(&req, methods);
    }
    ApiError::NotFound(format!("no route for {} {}", req.method(), req.path())).error_response()
}

/// A 405 problem naming what `req`'s path accepts, with `Allow`.
fn method_not_allowed(req: &HttpRequest, methods: &[String]) -> HttpResponse {
    let mut res = Problem::new(
        actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} does not accept {}; it accepts {}",
            req.path(),
            req.method(),
            methods.join(", ")
        ),
    )
    .response();
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&methods.join(", ")) {
        res.headers_mut().insert(actix_web::http::header::ALLOW, v);
    }
    res
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
