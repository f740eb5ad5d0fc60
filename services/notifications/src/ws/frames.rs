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

/// `{"type":"error",...}`
pub fn error(code: &str, message: &str) -> String {
    ServerFrame::Error { code, message }.text()
}
