//! # kyc
//!
//! Owns KYC documents (bytes in a [`store::storage::DocumentStore`]: a local folder or S3),
//! their checks, submissions and the admin review. Decides who may sell and who may invest.
//!
//! | route | who | does |
//! | --- | --- | --- |
//! | `POST /api/kyc/documents` | seller, investor | multipart upload (JPEG/PNG/PDF by content) -> 202 queued |
//! | `GET /api/kyc/documents` | seller, investor | the caller's documents and their results |
//! | `GET /api/kyc/documents/{id}` | its owner | one document with every check (another's is a 404) |
//! | `GET /api/kyc/status` | user | status, missing documents (cached in `kyc:{userId}`) |
//! | `POST /api/kyc/submit` | seller, investor | declared name + BVN/NIN -> in review |
//! | `GET /api/kyc/submissions?status=` | admin | the review queue |
//! | `GET /api/kyc/submissions/{id}` | admin | documents, checks, warnings |
//! | `GET /api/kyc/submissions/{id}/documents/{docId}/file` | admin | download (attachment, nosniff, recorded) |
//! | `POST /api/kyc/submissions/{id}/approve`, `/reject` | admin | the decision, on the version reviewed (`If-Match`) |
//!
//! Consumes `kyc:processing:high` then `kyc:processing` (the [`jobs::worker`]; `kyc worker` or
//! in-process). Publishes (outbox -> `events:{consumer}`): `kyc.document_processed`,
//! `kyc.submitted`, `kyc.approved`, `kyc.rejected`. Live: `kyc:status:{userId}`,
//! `admin:kyc`. Redis: `kyc:{userId}` (status cache, 3600 s), `ratelimit:kyc-upload:*`.
//!
//! Inside: [`routes`] -> [`domain`] (document types, statuses, identity numbers) ->
//! [`store`] (rows, bytes, encrypted identity numbers) with the events ([`outbound`]) in
//! the same transaction; [`jobs`] runs the [`checks`] on queued documents; [`startup`] is
//! the table of contents.

pub mod checks;
mod config;
pub mod domain;
pub mod identity;
pub mod jobs;
mod outbound;
mod routes;
mod startup;
pub mod state;
pub mod store;

pub use config::KycConfig;
pub use startup::{Application, Binary, build, build_worker, run_worker};
