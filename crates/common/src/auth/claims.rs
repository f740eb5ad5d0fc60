use serde::{Deserialize, Serialize};
use uuid::Uuid;

crate::string_enum! {
    /// Who a user is on the platform.
    pub enum Role {
        Seller = "seller",
        Investor = "investor",
        Admin = "admin",
    }
}

crate::string_enum! {
    /// A user's KYC standing, carried in the token so services can gate actions without a
    /// round trip.
    #[derive(Default)]
    pub enum KycStatus {
        #[default]
        None = "none",
        Pending = "pending",
        InReview = "in_review",
        Approved = "approved",
        Rejected = "rejected",
    }
}

/// The access token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub role: Role,
    pub kyc: KycStatus,
    /// Token id (UUIDv7: its timestamp is the issue time in milliseconds).
    pub jti: Uuid,
    /// The login session (refresh-token family) the token belongs to.
    pub sid: Uuid,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

impl Claims {
    /// Issue time in milliseconds, from the UUIDv7 `jti` (finer than `iat`'s seconds, so a
    /// "revoked before" marker set at a suspension does not catch a token issued in the
    /// same second after a reactivation).
    pub fn issued_at_ms(&self) -> i64 {
        self.jti
            .get_timestamp()
            .map(|ts| {
                let (secs, nanos) = ts.to_unix();
                i64::try_from(secs).unwrap_or(i64::MAX) * 1000 + i64::from(nanos / 1_000_000)
            })
            .unwrap_or(self.iat * 1000)
    }
}
