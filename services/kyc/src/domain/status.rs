//! The states of documents, submissions and a user's KYC as a whole.

pub use common::events::kyc::DocumentStatus;

common::string_enum! {
    /// A submission for review: in review until an admin decides it.
    pub enum SubmissionStatus {
        InReview = "in_review",
        Approved = "approved",
        Rejected = "rejected",
    }
}

common::string_enum! {
    /// A user's KYC as a whole (the same words as the token's `kyc` claim).
    pub enum ProfileStatus {
        None = "none",
        Pending = "pending",
        InReview = "in_review",
        Approved = "approved",
        Rejected = "rejected",
    }
}

impl ProfileStatus {
    /// Whether the user may upload documents (not while in review or once approved).
    pub fn can_upload(self) -> bool {
        matches!(
            self,
            ProfileStatus::None | ProfileStatus::Pending | ProfileStatus::Rejected
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_status_names_match_the_kyc_claim() {
        for s in ["none", "pending", "in_review", "approved", "rejected"] {
            let p: ProfileStatus = s.parse().unwrap();
            let claim: common::auth::KycStatus = s.parse().unwrap();
            assert_eq!(p.as_str(), claim.as_str());
        }
    }

    #[test]
    fn uploads_are_closed_in_review_and_after_approval() {
        assert!(ProfileStatus::Rejected.can_upload());
        assert!(!ProfileStatus::InReview.can_upload());
        assert!(!ProfileStatus::Approved.can_upload());
    }
}
