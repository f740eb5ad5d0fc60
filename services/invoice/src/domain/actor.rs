//! Who changes an invoice: a user (by role), the sweep, or another service's saga.

use common::events::invoice::ActorKind;
use common::ids::UserId;
use service_kit::auth::AuthUser;

/// Who changed an invoice.
#[derive(Debug, Clone, Copy)]
pub struct Actor {
    pub id: Option<UserId>,
    pub kind: ActorKind,
}

impl Actor {
    pub fn user(user: &AuthUser) -> Self {
        Self {
            id: Some(UserId(user.id)),
            kind: user.role.into(),
        }
    }
    /// The invoice service's own sweep.
    pub const SYSTEM: Actor = Actor {
        id: None,
        kind: ActorKind::System,
    };
    /// Marketplace's acceptance saga.
    pub const MARKETPLACE: Actor = Actor {
        id: None,
        kind: ActorKind::Marketplace,
    };
    /// Payments' results.
    pub const PAYMENTS: Actor = Actor {
        id: None,
        kind: ActorKind::Payments,
    };
}
