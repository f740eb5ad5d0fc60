use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use service_kit::redis::Pool;

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A prefix no other test uses (`t<uuid>`), for every Redis name of one test.
pub fn unique_prefix() -> String {
    format!("t{}", uuid::Uuid::new_v4().simple())
}

pub async fn redis_pool() -> Pool {
    service_kit::redis::pool(&redis_url(), 2)
        .await
        .expect("connect to REDIS_URL")
}

/// A redis-server process of the test's own on a spare port (for restart tests), or one
/// that stays in its `LOADING` phase for as long as the test wants ([`Self::start_loading`]).
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// Start with `key-load-delay` (slow replay of the RDB in `dir`).
    slow_load: bool,
    /// An append-only file in `dir`, synced every second, as `make run`'s and
    /// production's Redis keep ([`Self::start_durable`]).
    durable: bool,
}

/// A port nothing listens on now (bound to port 0, then released).
pub fn spare_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("spare port")
}

/// Keys in the RDB of a loading server: at the 1 ms a key its replay is slowed to, it
/// would take 100 s, far longer than any test waits before [`RedisServer::finish_loading`].
const LOADING_KEYS: usize = 100_000;

impl RedisServer {
    /// A server on a spare port. Should the port be taken between choosing it and the
    /// server binding it (tests run in parallel processes), another port is tried.
    pub fn start() -> Self {
        for _ in 0..5 {
            let mut server = Self::not_started();
            if server.try_spawn(&[]) {
                return server;
            }
        }
        panic!("redis-server did not start on any of five spare ports");
    }

    /// A spare port with no Redis on it yet (an unreachable Redis); [`Self::spawn`] starts
    /// it. (The port cannot be held meanwhile: a held port accepts connections.)
    pub fn not_started() -> Self {
        Self {
            port: spare_port(),
            child: None,
            dir: tempfile::tempdir().expect("temp dir"),
            slow_load: false,
            durable: false,
        }
    }

    /// A server keeping an append-only file (`appendfsync everysec`), so that
    /// [`Self::restart_keeping_data`] and [`Self::crash_and_restart`] come back with it.
    pub fn start_durable() -> Self {
        for _ in 0..5 {
            let mut server = Self::not_started();
            server.durable = true;
            if server.try_spawn(&[]) {
                return server;
            }
        }
        panic!("redis-server did not start on any of five spare ports");
    }

    /// A graceful restart: `SHUTDOWN` (the append-only file synced), then the same server
    /// again on the same port and files. Nothing acknowledged is lost.
    pub fn restart_keeping_data(&mut self) {
        assert!(self.durable, "restart_keeping_data needs start_durable");
        let _ = self.cli(&["SHUTDOWN"]);
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
        self.spawn();
    }

    /// A crash: `kill -9`, then the same server again on the same files. What was
    /// acknowledged in about the last second may be lost (`appendfsync everysec`).
    pub fn crash_and_restart(&mut self) {
        assert!(self.durable, "crash_and_restart needs start_durable");
        self.stop();
        self.spawn();
    }

    /// A server that answers `LOADING` (as Redis does while replaying a large AOF after a
    /// restart) until [`Self::finish_loading`]: an RDB of many keys, replayed at 1 ms a key
    /// (`key-load-delay`, the knob Redis's own tests use), with client commands served
    /// every KiB read so that `PING` gets its `LOADING` answer at once.
    pub fn start_loading() -> Self {
        let mut server = Self::not_started();
        server.spawn_with(&["--enable-debug-command", "local"]);
        server.cli(&["DEBUG", "POPULATE", &LOADING_KEYS.to_string(), "seed"]);
        server.cli(&["SAVE"]);
        server.stop();
        server.slow_load = true;
        server.spawn();
        assert!(server.is_loading(), "redis-server did not stay loading");
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// `redis-cli -p <port> <args>`: its output, trimmed.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("run redis-cli (is it installed?)");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Whether the server answers `PING` with `LOADING`.
    pub fn is_loading(&self) -> bool {
        self.cli(&["PING"]).starts_with("LOADING")
    }

    /// Ends the slow replay: the rest of the RDB loads at full speed and the server serves.
    pub fn finish_loading(&self) {
        self.cli(&["CONFIG", "SET", "key-load-delay", "0"]);
    }

    /// Saves the data, stops the server and starts it again, loading slowly until
    /// [`Self::finish_loading`] (a production Redis restarting with a large dataset).
    pub fn restart_loading(&mut self) {
        assert_eq!(self.cli(&["SAVE"]), "OK");
        self.stop();
        self.slow_load = true;
        self.spawn();
        assert!(self.is_loading(), "redis-server did not stay loading");
    }

    /// Starts the server (on [`Self::not_started`]'s port, say).
    pub fn spawn(&mut self) {
        self.spawn_with(&[]);
    }

    fn spawn_with(&mut self, extra: &[&str]) {
        assert!(
            self.try_spawn(extra),
            "redis-server did not start on port {} (taken by another process?)",
            self.port
        );
    }

    /// Starts the server and waits until it answers on the port as itself (its `INFO`
    /// names our child's pid): false if it exited (the port was taken) or another
    /// process answers there.
    fn try_spawn(&mut self, extra: &[&str]) -> bool {
        let mut command = Command::new("redis-server");
        command
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(if self.durable {
                ["--appendonly", "yes", "--appendfsync", "everysec"].as_slice()
            } else {
                ["--appendonly", "no"].as_slice()
            })
            .arg("--dir")
            .arg(self.dir.path())
            .args(extra);
        if self.slow_load {
            command.args([
                "--key-load-delay",
                "1000",
                "--loading-process-events-interval-bytes",
                "1024",
            ]);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server (is it installed?)");
        let pid = child.id();
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && !matches!(child.try_wait(), Ok(None))
            {
                self.child = None;
                return false;
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                let info = self.cli(&["INFO", "server"]);
                if info.contains(&format!("process_id:{pid}")) {
                    return true;
                }
                // Loading answers INFO too; anything else is another process's port.
                if info.contains("process_id:") {
                    self.stop();
                    return false;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server and starts a new one on the same port (all data lost).
    pub fn restart(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(self.dir.path().join("dump.rdb"));
        self.slow_load = false;
        self.spawn();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
