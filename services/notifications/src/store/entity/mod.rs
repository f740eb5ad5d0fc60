//! The service's tables: notifications (the source of truth), devices (push targets) and
//! channel members (who may listen to which live channel, from the events heard).

pub mod channel_member;
pub mod device;
pub mod notification;
pub mod unread_counter;
