//! The OTLP/HTTP endpoint: `POST /v1/traces` with an `ExportTraceServiceRequest` in
//! protobuf (what the services' exporter sends), answered as the OTLP specification says
//! (200 and an empty `ExportTraceServiceResponse`; 400 for a body that does not decode,
//! 415 for another content type).

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use prost::Message;

use crate::store::{Link, SpanRecord, Store};

/// The largest export taken (the exporter's batches are far smaller).
const MAX_BODY: usize = 16 << 20;
const PROTOBUF: &str = "application/x-protobuf";

/// A running receiver; [`Receiver::stop`] ends it.
pub struct Receiver {
    port: u16,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Receiver {
    /// Serves on `listener` (port 0 in tests), keeping spans in `store`.
    pub fn start(listener: TcpListener, store: Arc<Store>) -> std::io::Result<Self> {
        let port = listener.local_addr()?.port();
        let data = web::Data::from(store);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(MAX_BODY))
                .route("/v1/traces", web::post().to(export))
                .route("/healthz", web::get().to(HttpResponse::NoContent))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)?
        .run();
        let handle = server.handle();
        Ok(Self {
            port,
            handle,
            task: tokio::spawn(server),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// What a service's `OTEL_EXPORTER_OTLP_ENDPOINT` names.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops taking spans (what was taken is written), then waits for the server.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.task.await;
    }
}

async fn export(req: HttpRequest, body: web::Bytes, store: web::Data<Store>) -> HttpResponse {
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with(PROTOBUF) {
        return HttpResponse::UnsupportedMediaType()
            .body(format!("send OTLP as {PROTOBUF}, not {content_type:?}"));
    }
    let request = match ExportTraceServiceRequest::decode(body.as_ref()) {
        Ok(r) => r,
        Err(e) => return HttpResponse::BadRequest().body(format!("not an OTLP export: {e}")),
    };
    let spans = records(request);
    let store = store.into_inner();
    match web::block(move || store.append(&spans)).await {
        Ok(Ok(())) => HttpResponse::Ok()
            .content_type(PROTOBUF)
            .body(ExportTraceServiceResponse::default().encode_to_vec()),
        Ok(Err(e)) => HttpResponse::ServiceUnavailable().body(format!("spans not kept: {e}")),
        Err(e) => HttpResponse::ServiceUnavailable().body(format!("spans not kept: {e}")),
    }
}

/// The spans of an export, flattened with their service's name.
pub fn records(request: ExportTraceServiceRequest) -> Vec<SpanRecord> {
    let mut out = Vec::new();
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .as_ref()
            .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
            .and_then(|kv| kv.value.as_ref())
            .map_or_else(|| "unknown".to_owned(), text);
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                let kind = SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified);
                let error = span
                    .status
                    .as_ref()
                    .filter(|s| s.code == StatusCode::Error as i32)
                    .map(|s| {
                        if s.message.is_empty() {
                            "error".to_owned()
                        } else {
                            s.message.clone()
                        }
                    });
                out.push(SpanRecord {
                    trace_id: hex::encode(&span.trace_id),
                    span_id: hex::encode(&span.span_id),
                    parent_span_id: (!span.parent_span_id.is_empty())
                        .then(|| hex::encode(&span.parent_span_id)),
                    service: service.clone(),
                    name: span.name,
                    kind: kind_name(kind).to_owned(),
                    start_ns: span.start_time_unix_nano,
                    end_ns: span.end_time_unix_nano,
                    attributes: attributes(&span.attributes),
                    links: span
                        .links
                        .iter()
                        .map(|l| Link {
                            trace_id: hex::encode(&l.trace_id),
                            span_id: hex::encode(&l.span_id),
                        })
                        .collect(),
                    error,
                });
            }
        }
    }
    out
}

fn kind_name(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal | SpanKind::Unspecified => "internal",
    }
}

fn attributes(kvs: &[KeyValue]) -> BTreeMap<String, String> {
    kvs.iter()
        .filter_map(|kv| kv.value.as_ref().map(|v| (kv.key.clone(), text(v))))
        .collect()
}

/// An attribute's value as text: strings as they are, the rest as their literal.
fn text(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BytesValue(b)) => hex::encode(b),
        Some(any_value::Value::ArrayValue(a)) => {
            let items: Vec<String> = a.values.iter().map(text).collect();
            format!("[{}]", items.join(", "))
        }
        Some(any_value::Value::KvlistValue(l)) => {
            let items: Vec<String> = attributes(&l.values)
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        // A profiling-only reference: treated as absent, as the specification says.
        Some(any_value::Value::StringValueStrindex(_)) | None => String::new(),
    }
}
