//! The documents KYC asks for, and who must give which.

use common::auth::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    GovernmentId,
    BusinessRegistration,
    ProofOfAddress,
}

impl DocumentType {
    pub const ALL: [DocumentType; 3] = [
        DocumentType::GovernmentId,
        DocumentType::BusinessRegistration,
        DocumentType::ProofOfAddress,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DocumentType::GovernmentId => "government_id",
            DocumentType::BusinessRegistration => "business_registration",
            DocumentType::ProofOfAddress => "proof_of_address",
        }
    }

    /// The documents a role must have accepted before it can submit. Admins give none.
    pub fn required_for(role: Role) -> &'static [DocumentType] {
        match role {
            Role::Seller => &Self::ALL,
            Role::Investor => &[DocumentType::GovernmentId, DocumentType::ProofOfAddress],
            Role::Admin => &[],
        }
    }
}

impl std::fmt::Display for DocumentType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DocumentType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "must be one of {}",
                    Self::ALL.map(DocumentType::as_str).join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sellers_need_all_three_documents_and_investors_two() {
        assert_eq!(DocumentType::required_for(Role::Seller).len(), 3);
        assert_eq!(
            DocumentType::required_for(Role::Investor),
            &[DocumentType::GovernmentId, DocumentType::ProofOfAddress]
        );
        assert!(DocumentType::required_for(Role::Admin).is_empty());
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for t in DocumentType::ALL {
            assert_eq!(t.as_str().parse::<DocumentType>(), Ok(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        let err = "passport".parse::<DocumentType>().unwrap_err();
        assert!(err.contains("government_id"), "{err}");
    }
}
