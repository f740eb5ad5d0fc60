//! The gateway end to end: the built service binaries and real nginx on free ports, driven
//! as a client would (the demo's walk-through plus the gateway's own behaviour).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use testkit::TestDb;

/// Stops its processes when dropped.
struct Processes(Vec<(String, Child)>);

/// SIGTERM and wait: nginx's master stops its workers only when asked (a SIGKILLed
/// master leaves them holding the port).
fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    if child.wait().is_err() {
        let _ = child.kill();
    }
}

impl Processes {
    fn stop(&mut self, name: &str) {
        if let Some((_, child)) = self.0.iter_mut().find(|(n, _)| n == name) {
            terminate(child);
        }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for (_, child) in self.0.iter_mut().rev() {
            terminate(child);
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The debug binary of `service`, built by the same `cargo nextest run` as this test.
fn binary(service: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = profile_dir.join(service);
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build -p {service}` first",
        bin.display()
    );
    bin
}

fn nginx() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("nginx is not installed: apt-get install -y nginx-light (.ci/run installs it)")
}

async fn wait_ok(client: &reqwest::Client, url: &str, what: &str) {
    testkit::wait_until(Duration::from_secs(30), what, || async {
        client
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
}

fn problem_type(res: &reqwest::Response) -> String {
    res.headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_auth_flow_works_through_the_gateway_and_the_gateway_answers_problems() {
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let auth_port = free_port();
    let gateway_port = free_port();
    let mut procs = Processes(Vec::new());

    let log = std::fs::File::create(dir.path().join("auth.log")).unwrap();
    let auth = Command::new(binary("auth"))
        .arg("serve")
        .env("HOST", "127.0.0.1")
        .env("PORT", auth_port.to_string())
        .env("AUTH_DATABASE_URL", &db.url)
        .env("REDIS_URL", testkit::redis_url())
        .env("REDIS_PREFIX", testkit::unique_prefix())
        .env("DATA_DIR", dir.path())
        .env("TRUSTED_PROXIES", "127.0.0.1")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    procs.0.push(("auth".into(), auth));
    wait_ok(
        &client,
        &format!("http://127.0.0.1:{auth_port}/readyz"),
        "auth ready",
    )
    .await;

    let gw = dir.path().join("gateway");
    let status = Command::new("sh")
        .arg(workspace().join("deploy/gateway/render.sh"))
        .arg(&gw)
        .env("GATEWAY_PORT", gateway_port.to_string())
        .env("GATEWAY_SERVICES", "auth")
        .env("AUTH_UPSTREAM", format!("127.0.0.1:{auth_port}"))
        .stdout(Stdio::null())
        .status()
        .unwrap();
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

    // The whole auth flow a client would walk: register, login, me, refresh, logout,
    // token refused after logout.
    let mut demo = demo::Demo::new(&base).quiet();
    demo.run()
        .await
        .unwrap_or_else(|e| panic!("demo failed: {e:#}\n{}", demo.log));
    assert!(demo.log.contains("refused at once"));

    // The request id is passed on (or made) and comes back.
    let res = client
        .get(format!("{base}/api/auth/.well-known/jwks.json"))
        .header("x-request-id", "e2e-req-1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-request-id"], "e2e-req-1");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");

    // An unknown prefix is a 404 problem from the gateway itself.
    let res = client
        .get(format!("{base}/api/nope/anything"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(problem_type(&res).starts_with("application/problem+json"));

    // The service's API document, through the gateway.
    let res = client
        .get(format!("{base}/api-docs/auth/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let doc: serde_json::Value = res.json().await.unwrap();
    assert!(doc["paths"]["/api/auth/login"]["post"].is_object());

    // A service that is down is a 502 problem, not an HTML page.
    procs.stop("auth");
    let res = client
        .get(format!("{base}/api/auth/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    assert!(problem_type(&res).starts_with("application/problem+json"));
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], 502);
}
