use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, Error, web};
use actix_web_prom::PrometheusMetrics;
use tracing_actix_web::TracingLogger;
use utoipa::openapi::OpenApi;

use super::{
    KnownRoutes, Readiness, api_docs, json_config, normalize_errors, not_found, path_config,
    query_config, request_id,
};
use crate::telemetry::VestioRootSpan;

/// Completes a service's app: extractor configs that answer bad input with problems,
/// `/readyz` state, `/api-docs`, a 404 problem for unknown routes, problem+json for every
/// other error, request ids, tracing and Prometheus metrics.
///
/// The service registers its routes and `healthz`/`readyz` on a utoipa app and passes the
/// split parts here.
pub fn finish<T, B>(
    app: App<T>,
    api: OpenApi,
    readiness: Readiness,
    metrics: PrometheusMetrics,
    max_body_bytes: usize,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
>
where
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    let known = KnownRoutes::from_openapi(&api);
    app.app_data(json_config(max_body_bytes))
        .app_data(web::Data::new(known))
        .app_data(query_config())
        .app_data(path_config())
        .app_data(web::PayloadConfig::new(max_body_bytes))
        .app_data(web::Data::new(readiness))
        .service(api_docs(api))
        .default_service(web::to(not_found))
        .wrap(normalize_errors())
        .wrap(from_fn(request_id))
        .wrap(TracingLogger::<VestioRootSpan>::new())
        .wrap(metrics)
}

/// The Prometheus middleware for `service`, serving `/metrics`.
pub fn metrics(service: &str) -> anyhow::Result<PrometheusMetrics> {
    actix_web_prom::PrometheusMetricsBuilder::new(service)
        .endpoint("/metrics")
        .build()
        .map_err(|e| anyhow::anyhow!("metrics: {e}"))
}
