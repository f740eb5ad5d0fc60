//! Live delivery over WebSocket.
//!
//! - [`ticket`]: a one-time ticket (30 s) taken with a bearer token, because browsers
//!   cannot set headers on a WebSocket and URLs end up in access logs.
//! - [`Hub`]: ONE Redis subscriber per instance, whatever the number of clients. It
//!   subscribes a channel when its first local listener joins and unsubscribes when the
//!   last leaves, and fans each message out to the listeners' bounded buffers with
//!   `try_send`: a client whose buffer is full is closed (4008) and never slows the others.
//!   Every `WS_REVOCATION_CHECK_MS` it checks all open connections' tokens in one
//!   pipelined round trip and closes those revoked (4001) or expired (4002).
//! - [`session`]: one task per connection: the user's own notifications from the start,
//!   subscribe/unsubscribe to entitled channels, resume, ping/pong.
//! - [`socket`]: the WebSocket protocol on the connection the kit hands over after the
//!   handshake, with buffers held only while used.

pub mod frames;
mod hub;
pub mod session;
pub mod socket;
pub mod ticket;

pub use hub::{Close, Hub, Registration};
