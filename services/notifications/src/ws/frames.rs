//! The frames of the WebSocket protocol (JSON text frames). They are documented in the
//! OpenAPI document as schemas (`ClientFrame`, `ServerFrame`) and in docs/notifications.md.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a client sends.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ClientFrame {
    /// Listen to a live channel you are entitled to: `seller:{yourId}` (sellers),
    /// `invoice:{id}` / `offer:{id}` / `payment:{id}` (their parties), `kyc:status:{yourId}`,
    /// `admin:kyc`, `admin:events` (admins).
    Subscribe {
        #[schema(example = "offer:0190b6f4-0000-7000-8000-000000000001")]
        channel: String,
    },
    Unsubscribe {
        channel: String,
    },
    /// Replay your notifications made after this one (oldest first), then continue live.
    Resume {
        #[schema(example = "0190b6f4-0000-7000-8000-000000000001")]
        after: String,
    },
}

/// What the server sends. A `notification` frame carries the notification's fields
/// (`id`, `kind`, `title`, `body`, `data`, `created_at`) beside `type`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerFrame<'a> {
    Subscribed {
        channel: &'a str,
    },
    Unsubscribed {
        channel: &'a str,
    },
    /// A message of a subscribed channel; `data` is what its publisher sent.
    #[schema(title = "event")]
    Event {
        channel: &'a str,
        #[schema(value_type = Object)]
        data: &'a serde_json::value::RawValue,
    },
    /// The end of a replay: `count` notifications were sent; `more` if the replay was cut
    /// at its limit (page the rest with `GET /api/notifications`).
    Resumed {
        count: usize,
        more: bool,
    },
    /// Live delivery was interrupted (the server lost Redis for a moment) and is back:
    /// notifications made meanwhile may not have arrived. Send `resume` with the last
    /// notification id you have to get them; events of other channels sent meanwhile are
    /// gone (read the resources again).
    Resync,
    /// A refused or malformed frame; nothing else happened.
    Error {
        code: &'a str,
        message: &'a str,
    },
}

impl ServerFrame<'_> {
    pub fn text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// `{"type":"resync"}`, as the hub sends it to every connection.
pub fn resync() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| ServerFrame::Resync.text())
}

/// `{"type":"error",...}`
pub fn error(code: &str, message: &str) -> String {
    ServerFrame::Error { code, message }.text()
}

/// A notification as published on its user's Redis channel when the event that made it
/// was traced: `tp:{traceparent}\n{frame}`, so the hub's delivery joins the event's trace.
/// Clients never see the prefix ([`untraced`] takes it off); a frame is JSON, which never
/// starts with `tp:`.
pub fn traced(traceparent: Option<&str>, frame: &str) -> String {
    match traceparent {
        Some(tp) if !tp.contains('\n') => format!("tp:{tp}\n{frame}"),
        _ => frame.to_owned(),
    }
}

/// A published payload's trace (if [`traced`]) and the frame itself.
pub fn untraced(payload: &[u8]) -> (Option<&str>, &[u8]) {
    if let Some(rest) = payload.strip_prefix(b"tp:")
        && let Some(newline) = rest.iter().position(|b| *b == b'\n')
        && let Ok(tp) = std::str::from_utf8(&rest[..newline])
    {
        return (Some(tp), &rest[newline + 1..]);
    }
    (None, payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traced_frame_comes_back_whole_with_its_trace_and_an_untraced_one_as_it_is() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let frame = r#"{"type":"notification","id":"x"}"#;
        let published = traced(Some(tp), frame);
        assert_eq!(untraced(published.as_bytes()), (Some(tp), frame.as_bytes()));
        assert_eq!(traced(None, frame), frame);
        assert_eq!(untraced(frame.as_bytes()), (None, frame.as_bytes()));
        // Nothing that is not a whole prefix is taken off.
        assert_eq!(untraced(b"tp:no newline"), (None, &b"tp:no newline"[..]));
    }
}
