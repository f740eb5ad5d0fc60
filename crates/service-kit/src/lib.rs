//! The service kit: the machinery every Vestio service runs, so that a service's own code
//! is its domain. `common` keeps the contracts (events, Redis names, JWT validation); this
//! crate grows the machinery (issue 16): [`cli`], the one `main` of every service binary;
//! [`Kit`], the builder a service's start-up reads like a table of contents; [`tasks`],
//! supervised background tasks; and [`http::Mount`], what a service's routes are mounted on.

pub mod cli;
pub mod http;
mod kit;
pub mod tasks;

pub use kit::{Kit, Running};
