//! Why a notifications operation did not happen, in the domain's words. Routes turn it
//! into a problem (the one mapping is in `routes`).

use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("you have {0} devices, the most allowed; remove one first")]
    TooManyDevices(u64),
    /// Another registration of the same push token committed between the check and the
    /// insert.
    #[error("this token was just registered; try again")]
    TokenJustRegistered,
    /// No such device, or not the caller's (never "forbidden").
    #[error("no device {0}")]
    NoDevice(Uuid),
    #[error("no notification {0}")]
    NoNotification(Uuid),
    #[error("a ticket is required: POST /api/notifications/ws-ticket, then ?ticket=")]
    TicketRequired,
    #[error(transparent)]
    Ticket(#[from] TicketError),
    /// The database, or a stored value that is not one of its column's words.
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

/// Why a WebSocket ticket was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TicketError {
    #[error("the ticket is unknown, already used or expired; ask for a new one")]
    Invalid,
    #[error("the ticket expired; ask for a new one")]
    Expired,
}
