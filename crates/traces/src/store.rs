//! Spans as JSON lines in `spans.jsonl` under a directory, the older half in
//! `spans.1.jsonl` once the file passes its size (so a long `make run` keeps the recent
//! traces in bounded space).

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// One span as received: ids in lowercase hex, times in nanoseconds since the epoch, the
/// attributes as text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanRecord {
    pub trace_id: String,
    pub span_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<String>,
    /// The exporting service (`service.name` of the resource).
    pub service: String,
    pub name: String,
    /// `server`, `client`, `producer`, `consumer` or `internal`.
    pub kind: String,
    pub start_ns: u64,
    pub end_ns: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// The status message of a span that ended in error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl SpanRecord {
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }

    pub fn duration_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }
}

/// A span this one is linked to (a batch to the events it took in, say).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub trace_id: String,
    pub span_id: String,
}

/// The spans of one directory: appended by the receiver, read by the commands.
pub struct Store {
    dir: PathBuf,
    max_bytes: u64,
    file: Mutex<Option<File>>,
}

const CURRENT: &str = "spans.jsonl";
const OLDER: &str = "spans.1.jsonl";

impl Store {
    /// The store in `dir` (made if missing); `spans.jsonl` is moved to `spans.1.jsonl`
    /// when it passes `max_bytes`.
    pub fn open(dir: impl Into<PathBuf>, max_bytes: u64) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            max_bytes: max_bytes.max(1),
            file: Mutex::new(None),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends `spans`, one line each, in one write.
    pub fn append(&self, spans: &[SpanRecord]) -> std::io::Result<()> {
        if spans.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        for span in spans {
            text.push_str(&serde_json::to_string(span).map_err(std::io::Error::other)?);
            text.push('\n');
        }
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.dir.join(CURRENT);
        let full = std::fs::metadata(&current).is_ok_and(|m| m.len() >= self.max_bytes);
        if full {
            *guard = None;
            std::fs::rename(&current, self.dir.join(OLDER))?;
        }
        if guard.is_none() {
            *guard = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&current)?,
            );
        }
        match guard.as_mut() {
            Some(file) => file.write_all(text.as_bytes()),
            None => Ok(()),
        }
    }

    /// Every span kept, oldest file first (lines that do not parse are skipped).
    pub fn read_all(dir: &Path) -> std::io::Result<Vec<SpanRecord>> {
        let mut spans = Vec::new();
        for name in [OLDER, CURRENT] {
            let file = match File::open(dir.join(name)) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for line in BufReader::new(file).lines() {
                if let Ok(span) = serde_json::from_str::<SpanRecord>(&line?) {
                    spans.push(span);
                }
            }
        }
        Ok(spans)
    }

    /// The spans of trace `id` (hex, any case), in start order.
    pub fn trace(dir: &Path, id: &str) -> std::io::Result<Vec<SpanRecord>> {
        let id = id.trim().to_ascii_lowercase();
        let mut spans: Vec<SpanRecord> = Self::read_all(dir)?
            .into_iter()
            .filter(|s| s.trace_id == id)
            .collect();
        spans.sort_by_key(|s| s.start_ns);
        Ok(spans)
    }

    /// The newest `n` traces whose first span (an HTTP request's, usually) names `route`
    /// in its route, target or name; every trace when `route` is `None`. Newest first,
    /// each in start order.
    pub fn last(
        dir: &Path,
        route: Option<&str>,
        n: usize,
    ) -> std::io::Result<Vec<Vec<SpanRecord>>> {
        let mut traces: HashMap<String, Vec<SpanRecord>> = HashMap::new();
        for span in Self::read_all(dir)? {
            traces.entry(span.trace_id.clone()).or_default().push(span);
        }
        let mut traces: Vec<Vec<SpanRecord>> = traces
            .into_values()
            .map(|mut spans| {
                spans.sort_by_key(|s| s.start_ns);
                spans
            })
            .filter(|spans| match (route, spans.first()) {
                (None, _) => true,
                (Some(route), Some(first)) => {
                    ["http.route", "http.target"]
                        .iter()
                        .filter_map(|k| first.attribute(k))
                        .any(|v| v.contains(route))
                        || first.name.contains(route)
                }
                (Some(_), None) => false,
            })
            .collect();
        traces.sort_by_key(|spans| std::cmp::Reverse(spans.first().map_or(0, |s| s.start_ns)));
        traces.truncate(n);
        Ok(traces)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn span(trace: &str, id: &str, start: u64, route: &str) -> SpanRecord {
        SpanRecord {
            trace_id: trace.into(),
            span_id: id.into(),
            parent_span_id: None,
            service: "auth".into(),
            name: "http_request".into(),
            kind: "server".into(),
            start_ns: start,
            end_ns: start + 10,
            attributes: BTreeMap::from([("http.route".to_owned(), route.to_owned())]),
            links: Vec::new(),
            error: None,
        }
    }

    #[test]
    fn spans_come_back_by_trace_and_the_newest_traces_of_a_route_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        store
            .append(&[
                span("aa", "01", 5, "/api/auth/login"),
                span("bb", "02", 7, "/api/auth/me"),
            ])
            .unwrap();
        store
            .append(&[span("cc", "03", 9, "/api/auth/login")])
            .unwrap();
        assert_eq!(Store::trace(dir.path(), "AA").unwrap().len(), 1);
        let last = Store::last(dir.path(), Some("login"), 5).unwrap();
        let ids: Vec<&str> = last.iter().map(|t| t[0].trace_id.as_str()).collect();
        assert_eq!(ids, ["cc", "aa"]);
        assert_eq!(Store::last(dir.path(), None, 2).unwrap().len(), 2);
    }

    #[test]
    fn a_full_file_moves_aside_and_both_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 10).unwrap();
        store.append(&[span("aa", "01", 1, "/a")]).unwrap();
        store.append(&[span("bb", "02", 2, "/b")]).unwrap();
        assert!(dir.path().join(OLDER).is_file());
        assert_eq!(Store::read_all(dir.path()).unwrap().len(), 2);
        // A third moves the second aside: the first is gone, bounded space.
        store.append(&[span("cc", "03", 3, "/c")]).unwrap();
        let kept: Vec<String> = Store::read_all(dir.path())
            .unwrap()
            .into_iter()
            .map(|s| s.trace_id)
            .collect();
        assert_eq!(kept, ["bb", "cc"]);
    }
}
