use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Seller,
    Investor,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Seller => "seller",
            Role::Investor => "investor",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "seller" => Ok(Role::Seller),
            "investor" => Ok(Role::Investor),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role {other:?}")),
        }
    }
}

/// A user's KYC standing, carried in the token so services can gate actions without a
/// round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum KycStatus {
    #[default]
    None,
    Pending,
    InReview,
    Approved,
    Rejected,
}

impl KycStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KycStatus::None => "none",
            KycStatus::Pending => "pending",
            KycStatus::InReview => "in_review",
            KycStatus::Approved => "approved",
            KycStatus::Rejected => "rejected",
        }
    }
}

impl std::str::FromStr for KycStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(KycStatus::None),
            "pending" => Ok(KycStatus::Pending),
            "in_review" => Ok(KycStatus::InReview),
            "approved" => Ok(KycStatus::Approved),
            "rejected" => Ok(KycStatus::Rejected),
            other => Err(format!("unknown KYC status {other:?}")),
        }
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
