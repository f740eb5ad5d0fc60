//! Why an account operation did not happen, in the domain's words. Routes turn it into a
//! problem (the one mapping is in `routes`).

use common::ids::UserId;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("email: already registered")]
    EmailTaken,
    /// Unknown email or wrong password: one answer for both, so that the answer does not
    /// tell which emails have accounts.
    #[error("invalid email or password")]
    BadCredentials,
    #[error("account suspended")]
    Suspended,
    #[error(transparent)]
    Refresh(#[from] RefreshRefusal),
    /// The caller's own account is gone.
    #[error("account not found")]
    AccountGone,
    #[error("no user {0}")]
    NoSuchUser(UserId),
    #[error("admins cannot be suspended here")]
    AdminImmune,
    /// A status change from `0` found the account in another status.
    #[error("user is not {0}")]
    NotInStatus(&'static str),
    /// The database, or a stored value that is not one of its column's words.
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

/// Why a refresh token was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RefreshRefusal {
    #[error("unknown refresh token")]
    Unknown,
    #[error("refresh token expired")]
    Expired,
    #[error("refresh token revoked")]
    Revoked,
    /// Presented a second time: the family is now revoked.
    #[error("refresh token already used; the session has been revoked")]
    Reused,
}
