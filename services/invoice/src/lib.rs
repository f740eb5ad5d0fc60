//! # invoice
//!
//! Owns invoices from draft to settlement: one state machine ([`domain::status`]), a
//! status history, search with a cache that never serves another viewer's results or a
//! result older than the last write.
//!
//! | route | who | does |
//! | --- | --- | --- |
//! | `POST /api/invoices` | seller (KYC approved) | a draft |
//! | `PATCH /api/invoices/{id}` | its seller | edit a draft or rejected invoice, at the version read (`If-Match`) |
//! | `POST /api/invoices/{id}/submit`, `/cancel` | its seller | draft/rejected -> submitted; cancel until an offer is accepted |
//! | `POST /api/invoices/{id}/verify`, `/reject` | admin | submitted -> listed / rejected (reason), at the version reviewed (`If-Match`) |
//! | `GET /api/invoices/{id}` | seller (own), investor (listed), admin | one invoice |
//! | `GET /api/invoices/{id}/history` | its seller, admin | every status change: actor, reason, time |
//! | `GET /api/invoices` | user | search: filters, sort, pages; cached 300 s per query and viewer |
//! | `GET /api/invoices/popular` | user | listed invoices with the most offers; cached 600 s |
//!
//! Publishes (outbox -> `events:{consumer}`): `invoice.submitted`, `invoice.listed`,
//! `invoice.rejected`, `invoice.cancelled`, `invoice.status_changed`,
//! `invoice.acceptance_confirmed` / `_refused`. Consumes `events:invoice`
//! ([`consumer`]): `offer.reserved`, `offer.placed`, `payment.status_changed`,
//! `settlement.completed`. Live: `invoice:{invoiceId}`. Redis: `search:invoices:{hash}`
//! and `invoices:popular` (both tagged with the generation `cache:gen:invoices`). The [`sweep`] marks
//! overdue and defaulted invoices.

pub mod config;
pub mod consumer;
pub mod domain;
pub mod entity;
pub mod events;
pub mod invoices;
pub mod migration;
pub mod popular;
pub mod routes;
pub mod search;
pub mod startup;
pub mod state;
pub mod sweep;

pub use config::InvoiceConfig;
pub use startup::{Application, Binary, build};
