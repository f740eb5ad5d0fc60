//! KYC's vocabulary, parsed once at the edge.

pub mod check;
pub mod document_type;
pub mod identity_number;
pub mod status;

pub use check::{CheckOutcome, CheckResult};
pub use document_type::DocumentType;
pub use identity_number::IdentityNumber;
pub use status::{DocumentStatus, ProfileStatus, SubmissionStatus};
