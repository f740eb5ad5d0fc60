//! The states of documents, submissions and a user's KYC as a whole.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

macro_rules! string_enum {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!("must be one of {}", [$($text),+].join(", "))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(DocumentStatus {
    Queued => "queued",
    Accepted => "accepted",
    Rejected => "rejected",
});

string_enum!(SubmissionStatus {
    InReview => "in_review",
    Approved => "approved",
    Rejected => "rejected",
});

// The same names as the `kyc` claim (`common::auth::KycStatus`).
string_enum!(ProfileStatus {
    None => "none",
    Pending => "pending",
    InReview => "in_review",
    Approved => "approved",
    Rejected => "rejected",
});

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
