//! What the service keeps: its tables ([`entity`], [`migration`]) and the repository
//! over them ([`invoices`]: writes with their history and outbox event; [`search`] and
//! [`popular`]: the cached reads).

pub mod acceptances;
pub mod entity;
pub mod invoices;
pub mod migration;
pub mod popular;
pub mod search;
