//! The admin service's tables: the audit log and its head ([`audit`]), and the read
//! models kept from the same events ([`models`]).

pub mod audit;
pub mod entity;
pub mod migration;
pub mod models;
pub mod queries;
pub mod seed;
