//! A trace as text: a heading, then one line per span, indented under its parent, with
//! its start (from the trace's first span), its length, its service and what it did.
//!
//! ```text
//! trace c4b761f9532f16601f5de76badb99baa: 5 spans, 3 services (admin, invoice, notifications), 17.5 ms
//!       +0.0 ms      6.5 ms  invoice  http_request POST /api/invoices/{id}/submit -> 200
//!       +7.3 ms      2.9 ms    invoice  outbox_relay invoice.submitted -> events:admin, events:notifications
//!      +10.9 ms      5.4 ms    notifications  consume_event invoice.submitted
//!      +11.5 ms      5.9 ms    admin  consume_event invoice.submitted
//!      +15.2 ms      0.1 ms    notifications  ws_deliver 1 connection(s)
//! ```

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write;

use crate::store::SpanRecord;

/// `spans` (one trace, any order) as a tree; spans whose parent is not among them (it was
/// not received, or lives in another process that exports nothing) start their own branch.
pub fn render(spans: &[SpanRecord]) -> String {
    let mut out = String::new();
    let Some(first) = spans.iter().min_by_key(|s| s.start_ns) else {
        return "no spans\n".to_owned();
    };
    let origin = first.start_ns;
    let end = spans.iter().map(|s| s.end_ns).max().unwrap_or(origin);
    let services: BTreeSet<&str> = spans.iter().map(|s| s.service.as_str()).collect();
    let _ = writeln!(
        out,
        "trace {}: {} span{}, {} service{} ({}), {:.1} ms",
        first.trace_id,
        spans.len(),
        if spans.len() == 1 { "" } else { "s" },
        services.len(),
        if services.len() == 1 { "" } else { "s" },
        services.into_iter().collect::<Vec<_>>().join(", "),
        ms(end.saturating_sub(origin)),
    );
    let ids: HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    let mut children: HashMap<&str, Vec<&SpanRecord>> = HashMap::new();
    let mut roots: Vec<&SpanRecord> = Vec::new();
    for span in spans {
        match span.parent_span_id.as_deref() {
            Some(parent) if ids.contains(parent) && parent != span.span_id => {
                children.entry(parent).or_default().push(span);
            }
            _ => roots.push(span),
        }
    }
    for list in children.values_mut() {
        list.sort_by_key(|s| s.start_ns);
    }
    roots.sort_by_key(|s| s.start_ns);
    let mut seen = HashSet::new();
    let mut stack: Vec<(&SpanRecord, usize)> = roots.into_iter().rev().map(|s| (s, 0)).collect();
    while let Some((span, depth)) = stack.pop() {
        if !seen.insert(span.span_id.as_str()) {
            continue;
        }
        let _ = writeln!(
            out,
            "{:>+10.1} ms {:>8.1} ms  {}{}  {}",
            ms(span.start_ns.saturating_sub(origin)),
            ms(span.duration_ns()),
            "  ".repeat(depth),
            span.service,
            describe(span),
        );
        if let Some(list) = children.get(span.span_id.as_str()) {
            stack.extend(list.iter().rev().map(|c| (*c, depth + 1)));
        }
    }
    out
}

/// One line per trace: its start, length, span count and first span.
pub fn summary(spans: &[SpanRecord]) -> String {
    let Some(first) = spans.iter().min_by_key(|s| s.start_ns) else {
        return String::new();
    };
    let end = spans
        .iter()
        .map(|s| s.end_ns)
        .max()
        .unwrap_or(first.start_ns);
    format!(
        "{}  {:>8.1} ms {:>4} spans  {} {}",
        first.trace_id,
        ms(end.saturating_sub(first.start_ns)),
        spans.len(),
        first.service,
        describe(first),
    )
}

/// A span's name and what says most about it: method, route and status of a request,
/// the type of an event, an error.
fn describe(span: &SpanRecord) -> String {
    let mut text = span.name.clone();
    if let Some(method) = span.attribute("http.method") {
        let path = span
            .attribute("http.route")
            .filter(|r| !r.is_empty())
            .or_else(|| span.attribute("http.target"))
            .unwrap_or_default();
        let _ = write!(text, " {method} {path}");
        if let Some(status) = span.attribute("http.status_code") {
            let _ = write!(text, " -> {status}");
        }
    }
    for key in ["event.type", "detail"] {
        if let Some(v) = span.attribute(key) {
            let _ = write!(text, " {v}");
        }
    }
    if !span.links.is_empty() {
        let _ = write!(text, " (links {})", span.links.len());
    }
    if let Some(error) = &span.error {
        let _ = write!(text, " ERROR {error}");
    }
    text
}

fn ms(ns: u64) -> f64 {
    // Spans are far shorter than 2^52 ns (52 days): exact enough as a float to print.
    #[allow(clippy::cast_precision_loss)]
    let ms = ns as f64 / 1e6;
    ms
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn span(id: &str, parent: Option<&str>, service: &str, name: &str, start: u64) -> SpanRecord {
        SpanRecord {
            trace_id: "t1".into(),
            span_id: id.into(),
            parent_span_id: parent.map(str::to_owned),
            service: service.into(),
            name: name.into(),
            kind: "internal".into(),
            start_ns: start * 1_000_000,
            end_ns: (start + 2) * 1_000_000,
            attributes: BTreeMap::new(),
            links: Vec::new(),
            error: None,
        }
    }

    #[test]
    fn children_are_indented_under_their_parent_in_start_order() {
        let mut root = span("a", None, "marketplace", "http_request", 0);
        root.attributes = BTreeMap::from([
            ("http.method".to_owned(), "POST".to_owned()),
            ("http.route".to_owned(), "/api/x".to_owned()),
            ("http.status_code".to_owned(), "201".to_owned()),
        ]);
        let mut consumed = span("c", Some("a"), "notifications", "consume_event", 5);
        consumed.attributes =
            BTreeMap::from([("event.type".to_owned(), "offer.placed".to_owned())]);
        let spans = vec![
            span("d", Some("c"), "notifications", "ws_deliver", 7),
            consumed,
            span("b", Some("a"), "marketplace", "outbox_relay", 3),
            root,
            // Its parent was never received: a branch of its own.
            span("e", Some("zz"), "invoice", "consume_event", 6),
        ];
        let text = render(&spans);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with(
                "trace t1: 5 spans, 3 services (invoice, marketplace, notifications), 9.0 ms"
            ),
            "{text}"
        );
        assert!(
            lines[1].ends_with("  marketplace  http_request POST /api/x -> 201"),
            "{text}"
        );
        assert!(
            lines[2].ends_with("    marketplace  outbox_relay"),
            "{text}"
        );
        assert!(
            lines[3].ends_with("    notifications  consume_event offer.placed"),
            "{text}"
        );
        assert!(
            lines[4].ends_with("      notifications  ws_deliver"),
            "{text}"
        );
        assert!(lines[5].ends_with("  invoice  consume_event"), "{text}");
        assert!(lines[3].trim_start().starts_with("+5.0 ms"), "{text}");
    }
}
