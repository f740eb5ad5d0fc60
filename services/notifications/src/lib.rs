//! # notifications
//!
//! Turns the platform's events into what users see, live.
//!
//! | route | who | does |
//! | --- | --- | --- |
//! | `GET /api/notifications` | user | own notifications, newest first, cursor paged (`?before=&limit=`) |
//! | `GET /api/notifications/unread-count` | user | `{unread}` |
//! | `POST /api/notifications/{id}/read`, `POST /api/notifications/read-all` | user | mark read |
//! | `GET`/`POST /api/notifications/devices`, `DELETE /api/notifications/devices/{id}` | user | push devices |
//! | `POST /api/notifications/ws-ticket` | user | a one-time 30 s WebSocket ticket |
//! | `GET /api/notifications/ws?ticket=` | ticket holder | the live WebSocket ([`ws`]) |
//!
//! Consumes `events:notifications` ([`inbound`], [`domain::compose`]); stores each notification
//! (event id unique per recipient), keeps `notifications:{userId}` (last 100) and
//! `notifications:{userId}:unread`, publishes on `user:{userId}:notifications` and queues
//! `push:queue` jobs for the recipient's devices ([`jobs::push`]). Entitlement to live channels
//! comes from the events heard (`channel_members`), never from the client.
//!
//! Inside: an event ([`inbound`]) -> [`domain`] (what to tell whom) -> [`store`] (rows,
//! counters, then the Redis feed and live copies) -> [`jobs::push`]; requests and the
//! WebSocket ([`routes`], [`ws`]) read the store. [`startup`] is the table of contents.

mod config;
pub mod domain;
pub mod inbound;
pub mod jobs;
mod routes;
mod startup;
pub mod state;
pub mod store;
pub mod ws;

pub use config::NotificationsConfig;
pub use startup::{Application, Binary, build, build_with_provider};
