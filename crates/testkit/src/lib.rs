//! The test harness every service's tests use: a fresh PostgreSQL database or SQLite file
//! per test, a unique Redis prefix, a redis-server of the test's own, test signing keys
//! and tokens, a client of the service under test that signs users' tokens ([`api`]),
//! and waiting on a condition with a deadline (never a bare sleep).
//!
//! Environment: `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`,
//! the server where per-test databases are created), `REDIS_URL` (default
//! `redis://127.0.0.1:6379`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod api;
mod clamd;
mod db;
pub mod fixtures;
mod moto;
pub mod openapi;
mod problem;
mod redis;
mod tokens;
mod wait;
pub mod webdriver;

pub use clamd::{ClamdStandIn, EICAR, EICAR_SIGNATURE};
pub use db::{DbKind, TestDb};
pub use moto::MotoServer;
pub use problem::assert_problem;
pub use redis::{
    AclUsers, RedisCluster, RedisServer, keys_matching, redis_pool, redis_url, spare_port,
    subscribers, unique_prefix,
};
pub use tokens::TestKeys;
pub use wait::{wait_for, wait_until};
