//! Tests that cross services (`tests/`): each service is built in this process from its
//! own crate, with its own database, all on one Redis prefix and one injected clock. They
//! reach each other only through Redis, as in production; the tests drive them over HTTP
//! as a client would. No service crate depends on another: only this crate sees several.
#![allow(clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use common::clock::ManualClock;
use service_kit::config::BaseConfig;
use testkit::api::{Running as Stop, base_config, spawn_until_dropped};
use testkit::{DbKind, TestDb};

/// How long a test waits for an effect to travel between services.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The services of one test: their Redis prefix, clock and data directory, and what runs.
pub struct Stack {
    /// Every service's Redis prefix (`base.redis_prefix`).
    pub prefix: String,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
    /// Stopped (first) and dropped (then) with the stack.
    running: Vec<(Stop, TestDb)>,
}

impl Default for Stack {
    fn default() -> Self {
        Self::new()
    }
}

impl Stack {
    pub fn new() -> Self {
        Self {
            prefix: testkit::unique_prefix(),
            clock: ManualClock::starting_now(),
            dir: tempfile::tempdir().expect("a temporary directory"),
            running: Vec::new(),
        }
    }

    /// `service`'s base configuration on a fresh PostgreSQL database of its own, with the
    /// stack's Redis prefix and data directory.
    pub async fn base(&self, service: &'static str) -> (BaseConfig, TestDb) {
        let db = TestDb::new(DbKind::Postgres).await;
        let base = BaseConfig {
            redis_prefix: self.prefix.clone(),
            data_dir: self.dir.path().display().to_string(),
            ..base_config(service, &db)
        };
        (base, db)
    }

    /// Runs `app` (built on `db`) until the stack is dropped; answers its address.
    pub fn serve<S: Send + 'static>(&mut self, app: service_kit::Running<S>, db: TestDb) -> String {
        let address = format!("http://127.0.0.1:{}", app.port());
        let stop = spawn_until_dropped(|stop| app.run_until_stopped(stop));
        self.running.push((stop, db));
        address
    }
}
