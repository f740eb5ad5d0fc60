//! A consumed event continues the trace of the change that caused it: the consumer's span
//! is a child of the envelope's `traceparent`, applied alone or in a batch (whose span
//! links every event's).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::clock::SharedClock;
use common::events::{Envelope, Service};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use sea_orm::DatabaseTransaction;
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use service_kit::inbox::{self, StagedHandler};
use testkit::{DbKind, TestDb};
use tracing_subscriber::layer::SubscriberExt as _;

/// Every finished span, kept for the test to read.
#[derive(Debug, Clone, Default)]
struct Collected(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Collected {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        self.0.lock().unwrap().extend(batch);
        std::future::ready(Ok(()))
    }
}

struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(inbox::Migration)]
    }
}

/// Does nothing but exist: the spans are what is looked at.
struct Nothing;

#[async_trait]
impl StagedHandler for Nothing {
    type Staged = ();
    async fn stage(&self, _txn: &DatabaseTransaction, _event: &Envelope) -> anyhow::Result<()> {
        Ok(())
    }
    async fn after_commit(&self, _event: &Envelope, _staged: ()) {}
}

/// An event caused by a change in trace `trace_id`, span `span_id`.
fn caused_by(trace_id: &str, span_id: &str) -> Envelope {
    let mut e = Envelope::untyped(
        Service::Invoice,
        "invoice.status_changed",
        serde_json::json!({"invoice_id": uuid::Uuid::now_v7(), "from": "submitted", "to": "listed"}),
        &common::clock::SystemClock,
    )
    .unwrap();
    e.traceparent = Some(format!("00-{trace_id}-{span_id}-01"));
    e
}

#[tokio::test]
async fn a_consumed_event_continues_the_trace_of_the_change_that_caused_it() {
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let collected = Collected::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(collected.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let _default = tracing::subscriber::set_default(subscriber);

    let test_db = TestDb::new(DbKind::Postgres).await;
    let db = test_db.connect().await;
    Migrator::up(&db, None).await.unwrap();
    let clock: SharedClock = common::clock::system();

    let alone = caused_by("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    inbox::consume_staged(&db, &Nothing, &alone, &clock)
        .await
        .unwrap();
    let batch = [
        caused_by("11111111111111111111111111111111", "1111111111111111"),
        caused_by("22222222222222222222222222222222", "2222222222222222"),
    ];
    assert_eq!(
        inbox::consume_staged_batch(&db, &Nothing, &batch, &clock)
            .await
            .unwrap(),
        2
    );
    // The pool's tasks may hold the span that was current when they started: close it so
    // every span has ended. (On SQLite, sqlx's connection threads keep the span of their
    // last command until the next one, so there a span can be exported late; this test
    // runs on PostgreSQL, the production database.)
    db.close().await.unwrap();
    provider.force_flush().unwrap();

    let spans = collected.0.lock().unwrap().clone();
    let consumed = |trace: &str| {
        spans
            .iter()
            .find(|s| s.name == "consume_event" && s.span_context.trace_id().to_string() == trace)
            .unwrap_or_else(|| panic!("no consume_event span in trace {trace}: {spans:#?}"))
    };
    for (trace, parent) in [
        ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"),
        ("11111111111111111111111111111111", "1111111111111111"),
        ("22222222222222222222222222222222", "2222222222222222"),
    ] {
        assert_eq!(consumed(trace).parent_span_id.to_string(), parent);
    }
    // The batch's span links both events' spans.
    let batch_span = spans
        .iter()
        .find(|s| s.name == "consume_events")
        .unwrap_or_else(|| {
            panic!(
                "no consume_events span: {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        });
    let linked: Vec<String> = batch_span
        .links
        .iter()
        .map(|l| l.span_context.trace_id().to_string())
        .collect();
    assert!(linked.contains(&"11111111111111111111111111111111".to_owned()));
    assert!(linked.contains(&"22222222222222222222222222222222".to_owned()));
}
