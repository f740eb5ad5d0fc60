//! The admin service's tables: the audit log and its head, and the read models the
//! dashboard, statistics, user search and review queues read.

pub mod activity;
pub mod audit_entry;
pub mod audit_head;
pub mod fact;
pub mod financing;
pub mod invoice;
pub mod kyc_review;
pub mod total;
pub mod user;
