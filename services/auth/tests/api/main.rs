//! Black-box tests of the auth service: the app on port 0, its own database and Redis
//! prefix, real PostgreSQL (and SQLite where it matters) and Redis.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod db_faults;
mod events;
mod login;
mod logout_refresh;
mod openapi;
mod rate_limits;
mod redis_wait;
mod register;
mod suspension;
mod tokens;
mod totp;
