//! A developer's trace receiver: what `make run` gives in place of Jaeger (which cannot be
//! installed here). The services export their spans over OTLP/HTTP
//! (`OTEL_EXPORTER_OTLP_ENDPOINT`); [`Receiver`] takes them (`POST /v1/traces`, protobuf),
//! keeps each as a JSON line in a [`Store`], and [`render`] prints a trace as a tree of
//! spans across services. The `traces` command serves, shows one trace, or the last traces
//! of a route (`make trace`).

pub mod receive;
pub mod render;
pub mod store;

pub use receive::Receiver;
pub use render::render;
pub use store::{Link, SpanRecord, Store};
