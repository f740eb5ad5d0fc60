//! What a notification is made of: the text and recipients an event makes ([`compose`]) and
//! who may listen on which live channel ([`channels`]), and [`NotificationError`], why an
//! operation did not happen. No actix, sea-orm or Redis here.

pub mod channels;
pub mod compose;
mod error;

pub use error::{NotificationError, TicketError};
