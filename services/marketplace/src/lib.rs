//! # marketplace
//!
//! Where investors fund invoices: a read model of listed invoices kept from invoice
//! events ([`store::listings`]), offers priced at offer time ([`domain::pricing`], docs/pricing.md), and
//! the acceptance saga that lets exactly one offer per invoice win ([`store::offers::accept`]:
//! a claim on the listing row).
//!
//! | route | who | does |
//! | --- | --- | --- |
//! | `GET /api/marketplace/invoices/{id}` | investor (listed), seller (own), admin | a listing with its offer summary; counts towards trending |
//! | `POST /api/marketplace/offers` | investor (KYC approved) | an offer, priced |
//! | `GET /api/marketplace/offers`, `/offers/{id}` | investor (own), seller (on own invoices), admin | offers |
//! | `PATCH /api/marketplace/offers/{id}`, `POST .../withdraw` | its investor | revise / withdraw a pending offer |
//! | `POST /api/marketplace/offers/{id}/reject`, `.../accept` | the invoice's seller | reject a pending offer / accept it (202, saga), at the version seen (`If-Match`) |
//! | `GET /api/marketplace/stats` | user | market figures, cached 300 s |
//! | `GET /api/marketplace/trending` | user | most viewed listed invoices, last hour |
//!
//! Publishes (outbox -> `events:{consumer}`): `offer.placed`, `offer.reserved`,
//! `offer.accepted`, `offer.rejected`, `offer.withdrawn`, `offer.expired`,
//! `offer.status_changed`. Consumes `events:marketplace` ([`inbound`]):
//! `invoice.listed`, `invoice.cancelled`, `invoice.status_changed`,
//! `invoice.acceptance_confirmed` / `_refused`. Live: `seller:{sellerId}` (new offers),
//! `offer:{offerId}` (every change). Redis: `offers:count:{invoiceId}`,
//! `metrics:offers:{invoiceId}`, `metrics:total_offers`, `marketplace:stats`,
//! `trending:invoices` with its minute buckets. The [`jobs::sweep`] expires offers.
//!
//! Inside, data flows one way: a request ([`routes`]) or an event ([`inbound`]) -> the
//! [`domain`] (pricing, statuses, [`domain::MarketError`]) -> the [`store`] (rows and
//! outbox event in one transaction) -> after the commit, [`outbound`] (live messages,
//! counters, relay wake-up). [`startup`] is the table of contents.

mod config;
pub mod domain;
pub mod inbound;
pub mod jobs;
pub mod outbound;
mod routes;
mod startup;
pub mod state;
pub mod store;

pub use config::MarketplaceConfig;
pub use startup::{Application, Binary, build};
