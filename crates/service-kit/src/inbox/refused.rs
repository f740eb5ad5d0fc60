//! A valid event the domain refuses now (a transition no longer possible, a confirmation
//! of an offer that is no longer reserved): acknowledged, since a retry would get the same
//! answer, and recorded: a log line and `events_refused_total{consumer, type}` on the
//! service's `/metrics`.

use std::sync::LazyLock;

use prometheus::{IntCounterVec, Opts, Registry};

use common::events::{Envelope, Service};

static REFUSED: LazyLock<Option<IntCounterVec>> = LazyLock::new(|| {
    IntCounterVec::new(
        Opts::new(
            "events_refused_total",
            "Valid events the consumer's domain refused (acknowledged, not applied).",
        ),
        &["consumer", "type"],
    )
    .ok()
});

/// Adds `events_refused_total` to `registry` (each service's `/metrics`).
pub fn register_metrics(registry: &Registry) -> anyhow::Result<()> {
    if let Some(c) = REFUSED.as_ref() {
        registry.register(Box::new(c.clone()))?;
    }
    Ok(())
}

/// Records that `consumer` refused `event` because `why`; the caller then acknowledges it.
pub fn refused(consumer: Service, event: &Envelope, why: &dyn std::fmt::Display) {
    tracing::warn!(%consumer, event = %event.id, event_type = %event.event_type, reason = %why, "Event refused by the domain; acknowledged without effect.");
    if let Some(c) = REFUSED.as_ref() {
        c.with_label_values(&[consumer.as_str(), event.event_type.as_str()])
            .inc();
    }
}
