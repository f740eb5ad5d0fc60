//! moto's S3 server, a process of the test's own, for object-storage tests.
//!
//! The program is found through `MOTO_SERVER` (a path), else `$MOTO_VENV/bin/moto_server`
//! (`MOTO_VENV` defaults to `.venv-moto` in the checkout, where
//! `scripts/ensure-test-tools.sh` installs it), else `moto_server` on `PATH`. moto accepts any credentials; use
//! [`MotoServer::ACCESS_KEY_ID`] and [`MotoServer::SECRET_ACCESS_KEY`].

use std::fs::File;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long moto may take to answer after it is started (Python start-up on a busy CI box).
const START_DEADLINE: Duration = Duration::from_secs(60);

/// A `moto_server` on a spare port of 127.0.0.1, killed on drop.
pub struct MotoServer {
    port: u16,
    child: Child,
    /// moto's output, shown when it fails to start.
    _log_dir: tempfile::TempDir,
}

impl MotoServer {
    pub const ACCESS_KEY_ID: &'static str = "test";
    pub const SECRET_ACCESS_KEY: &'static str = "test";
    pub const REGION: &'static str = "us-east-1";

    /// Starts moto and returns once it accepts connections. Panics, naming
    /// `scripts/ensure-test-tools.sh`, when moto is not installed.
    pub fn start() -> Self {
        let program = moto_program();
        let port = crate::spare_port();
        let log_dir = tempfile::tempdir().expect("temp dir for moto's log");
        let log_path = log_dir.path().join("moto.log");
        let log = File::create(&log_path).expect("create moto's log file");
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone moto's log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        let mut server = Self {
            port,
            child,
            _log_dir: log_dir,
        };
        server.wait_until_listening(&log_path);
        server
    }

    /// Start-up, not a test sleep: poll until moto accepts a connection or exits.
    fn wait_until_listening(&mut self, log_path: &Path) {
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            let exited = self.child.try_wait().ok().flatten();
            if exited.is_some() || start.elapsed() > START_DEADLINE {
                let log = std::fs::read_to_string(log_path).unwrap_or_default();
                let why = match exited {
                    Some(status) => format!("exited with {status}"),
                    None => format!("did not listen within {START_DEADLINE:?}"),
                };
                panic!(
                    "moto_server on port {} {why}; its output:\n{log}",
                    self.port
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`, for an S3 client's endpoint (path-style, plain HTTP).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates `name` (moto takes an unsigned `PUT /<bucket>`).
    pub async fn create_bucket(&self, name: &str) {
        let url = format!("{}/{name}", self.endpoint());
        let response = reqwest::Client::new()
            .put(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("PUT {url}: {e}"));
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "PUT {url}: {status}: {body}");
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `MOTO_SERVER`, else `$MOTO_VENV/bin/moto_server` (`MOTO_VENV` defaults to
/// `.venv-moto` in the checkout), else `moto_server` on `PATH`. moto has a venv of its own:
/// checkov (k8s-validate) pins older boto3/botocore than moto needs.
fn moto_program() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_SERVER").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "MOTO_SERVER={} is not a file; unset it, or run scripts/ensure-test-tools.sh",
            path.display()
        );
        return path;
    }
    let venv = std::env::var_os("MOTO_VENV")
        .filter(|v| !v.is_empty())
        .map(|v| workspace_root().join(v)) // an absolute MOTO_VENV replaces the root
        .unwrap_or_else(|| workspace_root().join(".venv-moto"));
    let in_venv = venv.join("bin").join("moto_server");
    if in_venv.is_file() {
        return in_venv;
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("moto_server"))
            .find(|p| p.is_file())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "moto_server not found (looked at MOTO_SERVER, {}, and PATH): \
             run `bash scripts/ensure-test-tools.sh` to install moto[server]",
            in_venv.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_started_server_answers_and_creates_buckets() {
        let moto = MotoServer::start();
        assert!(moto.endpoint().starts_with("http://127.0.0.1:"));
        moto.create_bucket("testkit-bucket").await;
        let listing = reqwest::get(moto.endpoint()).await.unwrap();
        assert!(listing.status().is_success());
        assert!(listing.text().await.unwrap().contains("testkit-bucket"));
    }

    #[test]
    fn the_server_is_killed_on_drop() {
        let moto = MotoServer::start();
        let port = moto.port();
        drop(moto);
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}
