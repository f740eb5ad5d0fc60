//! Logs and traces: `tracing` to stdout (human by default, JSON with `LOG_FORMAT=json`),
//! OpenTelemetry spans over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and the
//! W3C trace-context propagator so `traceparent` flows through requests and events.

use std::collections::HashMap;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use opentelemetry::global;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_otlp::WithHttpConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use tracing::Span;
use tracing_actix_web::RootSpanBuilder;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Keeps the trace exporter alive; flushes it when dropped.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take() {
            let _ = p.shutdown();
        }
    }
}

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init(service: &'static str) -> TelemetryGuard {
    crate::install_tls_provider();
    global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,fred=warn"));
    let json = crate::config::var("LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let fmt = if json {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer().compact().boxed()
    };
    let provider = crate::config::var("OTEL_EXPORTER_OTLP_ENDPOINT").and_then(|endpoint| {
        let processor = exporter(&endpoint)
            .map_err(|e| eprintln!("OTLP exporter disabled: {e}"))
            .ok()?;
        Some(
            SdkTracerProvider::builder()
                .with_span_processor(processor)
                .with_resource(
                    opentelemetry_sdk::Resource::builder()
                        .with_service_name(service)
                        .build(),
                )
                .build(),
        )
    });
    let otel = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer(service)));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init();
    TelemetryGuard { provider }
}

/// The span exporter to `endpoint`: batches exported by a task of the service's runtime
/// (no thread of its own, no blocking HTTP client with its own runtime thread), over a
/// client that loads the system's CA roots only for an `https` collector.
fn exporter(
    endpoint: &str,
) -> anyhow::Result<BatchSpanProcessor<opentelemetry_sdk::runtime::Tokio>> {
    if tokio::runtime::Handle::try_current().is_err() {
        anyhow::bail!("telemetry::init runs outside a Tokio runtime");
    }
    let mut client = reqwest::Client::builder();
    if !endpoint.starts_with("https:") {
        // Plain HTTP: no roots to load (reading and parsing the system's CA bundle was the
        // most expensive step of a service's start).
        client = client.tls_certs_only(Vec::new());
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client.build()?)
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()?;
    Ok(BatchSpanProcessor::builder(exporter, opentelemetry_sdk::runtime::Tokio).build())
}

pub use common::events::current_traceparent;

/// Makes `span` a child of the remote context in `traceparent`.
pub fn set_parent(span: &Span, traceparent: &str) {
    let carrier: HashMap<String, String> =
        HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let cx = global::get_text_map_propagator(|p| p.extract(&carrier));
    let _ = span.set_parent(cx);
}

/// The root span of every request: continues the caller's trace (`traceparent`), records
/// the request id, route and status.
pub struct VestioRootSpan;

impl RootSpanBuilder for VestioRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let route = request.match_pattern().unwrap_or_default();
        let span = tracing::info_span!(
            "http_request",
            http.method = %request.method(),
            http.route = %route,
            http.target = %request.path(),
            http.status_code = tracing::field::Empty,
            request_id = tracing::field::Empty,
            otel.kind = "server",
        );
        if let Some(tp) = request
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
        {
            set_parent(&span, tp);
        }
        span
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let status = match outcome {
            Ok(res) => res.status().as_u16(),
            Err(e) => e.as_response_error().status_code().as_u16(),
        };
        span.record("http.status_code", status);
        if status >= 500 {
            tracing::warn!(parent: &span, status, "Request failed.");
        }
    }
}
