//! The stack for tests that drive it as a client would: the built service binaries, the
//! sandbox provider and real nginx on free ports, every service as its own Redis user with
//! signed events, exporting traces to a receiver; an admin made the operator's way.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::events::Service;
use testkit::TestDb;

/// Stops its processes when dropped.
pub struct Processes(Vec<(String, Child)>);

/// SIGTERM and wait: nginx's master stops its workers only when asked (a SIGKILLed
/// master leaves them holding the port).
pub fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    if child.wait().is_err() {
        let _ = child.kill();
    }
}

impl Processes {
    /// Stops one process now (and forgets it: nothing left to stop when dropped).
    pub fn stop(&mut self, name: &str) {
        if let Some(i) = self.0.iter().position(|(n, _)| n == name) {
            let (_, mut child) = self.0.remove(i);
            terminate(&mut child);
        }
    }
}

impl Processes {
    /// Stops every process, the last started first.
    fn stop_all(&mut self) {
        for (_, mut child) in self.0.drain(..).rev() {
            terminate(&mut child);
        }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// The service a binary of `workspace_services` is.
pub fn service_of(name: &str) -> Service {
    Service::named(name).unwrap_or_else(|| panic!("{name} is not a service"))
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The binary of `service`: built by the same `cargo nextest run` as this test (the
/// debug build), or in `STACK_BIN_DIR` when set (a release build, say: `make faults
/// STACK_BIN_DIR=...`).
pub fn binary(service: &str) -> PathBuf {
    let profile_dir = match std::env::var_os("STACK_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let exe = std::env::current_exe().unwrap();
            exe.parent().and_then(Path::parent).unwrap().to_owned()
        }
    };
    let bin = profile_dir.join(service);
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build -p {service}` first",
        bin.display()
    );
    bin
}

/// The port `service` (started with `PORT=0` and `LOG_FORMAT=json`) says it listens on
/// (its "Listening." line in `log`), waiting for it; fails with the log if it ends first.
pub async fn listening_port(procs: &mut Processes, service: &str, log: &Path) -> u16 {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let port = text
            .lines()
            .filter(|l| l.contains("\"Listening.\""))
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find_map(|v| v["port"].as_u64().or_else(|| v["fields"]["port"].as_u64()));
        if let Some(port) = port {
            return u16::try_from(port).unwrap();
        }
        let ended = procs
            .0
            .iter_mut()
            .find(|(name, _)| name == service)
            .is_none_or(|(_, child)| !matches!(child.try_wait(), Ok(None)));
        assert!(!ended, "{service} ended before listening:\n{text}");
        assert!(
            std::time::Instant::now() < deadline,
            "{service} did not say where it listens:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn nginx() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("nginx is not installed: apt-get install -y nginx-light (.ci/run installs it)")
}

pub async fn wait_ok(client: &reqwest::Client, url: &str, what: &str) {
    testkit::wait_until(Duration::from_secs(30), what, || async {
        client
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
}

pub fn problem_type(res: &reqwest::Response) -> String {
    res.headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// The services of the gateway's list (deploy/gateway/services.tsv) that exist in this
/// workspace (services/<name>/): what render.sh routes by default. Each is started below.
pub fn workspace_services() -> Vec<String> {
    let list = std::fs::read_to_string(workspace().join("deploy/gateway/services.tsv")).unwrap();
    list.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| {
            workspace()
                .join("services")
                .join(name)
                .join("Cargo.toml")
                .is_file()
        })
        .map(str::to_owned)
        .collect()
}

/// The last lines of each service's log, for a failure message.
pub fn logs(dir: &Path, services: &[String]) -> String {
    let mut out = String::new();
    for s in services {
        let text = std::fs::read_to_string(dir.join(format!("{s}.log"))).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(40)..];
        out.push_str(&format!(
            "--- {s}.log (last {} lines)\n{}\n",
            tail.len(),
            tail.join("\n")
        ));
    }
    out
}

/// A running stack; stops it when dropped.
pub struct Stack {
    pub base: String,
    pub client: reqwest::Client,
    pub services: Vec<String>,
    pub admin_email: String,
    pub admin_password: &'static str,
    pub traces_dir: PathBuf,
    pub procs: Processes,
    pub receiver: Option<traces::Receiver>,
    _redis_users: Option<testkit::AclUsers>,
    pub dir: tempfile::TempDir,
    /// Each service's PostgreSQL database (auth's always; every service's with
    /// [`Options::postgres_everywhere`]).
    pub databases: Vec<(String, TestDb)>,
}

/// How [`Stack::start_with`] differs from the gateway test's stack.
#[derive(Default)]
pub struct Options {
    /// A Redis of the test's own (one it restarts) instead of the shared one, used as its
    /// default user: ACL users made with `ACL SETUSER` would not survive its restart.
    pub redis_url: Option<String>,
    /// Every service on a PostgreSQL database of its own instead of SQLite.
    pub postgres_everywhere: bool,
    /// More environment for every service (`AUTH_RATE_BURST` for a load, say).
    pub env: Vec<(&'static str, String)>,
}

impl Stack {
    /// Starts every service of the workspace behind the gateway.
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    /// [`Self::start`], with `options`.
    pub async fn start_with(options: Options) -> Self {
        let services = workspace_services();
        assert!(
            ["auth", "kyc", "invoice"]
                .iter()
                .all(|s| services.iter().any(|x| x == s)),
            "services found: {services:?}"
        );
        let mut databases = Vec::new();
        for service in &services {
            if service == "auth" || options.postgres_everywhere {
                databases.push((service.clone(), TestDb::postgres().await));
            }
        }
        let db_url = |service: &str| {
            databases
                .iter()
                .find(|(s, _)| s == service)
                .map(|(_, db)| db.url.clone())
        };
        let dir = tempfile::tempdir().unwrap();
        let client = reqwest::Client::new();
        let gateway_port = testkit::spare_port();
        let redis_prefix = testkit::unique_prefix();
        // Each service connects as a Redis user of its own, with only its grants
        // (common::acl): every flow below works with least privilege.
        let redis_users = match &options.redis_url {
            None => Some(testkit::AclUsers::create(&redis_prefix)),
            Some(_) => None,
        };
        let redis_url_of = |service: Service| match (&redis_users, &options.redis_url) {
            (Some(users), _) => users.url_of(service),
            (None, Some(url)) => url.clone(),
            (None, None) => testkit::redis_url(),
        };
        // Each producer signs its events with its own key; every consumer checks them
        // against the producers' public keys (common::events::signing).
        let signers: Vec<common::events::signing::Signer> = Service::ALL
            .into_iter()
            .map(common::events::signing::Signer::generate)
            .collect();
        let public_keys = common::events::signing::Keyring::of(&signers).to_text();
        let mut procs = Processes(Vec::new());
        // Every process exports its spans to the trace receiver `make run` uses.
        let traces_dir = dir.path().join("traces");
        let receiver = traces::Receiver::start(
            TcpListener::bind("127.0.0.1:0").unwrap(),
            std::sync::Arc::new(traces::Store::open(&traces_dir, 256 << 20).unwrap()),
        )
        .unwrap();

        // Every service on one Redis prefix (they talk through it), each with its own data
        // folder and database: auth on a PostgreSQL test database, the others on SQLite.
        // Each service binds a free port itself (PORT=0) and says which in its log: a port
        // chosen here and released could be taken by another test's process meanwhile.
        let has = |name: &str| services.iter().any(|s| s == name);
        // Payments moves money through the sandbox provider, a process beside it.
        let webhook_secret = {
            use base64::Engine;
            let key = [
                *uuid::Uuid::new_v4().as_bytes(),
                *uuid::Uuid::new_v4().as_bytes(),
            ]
            .concat();
            format!(
                "whsec_{}",
                base64::engine::general_purpose::STANDARD.encode(key)
            )
        };
        let sandbox_port = testkit::spare_port();
        if has("payments") {
            let log = std::fs::File::create(dir.path().join("sandbox-provider.log")).unwrap();
            let sandbox = Command::new(binary("sandbox-provider"))
                .env("SANDBOX_HOST", "127.0.0.1")
                .env("SANDBOX_PORT", sandbox_port.to_string())
                .env(
                    "SANDBOX_PUBLIC_URL",
                    format!("http://127.0.0.1:{gateway_port}/sandbox"),
                )
                .env(
                    "SANDBOX_WEBHOOK_URL",
                    // Through the gateway, as a provider reaches it.
                    format!("http://127.0.0.1:{gateway_port}/api/payments/webhooks/sandbox"),
                )
                .env("SANDBOX_WEBHOOK_SECRETS", &webhook_secret)
                .env("SANDBOX_TRANSFER_DELAY_MS", "50")
                .env("SANDBOX_RETRY_BASE_MS", "100")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap();
            procs.0.push(("sandbox-provider".into(), sandbox));
            wait_ok(
                &client,
                &format!("http://127.0.0.1:{sandbox_port}/healthz"),
                "the sandbox provider up",
            )
            .await;
        }
        let mut started = Vec::new();
        for service in &services {
            let data_dir = dir.path().join(service);
            std::fs::create_dir_all(&data_dir).unwrap();
            let database_url = db_url(service).unwrap_or_else(|| {
                format!("sqlite://{}/{service}.db?mode=rwc", data_dir.display())
            });
            let log_path = dir.path().join(format!("{service}.log"));
            let log = std::fs::File::create(&log_path).unwrap();
            let mut cmd = Command::new(binary(service));
            cmd.arg("serve")
                .env("HOST", "127.0.0.1")
                .env("PORT", "0")
                .env("LOG_FORMAT", "json")
                .env(
                    format!("{}_DATABASE_URL", service.to_ascii_uppercase()),
                    database_url,
                )
                .env("REDIS_URL", redis_url_of(service_of(service)))
                .env(
                    "EVENT_SIGNING_KEY",
                    signers
                        .iter()
                        .find(|s| s.service() == service_of(service))
                        .unwrap()
                        .seed_base64(),
                )
                .env("EVENT_PUBLIC_KEYS", &public_keys)
                .env("REDIS_PREFIX", &redis_prefix)
                .env("DATA_DIR", &data_dir)
                .env("TRUSTED_PROXIES", "127.0.0.1")
                .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
                .env("OTEL_BSP_SCHEDULE_DELAY", "100")
                .envs(options.env.iter().map(|(k, v)| (k, v)))
                .stdout(log.try_clone().unwrap())
                .stderr(log);
            if service == "payments" {
                cmd.env("PAYMENTS_PROVIDER", "sandbox")
                    .env("SANDBOX_URL", format!("http://127.0.0.1:{sandbox_port}"))
                    .env("SANDBOX_WEBHOOK_SECRETS", &webhook_secret);
            }
            if service == "admin" {
                // The audit chain's key (any secret of 32 bytes or more).
                cmd.env(
                    "AUDIT_CHAIN_KEY",
                    format!("gateway-test-chain-key-{redis_prefix}-0123456789"),
                );
            }
            if service == "kyc" {
                // Documents in the data folder, checked in-process; no clamd or OCR from
                // the machine's environment.
                cmd.env("KYC_STORAGE", "local")
                    .env("KYC_WORKER_IN_PROCESS", "true")
                    .env_remove("CLAMD_ADDR")
                    .env_remove("KYC_OCR_COMMAND")
                    .env_remove("KYC_IDENTITY_KEY")
                    .env_remove("KYC_IDENTITY_KEY_FILE")
                    .env_remove("KYC_STORAGE_DIR");
            }
            procs.0.push((service.clone(), cmd.spawn().unwrap()));
            started.push((service.clone(), log_path));
        }
        let mut upstreams = Vec::new();
        for (service, log_path) in &started {
            let port = listening_port(&mut procs, service, log_path).await;
            upstreams.push((service.clone(), port));
        }
        for (service, port) in &upstreams {
            wait_ok(
                &client,
                &format!("http://127.0.0.1:{port}/readyz"),
                &format!("{service} ready"),
            )
            .await;
        }

        // An admin, made the operator's way (make create-admin runs this command).
        let admin_email = format!("admin-{}@example.com", uuid::Uuid::new_v4().simple());
        let admin_password = "correct horse 42";
        let out = Command::new(binary("auth"))
            .arg("create-admin")
            .arg("--email")
            .arg(&admin_email)
            .env("AUTH_DATABASE_URL", db_url("auth").unwrap())
            .env("ADMIN_PASSWORD", admin_password)
            .env("REDIS_URL", redis_url_of(Service::Auth))
            .env("REDIS_PREFIX", &redis_prefix)
            .env("DATA_DIR", dir.path().join("auth"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "auth create-admin: {}",
            String::from_utf8_lossy(&out.stderr)
        );

        let gw = dir.path().join("gateway");
        let mut render = Command::new("sh");
        render
            .arg(workspace().join("deploy/gateway/render.sh"))
            .arg(&gw)
            .env("GATEWAY_PORT", gateway_port.to_string())
            .env("GATEWAY_SERVICES", services.join(","))
            .stdout(Stdio::null());
        for (service, port) in &upstreams {
            render.env(
                format!("{}_UPSTREAM", service.to_ascii_uppercase()),
                format!("127.0.0.1:{port}"),
            );
        }
        if has("payments") {
            render.env("SANDBOX_UPSTREAM", format!("127.0.0.1:{sandbox_port}"));
        }
        let status = render.status().unwrap();
        assert!(status.success(), "render.sh failed");
        let nginx = Command::new(nginx())
            .arg("-p")
            .arg(&gw)
            .arg("-c")
            .arg(gw.join("nginx.conf"))
            .arg("-e")
            .arg(gw.join("logs/error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        procs.0.push(("gateway".into(), nginx));
        let base = format!("http://127.0.0.1:{gateway_port}");
        wait_ok(&client, &format!("{base}/healthz"), "gateway up").await;

        Self {
            base,
            client,
            services,
            admin_email,
            admin_password,
            traces_dir,
            procs,
            receiver: Some(receiver),
            _redis_users: redis_users,
            dir,
            databases,
        }
    }

    /// The last lines of each service's log, for a failure message.
    pub fn logs(&self) -> String {
        logs(self.dir.path(), &self.services)
    }

    /// Stops the processes, then the trace receiver.
    pub async fn stop(mut self) {
        self.procs.stop_all();
        if let Some(r) = self.receiver.take() {
            r.stop().await;
        }
    }
}
