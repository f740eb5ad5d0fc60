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
//! claim of the user's next tokens; [`inbound`]). Redis: `blacklisted:{jti}`,
//! `auth:revoked_before:{userId}`, `auth:jwks`, `ratelimit:auth-*`.
//!
//! Inside: [`routes`] -> [`domain`] (email, password, profile rules) -> [`store`] (users
//! with their outbox events, sessions, signing keys); [`startup`] is the table of
//! contents, [`cli`] the operator's commands.

pub mod cli;
mod config;
pub mod domain;
pub mod inbound;
mod routes;
mod startup;
pub mod state;
pub mod store;

pub use config::AuthConfig;
pub use startup::{Application, Binary, build};
