//! The gateway end to end: the built service binaries and real nginx on free ports, driven
//! as a client would (the demo's walk-through plus the gateway's own behaviour).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::events::Service;
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
    /// Stops one process now (and forgets it: nothing left to stop when dropped).
    fn stop(&mut self, name: &str) {
        if let Some(i) = self.0.iter().position(|(n, _)| n == name) {
            let (_, mut child) = self.0.remove(i);
            terminate(&mut child);
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

/// The service a binary of `workspace_services` is.
fn service_of(name: &str) -> Service {
    Service::named(name).unwrap_or_else(|| panic!("{name} is not a service"))
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

/// The services of the gateway's list (deploy/gateway/services.tsv) that exist in this
/// workspace (services/<name>/): what render.sh routes by default. Each is started below.
fn workspace_services() -> Vec<String> {
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
fn logs(dir: &Path, services: &[String]) -> String {
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

#[tokio::test]
async fn every_flow_works_through_the_gateway_and_the_gateway_answers_problems() {
    let services = workspace_services();
    assert!(
        ["auth", "kyc", "invoice"]
            .iter()
            .all(|s| services.iter().any(|x| x == s)),
        "services found: {services:?}"
    );
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let gateway_port = free_port();
    let redis_prefix = testkit::unique_prefix();
    // Each service connects as a Redis user of its own, with only its grants
    // (common::acl): every flow below works with least privilege.
    let redis_users = testkit::AclUsers::create(&redis_prefix);
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
    let ports: Vec<u16> = services.iter().map(|_| free_port()).collect();
    let port_of = |name: &str| services.iter().position(|s| s == name).map(|i| ports[i]);
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
    let sandbox_port = free_port();
    if let Some(payments_port) = port_of("payments") {
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
                format!("http://127.0.0.1:{payments_port}/api/payments/webhooks/sandbox"),
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
    let mut upstreams = Vec::new();
    for (service, &port) in services.iter().zip(&ports) {
        let data_dir = dir.path().join(service);
        std::fs::create_dir_all(&data_dir).unwrap();
        let database_url = if service == "auth" {
            db.url.clone()
        } else {
            format!("sqlite://{}/{service}.db?mode=rwc", data_dir.display())
        };
        let log = std::fs::File::create(dir.path().join(format!("{service}.log"))).unwrap();
        let mut cmd = Command::new(binary(service));
        cmd.arg("serve")
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env(
                format!("{}_DATABASE_URL", service.to_ascii_uppercase()),
                database_url,
            )
            .env("REDIS_URL", redis_users.url_of(service_of(service)))
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
            .stdout(Stdio::null())
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
        .env("AUTH_DATABASE_URL", &db.url)
        .env("ADMIN_PASSWORD", admin_password)
        .env("REDIS_URL", redis_users.url_of(Service::Auth))
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
    if port_of("payments").is_some() {
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

    // Every flow a client would walk. Auth: register, login, me, refresh, logout, token
    // refused after logout. KYC: uploads (and a text file refused), checks, submissions,
    // the admin's review and download, the approval in the next token, the rejection's
    // reason, the seller's second submission approved. Invoices: drafts, refusals, submit,
    // verify, search, reject and resubmit, cancel, history. Marketplace: the listing heard
    // of, priced offers, refusals, revise, the seller's view, trending, stats, the
    // acceptance saga.
    let mut demo = demo::Demo::new(&base)
        .with_admin(&admin_email, admin_password)
        .quiet();
    demo.run().await.unwrap_or_else(|e| {
        panic!(
            "demo failed: {e:#}\n{}\n{}",
            demo.log,
            logs(dir.path(), &services)
        )
    });
    // Shown with `cargo nextest run --no-capture`.
    println!("{}", demo.log);
    assert!(demo.log.contains("refused at once"));
    for step in [
        "is refused: 415 application/problem+json",
        "can_submit is true",
        "Content-Disposition: attachment",
        "X-Content-Type-Options: nosniff",
        "the kyc claim said \"approved\"",
        "The seller's KYC status: rejected, reason",
        "The seller refreshed its token until the kyc claim said \"approved\"",
        "== Invoices (invoice) ==",
        "status draft.",
        "is refused: 422 naming amount, due_date",
        "cannot see the draft (404) nor create invoices (403)",
        "The admin verified it: listed.",
        "the listed invoice among them",
        "cannot edit it once listed: 409",
        "submitted it again: submitted",
        "was cancelled: cancelled",
        "draft (by the seller), then submitted (by the seller), then listed (by the admin)",
        "== Marketplace (marketplace) ==",
        "reached the marketplace (invoice.listed",
        "The investor offered 18.5 %: 201, price",
        "A second offer by the same investor: 409",
        "A rate of \"75\": 422 naming discount_rate.",
        "A rate of \"-1\": 422 naming discount_rate.",
        "The seller cannot make offers: 403.",
        "The investor revised it to 17.25 %: 200",
        "A second investor (KYC-approved in",
        "The seller sees 2 offers on it",
        "Trending lists it",
        "before the revision): 412, nothing accepted; the offer now is version 2 at 17.25 %.",
        "the seller accepted it: 202, reserved at price",
        "the offer is accepted, the invoice accepted, the other offer rejected",
        "Accepting the other offer: 409",
        "/api/invoices/popular answers the investor",
        "== Notifications (notifications) ==",
        "notifications, newest first",
        "The investor cannot mark the seller's notification read: 404.",
        "with a one-time ticket (used again: 401)",
        "the investor's kyc:status channel is refused (forbidden)",
        "over the WebSocket, live:",
        "unread now 0.",
        "== Admin (admin) ==",
        "Every step of the demo is in the audit log",
        "moved by exactly what the demo did",
        "The audit chain verifies",
        "The review queue holds",
    ] {
        assert!(demo.log.contains(step), "no {step:?} in\n{}", demo.log);
    }

    one_trace_runs_from_a_request_to_a_websocket_message(&traces_dir).await;

    // The load tests' seed: a new seller taken through KYC by the admin, whose token lets
    // it draft invoices at once.
    let admin = demo::login(&base, &admin_email, admin_password)
        .await
        .unwrap();
    let seller = demo::approved_seller(&base, &admin).await.unwrap();
    assert_ne!(seller.id, admin.id);
    assert!(seller.email.starts_with("demo-seller-"), "{}", seller.email);
    let res = client
        .get(format!("{base}/api/auth/me"))
        .bearer_auth(&seller.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let me: serde_json::Value = res.json().await.unwrap();
    assert_eq!(me["id"], seller.id.as_str());
    assert_eq!(me["kyc_status"], "approved");
    let res = client
        .post(format!("{base}/api/invoices"))
        .bearer_auth(&seller.access)
        .json(&serde_json::json!({
            "invoice_number": "SEED-1",
            "debtor": {"name": "Dangote Cement Plc"},
            "amount": "1000.00",
            "issue_date": "2026-01-01",
            "due_date": "2026-02-01",
            "description": "seeded",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());

    // The marketplace load test's investors: taken through KYC the same way.
    let investor = demo::approved_investor(&base, &admin).await.unwrap();
    assert!(
        investor.email.starts_with("demo-investor-"),
        "{}",
        investor.email
    );
    let res = client
        .get(format!("{base}/api/auth/me"))
        .bearer_auth(&investor.access)
        .send()
        .await
        .unwrap();
    let me: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        (me["role"].as_str(), me["kyc_status"].as_str()),
        (Some("investor"), Some("approved"))
    );

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

    // A method nginx refuses itself (TRACE) is a 405 problem naming what it passes on.
    let res = client
        .request(reqwest::Method::TRACE, format!("{base}/api/auth/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert!(problem_type(&res).starts_with("application/problem+json"));
    assert_eq!(
        res.headers()["allow"],
        "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
    );

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
    drop(procs);
    receiver.stop().await;
}

/// The demo's seller submitted an invoice with a WebSocket open and saw its notification
/// arrive live: one trace holds the request (invoice), the relay's hop of
/// `invoice.submitted` from the outbox to the queues, its consumption (notifications) and
/// the WebSocket delivery, each a span of the process that did it, exported over OTLP.
async fn one_trace_runs_from_a_request_to_a_websocket_message(dir: &Path) {
    let spans = testkit::wait_for(
        Duration::from_secs(30),
        "one trace from the invoice's submit to the WebSocket",
        || async { submit_to_websocket(dir) },
    )
    .await;
    let tree = traces::render(&spans);
    println!("{tree}");
    let lines: Vec<&str> = tree.lines().collect();
    // The request is the root; the rest hang under it.
    assert!(
        lines[1].contains("  invoice  http_request POST /api/invoices/{id}/submit -> 200"),
        "{tree}"
    );
    for (service, name) in [
        ("invoice", "outbox_relay invoice.submitted"),
        ("notifications", "consume_event invoice.submitted"),
        ("notifications", "ws_deliver"),
    ] {
        assert!(
            lines[2..]
                .iter()
                .any(|l| l.contains(&format!("    {service}  {name}"))),
            "no {service} {name} under the request in\n{tree}"
        );
    }
}

/// The spans of a trace with a WebSocket delivery that began with an invoice's submit and
/// went through the relay and the notifications consumer, if one has arrived.
fn submit_to_websocket(dir: &Path) -> Option<Vec<traces::SpanRecord>> {
    let all = traces::Store::read_all(dir).unwrap();
    let submitted = |s: &traces::SpanRecord| s.attribute("event.type") == Some("invoice.submitted");
    all.iter()
        .filter(|s| s.service == "notifications" && s.name == "ws_deliver")
        .map(|d| {
            all.iter()
                .filter(|s| s.trace_id == d.trace_id)
                .cloned()
                .collect::<Vec<_>>()
        })
        .find(|spans| {
            let has = |service: &str, name: &str, what: &dyn Fn(&traces::SpanRecord) -> bool| {
                spans
                    .iter()
                    .any(|s| s.service == service && s.name == name && what(s))
            };
            has("invoice", "http_request", &|s| {
                s.attribute("http.route")
                    .is_some_and(|r| r.ends_with("/submit"))
            }) && has("invoice", "outbox_relay", &submitted)
                && has("notifications", "consume_event", &submitted)
        })
}
