//! The receiver over real HTTP: an OTLP export is kept and read back; a body that is not
//! one, or another content type, is refused and keeps nothing.
#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use prost::Message;
use traces::{Receiver, Store};

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn export() -> ExportTraceServiceRequest {
    let trace_id = vec![0xab; 16];
    let root = Span {
        trace_id: trace_id.clone(),
        span_id: vec![1; 8],
        name: "http_request".into(),
        kind: span::SpanKind::Server as i32,
        start_time_unix_nano: 1_000_000,
        end_time_unix_nano: 3_000_000,
        attributes: vec![
            text("http.method", "POST"),
            text("http.route", "/api/invoices/{id}/submit"),
            KeyValue {
                key: "http.status_code".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::IntValue(200)),
                }),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let child = Span {
        trace_id,
        span_id: vec![2; 8],
        parent_span_id: vec![1; 8],
        name: "outbox_relay".into(),
        kind: span::SpanKind::Producer as i32,
        start_time_unix_nano: 2_000_000,
        end_time_unix_nano: 2_500_000,
        status: Some(Status {
            message: "Redis down".into(),
            code: 2,
        }),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![text("service.name", "invoice")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![root, child],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::test]
async fn an_export_is_kept_and_shown_as_a_tree_and_anything_else_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), 1 << 20).unwrap());
    let receiver = Receiver::start(TcpListener::bind("127.0.0.1:0").unwrap(), store).unwrap();
    let url = format!("{}/v1/traces", receiver.endpoint());
    let client = reqwest::Client::new();

    let res = client
        .post(&url)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let res = client
        .post(&url)
        .header("content-type", "application/x-protobuf")
        .body(vec![0xff, 0xff, 0xff])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(Store::read_all(dir.path()).unwrap().is_empty());

    let res = client
        .post(&url)
        .header("content-type", "application/x-protobuf")
        .body(export().encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/x-protobuf");

    let spans = Store::trace(dir.path(), &"AB".repeat(16)).unwrap();
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0].service, "invoice");
    assert_eq!(spans[0].kind, "server");
    assert_eq!(spans[0].attribute("http.status_code"), Some("200"));
    assert_eq!(spans[1].parent_span_id.as_deref(), Some("0101010101010101"));
    assert_eq!(spans[1].error.as_deref(), Some("Redis down"));
    let tree = traces::render(&spans);
    assert!(
        tree.contains("  invoice  http_request POST /api/invoices/{id}/submit -> 200"),
        "{tree}"
    );
    assert!(
        tree.contains("    invoice  outbox_relay ERROR Redis down"),
        "{tree}"
    );
    receiver.stop().await;
}
