//! What a notification is made of: the text and recipients an event makes ([`compose`]) and
//! who may listen on which live channel ([`channels`]). No actix, sea-orm or Redis here.

pub mod channels;
pub mod compose;
