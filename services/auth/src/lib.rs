//! # auth
//!
//! Owns users, refresh tokens, signing keys and the `/api/auth` rate limits.
//!
//! | route | who | does |
//! | --- | --- | --- |
//! | `POST /api/auth/register` | anyone | a seller or investor account |
//! | `POST /api/auth/login` | anyone | access + refresh token (argon2id, rate limited) |
//! | `POST /api/auth/refresh` | refresh token holder | rotates the refresh token |
//! | `POST /api/auth/logout` | user | blacklists the access token, revokes its session |
//! | `GET /api/auth/me` | user | the caller's account |
//! | `POST /api/auth/users/{id}/suspend`, `/reactivate` | admin | suspension, effective at once |
//! | `GET /api/auth/.well-known/jwks.json` | anyone | public signing keys |
//!
//! Publishes (outbox -> `events:{consumer}`): `user.registered`, `user.suspended`,
//! `user.reactivated`. Consumes `events:auth`: `kyc.approved` / `kyc.rejected` (the `kyc`
//! claim of the user's next tokens). Redis: `blacklisted:{jti}`,
//! `auth:revoked_before:{userId}`, `auth:jwks`, `ratelimit:auth-*`.

pub mod cli;
pub mod config;
pub mod consumer;
pub mod domain;
pub mod entity;
pub mod keystore;
pub mod migration;
pub mod routes;
pub mod sessions;
pub mod startup;
pub mod state;
pub mod users;

pub use config::AuthConfig;
pub use startup::{Application, Binary, build};
