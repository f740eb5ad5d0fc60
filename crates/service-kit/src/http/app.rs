use actix_web::body::MessageBody;
use actix_web::dev::Server;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, Error, HttpServer, web};
use actix_web_prom::PrometheusMetrics;
use std::time::Duration;
use tracing_actix_web::TracingLogger;
use utoipa::openapi::OpenApi;
use utoipa_actix_web::UtoipaApp;

use super::{
    KnownRoutes, Readiness, Starting, api_docs, json_config, normalize_errors, not_found,
    path_config, query_config, request_id,
};
use crate::config::BaseConfig;
use crate::telemetry::VestioRootSpan;
use tokio_util::task::TaskTracker;

/// An app's service factory as actix-web builds it (what `App<T>` holds), answering
/// bodies of type `B`.
pub trait AppFactory<B>:
    ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<B>,
        Error = Error,
        InitError = (),
    >
{
}

impl<T, B> AppFactory<B> for T where
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = Error,
            InitError = (),
        >
{
}

/// How long in-flight requests may take to finish once the server is told to stop.
pub(crate) const SHUTDOWN_TIMEOUT_SECS: u64 = 20;

/// Starts a service's HTTP server on the socket `starting` bound (stopping the stand-in
/// that answered there while the service started). On every worker, `routes` builds the utoipa app with the service's own routes
/// and app data; `/healthz`, `/readyz` and [`finish`] (with the `base.service` metrics)
/// complete it. With `handovers`, the connections a route upgrades are handed over to it
/// and tracked there ([`super::Handover`]); without, they stay in actix-web's dispatcher.
/// Signals are left to the caller (`crate::Running`); in-flight requests
/// get [`SHUTDOWN_TIMEOUT_SECS`] to finish. Answers the bound port and the server.
pub async fn serve<F, T, B>(
    base: &BaseConfig,
    starting: Starting,
    readiness: Readiness,
    handovers: Option<TaskTracker>,
    routes: F,
) -> anyhow::Result<(u16, Server)>
where
    F: Fn() -> UtoipaApp<T> + Clone + Send + 'static,
    T: AppFactory<B> + 'static,
    B: MessageBody + 'static,
{
    let metrics = metrics(base.service)?;
    let max_body = base.max_body_bytes;
    let port = starting.port();
    let listener = starting.into_listener().await;
    let app = move || {
        let (app, api) = routes()
            .service(super::healthz)
            .service(super::readyz)
            .split_for_parts();
        finish(app, api, readiness.clone(), metrics.clone(), max_body)
    };
    let server = match handovers {
        None => HttpServer::new(app)
            .listen(listener)?
            .disable_signals()
            .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
            .run(),
        Some(handovers) => handing_over(base.service, listener, handovers, app)?,
    };
    Ok((port, server))
}

/// The server [`serve`] starts with `handovers`: what `HttpServer` builds
/// (its timeouts), with the app also asked for upgrade requests, whose answers
/// [`super::handover::upgrade`] writes.
fn handing_over<A, T, B>(
    name: &str,
    listener: std::net::TcpListener,
    handovers: TaskTracker,
    app: A,
) -> anyhow::Result<Server>
where
    A: Fn() -> App<T> + Clone + Send + 'static,
    T: AppFactory<B> + 'static,
    B: MessageBody + 'static,
{
    use actix_service::{IntoServiceFactory as _, fn_factory, fn_service, map_config};
    use actix_web::dev::AppConfig;

    let addr = listener.local_addr()?;
    let server = actix_server::Server::build()
        .listen(name, listener, move || {
            // One app per worker, serving both the requests the dispatcher keeps and the
            // upgrades: built with the worker's services, found by the upgrade's service
            // when its first request comes (the worker takes none before both exist).
            let built = std::rc::Rc::new(std::cell::OnceCell::new());
            let factory = map_config(app().into_factory(), |_| AppConfig::default());
            let keep = built.clone();
            let service = fn_factory(move || {
                let making = factory.new_service(());
                let keep = keep.clone();
                async move {
                    let app = std::rc::Rc::new(making.await?);
                    let _ = keep.set(app.clone());
                    Ok::<_, ()>(app)
                }
            });
            let handovers = handovers.clone();
            let upgrade = fn_factory(move || {
                let (built, handovers) = (built.clone(), handovers.clone());
                async move {
                    Ok::<_, ()>(fn_service(move |(req, framed)| {
                        let app = built.get().cloned();
                        let handovers = handovers.clone();
                        async move {
                            let Some(app) = app else {
                                return Err(actix_web::error::ErrorServiceUnavailable(
                                    "the worker is starting",
                                ));
                            };
                            super::handover::upgrade(handovers, app, req, framed).await
                        }
                    }))
                }
            });
            actix_http::HttpService::build()
                .keep_alive(actix_http::KeepAlive::default())
                .client_request_timeout(Duration::from_secs(5))
                .client_disconnect_timeout(Duration::from_secs(1))
                .local_addr(addr)
                .upgrade(upgrade)
                .finish(service)
                .tcp()
        })?
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
        .run();
    Ok(server)
}

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
    T: AppFactory<B> + 'static,
    B: MessageBody + 'static,
{
    let known = KnownRoutes::from_openapi(&api);
    let api = without_probes(api);
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

/// The document as served: the API a client reaches through the gateway. The probes
/// (`/healthz`, `/readyz`) are the orchestrator's, asked of each pod directly, and not
/// routed by the gateway (whose own `/healthz` answers for it), so they are left out; the
/// service still answers them, and other methods on them with 405 (`KnownRoutes` is built
/// before). They are described in the README and docs/deploy.md.
fn without_probes(mut api: OpenApi) -> OpenApi {
    api.paths
        .paths
        .retain(|path, _| path != "/healthz" && path != "/readyz");
    api
}

/// The Prometheus middleware for `service`, serving `/metrics`.
/// Besides the HTTP metrics: `events_refused_total` ([`crate::inbox::refused`]).
pub fn metrics(service: &str) -> anyhow::Result<PrometheusMetrics> {
    let registry = prometheus::Registry::new();
    crate::inbox::register_metrics(&registry)?;
    actix_web_prom::PrometheusMetricsBuilder::new(service)
        .registry(registry)
        .endpoint("/metrics")
        .build()
        .map_err(|e| anyhow::anyhow!("metrics: {e}"))
}
