//! What the service keeps: its tables ([`entity`], [`migration`]), the repository over
//! them ([`offers`], with each change's event in its transaction; [`listings`], the read
//! model of listed invoices; [`stats`]) and the Redis read models ([`live`]: counters,
//! trending).

pub mod entity;
pub mod listings;
pub mod live;
pub mod migration;
pub mod offers;
pub mod stats;
