//! What the service keeps: its tables ([`entity`], [`migration`]), users ([`users`]: with
//! their events in the same transaction), refresh-token sessions ([`sessions`]) and the
//! signing keys ([`keystore`]: a folder of private keys, published to Redis).

pub mod entity;
pub mod keystore;
pub mod migration;
pub mod sessions;
pub mod totp;
pub mod users;
