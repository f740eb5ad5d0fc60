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
//! Consumes `events:notifications` ([`consumer`], [`compose`]); stores each notification
//! (event id unique per recipient), keeps `notifications:{userId}` (last 100) and
//! `notifications:{userId}:unread`, publishes on `user:{userId}:notifications` and queues
//! `push:queue` jobs for the recipient's devices ([`push`]). Entitlement to live channels
//! comes from the events heard (`channel_members`), never from the client.

pub mod channels;
pub mod compose;
pub mod config;
pub mod consumer;
pub mod entity;
pub mod migration;
pub mod push;
pub mod routes;
pub mod startup;
pub mod state;
pub mod store;
pub mod ws;

pub use config::NotificationsConfig;
pub use startup::{Application, Binary, build};
