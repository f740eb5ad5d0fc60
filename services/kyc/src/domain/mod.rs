//! KYC's vocabulary, parsed once at the edge, and [`KycError`], why an operation did not
//! happen. No actix, sea-orm or Redis here.

pub mod check;
pub mod document_type;
mod error;
pub mod identity_number;
pub mod status;

pub use check::{CheckOutcome, CheckResult};
pub use document_type::DocumentType;
pub use error::KycError;
pub use identity_number::IdentityNumber;
pub use status::{DocumentStatus, ProfileStatus, SubmissionStatus};
