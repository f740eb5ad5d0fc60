//! The documents KYC asks for, and who must give which.

use common::auth::Role;

pub use common::events::kyc::DocumentType;

/// The documents a role must have accepted before it can submit. Admins give none.
pub fn required_for(role: Role) -> &'static [DocumentType] {
    match role {
        Role::Seller => DocumentType::ALL,
        Role::Investor => &[DocumentType::GovernmentId, DocumentType::ProofOfAddress],
        Role::Admin => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sellers_need_all_three_documents_and_investors_two() {
        assert_eq!(required_for(Role::Seller).len(), 3);
        assert_eq!(
            required_for(Role::Investor),
            &[DocumentType::GovernmentId, DocumentType::ProofOfAddress]
        );
        assert!(required_for(Role::Admin).is_empty());
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for t in DocumentType::ALL {
            assert_eq!(t.as_str().parse::<DocumentType>(), Ok(*t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        let err = "passport".parse::<DocumentType>().unwrap_err();
        assert!(err.contains("government_id"), "{err}");
    }
}
