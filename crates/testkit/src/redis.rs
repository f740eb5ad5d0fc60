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

/// The keys matching `pattern`, sorted: `SCAN` on a single Redis, on every primary of a
/// cluster (a test's keys spread over the slots). Never `KEYS`.
pub async fn keys_matching(redis: &Pool, pattern: &str) -> Vec<String> {
    use fred::prelude::ClientLike;
    use futures::TryStreamExt;
    let client = redis.next();
    let keys: Vec<fred::types::Key> = if client.is_clustered() {
        client
            .scan_cluster_buffered(pattern.to_owned(), Some(500), None)
            .try_collect()
            .await
    } else {
        client
            .scan_buffered(pattern.to_owned(), Some(500), None)
            .try_collect()
            .await
    }
    .expect("SCAN");
    let mut keys: Vec<String> = keys.into_iter().filter_map(|k| k.into_string()).collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Subscribers of `channel` (`PUBSUB NUMSUB`), on every primary of a cluster summed: a
/// cluster node counts only the subscriptions made on it.
pub async fn subscribers(redis: &Pool, channel: &str) -> i64 {
    use fred::interfaces::PubsubInterface;
    use fred::prelude::ClientLike;
    let client = redis.next();
    let count =
        |numsub: Vec<fred::types::Value>| numsub.get(1).and_then(|v| v.as_i64()).unwrap_or(0);
    if !client.is_clustered() {
        return count(client.pubsub_numsub(channel).await.expect("PUBSUB NUMSUB"));
    }
    let mut total = 0;
    for server in service_kit::redis::primaries(client) {
        total += count(
            client
                .with_cluster_node(server)
                .pubsub_numsub(channel)
                .await
                .expect("PUBSUB NUMSUB"),
        );
    }
    total
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
        Self::start_on_spare_port(false, &[])
    }

    /// A server started with extra arguments (`--aclfile <path>`, say).
    pub fn start_with(extra: &[&str]) -> Self {
        Self::start_on_spare_port(false, extra)
    }

    /// Up to five spare ports tried, in case another test process takes one first.
    fn start_on_spare_port(durable: bool, extra: &[&str]) -> Self {
        for _ in 0..5 {
            let mut server = Self::not_started();
            server.durable = durable;
            if server.try_spawn(extra) {
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
        Self::start_on_spare_port(true, &[])
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
                // (A server whose default user may only PING cannot tell its pid.)
                if info.contains(&format!("process_id:{pid}")) || info.contains("NOPERM") {
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

/// A Redis Cluster of the test's own (three primaries, three replicas, started by
/// `scripts/redis-cluster.sh` on six free loopback ports in a temporary directory), for
/// tests that kill a primary. Stopped and removed when dropped.
pub struct RedisCluster {
    pub base: u16,
    dir: tempfile::TempDir,
    url: String,
}

fn cluster_script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/redis-cluster.sh")
}

impl RedisCluster {
    /// Starts a cluster on six consecutive free ports (their cluster bus ports, 10000
    /// above, free too), waiting until every slot is served and the replicas are in sync.
    pub fn start() -> Self {
        for attempt in 0..10u16 {
            // Spread the bases so parallel test processes rarely try the same one.
            let base = 20_000 + (spare_port() % 30_000).saturating_add(attempt * 7) % 30_000;
            let free = (0..6).all(|i| {
                [base + i, base + i + 10_000]
                    .iter()
                    .all(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
            });
            if !free {
                continue;
            }
            let dir = tempfile::tempdir().expect("temp dir");
            let out = Command::new("bash")
                .arg(cluster_script())
                .arg("start")
                .env("REDIS_CLUSTER_PORT", base.to_string())
                .env("REDIS_CLUSTER_DIR", dir.path())
                .output()
                .expect("run scripts/redis-cluster.sh");
            if out.status.success() {
                let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                return Self { base, dir, url };
            }
            let _ = Command::new("bash")
                .arg(cluster_script())
                .arg("stop")
                .env("REDIS_CLUSTER_PORT", base.to_string())
                .env("REDIS_CLUSTER_DIR", dir.path())
                .output();
        }
        panic!("no Redis Cluster started on any of ten port ranges");
    }

    /// `redis-cluster://127.0.0.1:<base>,...`
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// `redis-cli -p <port> <args>` on one node: its output, trimmed.
    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &port.to_string()])
            .args(args)
            .output()
            .expect("run redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The port of the primary that serves `key`'s slot now (asked of the nodes that are
    /// up).
    pub fn primary_of(&self, key: &str) -> u16 {
        let slot: u16 = (0..6)
            .find_map(|i| {
                self.cli(self.base + i, &["CLUSTER", "KEYSLOT", key])
                    .parse()
                    .ok()
            })
            .expect("a node answers CLUSTER KEYSLOT");
        for i in 0..6 {
            let nodes = self.cli(self.base + i, &["CLUSTER", "NODES"]);
            for line in nodes.lines() {
                let words: Vec<&str> = line.split_whitespace().collect();
                if words.len() < 9 || !words[2].contains("master") || words[2].contains("fail") {
                    continue;
                }
                let serves = words[8..].iter().any(|range| {
                    let (a, b) = range.split_once('-').unwrap_or((range, range));
                    matches!((a.parse::<u16>(), b.parse::<u16>()), (Ok(a), Ok(b)) if (a..=b).contains(&slot))
                });
                if serves {
                    let port = words[1]
                        .split('@')
                        .next()
                        .and_then(|a| a.rsplit(':').next())
                        .and_then(|p| p.parse().ok())
                        .expect("node address");
                    return port;
                }
            }
            if !nodes.is_empty() {
                break;
            }
        }
        panic!("no primary serves slot {slot}");
    }

    /// `kill -9` of the node on `port` (a crash: nothing saved, no goodbye to its peers).
    pub fn kill(&self, port: u16) {
        let pidfile = self.dir.path().join(port.to_string()).join("redis.pid");
        let pid = std::fs::read_to_string(&pidfile).expect("the node's pid file");
        let status = Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -9 of the node on {port}");
    }

    /// Whether every slot is served again (`cluster_state:ok` on the nodes that are up).
    pub fn is_healthy(&self, down: &[u16]) -> bool {
        (0..6)
            .map(|i| self.base + i)
            .filter(|p| !down.contains(p))
            .all(|p| {
                let info = self.cli(p, &["CLUSTER", "INFO"]);
                info.contains("cluster_state:ok") && info.contains("cluster_slots_ok:16384")
            })
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(cluster_script())
            .arg("stop")
            .env("REDIS_CLUSTER_PORT", self.base.to_string())
            .env("REDIS_CLUSTER_DIR", self.dir.path())
            .output();
    }
}

/// One Redis user per service for a test's prefix (`<prefix>-<service>`, the rules of
/// `common::acl::Grants` under that prefix), made with `ACL SETUSER` on the test Redis
/// (on a cluster, on every node `REDIS_URL` names) and deleted when dropped. A test that
/// runs services with [`Self::url_of`] proves they work with nothing more than their
/// grants.
pub struct AclUsers {
    prefix: String,
    nodes: Vec<(String, u16)>,
}

impl AclUsers {
    pub fn create(prefix: &str) -> Self {
        let keys = common::keys::Keys::new(prefix);
        let users = Self {
            prefix: prefix.to_owned(),
            nodes: service_kit::redis::nodes(&redis_url(), 6379),
        };
        for service in common::events::Service::ALL {
            let mut args = vec![
                "ACL".to_owned(),
                "SETUSER".to_owned(),
                users.user(service),
                "reset".to_owned(),
                format!(">{}", users.password(service)),
            ];
            args.extend(common::acl::Grants::of(&keys, service).rules());
            for (host, port) in &users.nodes {
                let out = Command::new("redis-cli")
                    .args(["-h", host, "-p", &port.to_string()])
                    .args(&args)
                    .output()
                    .expect("run redis-cli");
                let answer = String::from_utf8_lossy(&out.stdout);
                assert_eq!(
                    answer.trim(),
                    "OK",
                    "ACL SETUSER on {host}:{port}: {answer}"
                );
            }
        }
        users
    }

    pub fn user(&self, service: common::events::Service) -> String {
        format!("{}-{}", self.prefix, service.as_str())
    }

    fn password(&self, service: common::events::Service) -> String {
        format!("pw-{}-{}", self.prefix, service.as_str())
    }

    /// The test's `REDIS_URL` with `service`'s user and password.
    pub fn url_of(&self, service: common::events::Service) -> String {
        service_kit::redis::with_credentials(
            &redis_url(),
            &self.user(service),
            &self.password(service),
        )
    }
}

impl Drop for AclUsers {
    fn drop(&mut self) {
        for service in common::events::Service::ALL {
            for (host, port) in &self.nodes {
                let _ = Command::new("redis-cli")
                    .args(["-h", host, "-p", &port.to_string()])
                    .args(["ACL", "DELUSER", &self.user(service)])
                    .output();
            }
        }
    }
}
