//! The admin service's own logic: what an audit row records of an event and how rows
//! chain ([`audit`]), what events count for the dashboard and statistics ([`facts`]), and
//! what a search asks ([`search`]). No actix, sea-orm or Redis.

pub mod audit;
mod error;
pub mod facts;
pub mod search;
pub mod stats;

pub use error::AdminError;
