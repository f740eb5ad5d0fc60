//! What the service keeps: its tables ([`entity`], [`migration`]), the documents' bytes
//! ([`storage`]: a local folder or S3), identity numbers encrypted at rest ([`crypto`]),
//! the KYC profiles ([`profiles`]) and the status each user sees, cached ([`overview`]).

pub mod crypto;
pub mod entity;
pub mod migration;
pub mod overview;
pub mod profiles;
pub mod storage;
