//! What auth tells: users registering and being suspended or reactivated.

use serde::{Deserialize, Serialize};

use crate::auth::Role;
use crate::ids::UserId;

/// `user.registered`: a seller or investor signed up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRegistered {
    pub user_id: UserId,
    pub email: String,
    pub role: Role,
    pub full_name: String,
}

/// `user.suspended` and `user.reactivated`: an admin (`by`) changed a user's standing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserStatusChanged {
    pub user_id: UserId,
    /// The admin who did it.
    pub by: UserId,
}
