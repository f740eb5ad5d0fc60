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
//! ([`inbound`]): `offer.reserved`, `offer.placed`, `payment.status_changed`,
//! `settlement.completed`. Live: `invoice:{invoiceId}`. Redis: `search:invoices:{hash}`
//! and `invoices:popular` (both tagged with the generation `cache:gen:invoices`). The [`jobs::sweep`] marks
//! overdue and defaulted invoices.
//!
//! Inside, data flows one way: a request ([`routes`]) or an event ([`inbound`]) -> the
//! [`domain`] (state machine, fields, [`domain::InvoiceError`]) -> the [`store`] (rows,
//! history and outbox event in one transaction) -> after the commit, [`outbound`] (live
//! message, cache generation, relay wake-up). [`startup`] is the table of contents.

mod config;
pub mod domain;
pub mod inbound;
pub mod jobs;
pub mod outbound;
mod routes;
mod startup;
pub mod state;
pub mod store;

pub use config::InvoiceConfig;
pub use startup::{Application, Binary, build};
