//! Invoice scenarios (`--service invoice`) and the cached-search measure
//! (`--service invoice-search`).
//!
//! Both first seed the stack through the gateway (an admin is needed: `ADMIN_EMAIL` and
//! `ADMIN_PASSWORD`, from `make create-admin`): one seller is taken through KYC to approval
//! (the demo's own steps), creates `--invoices` invoices with varied amounts, debtors and
//! due dates, submits them, and the admin verifies each: they are listed.
//!
//! The goose scenario: simulated investors sign up through auth, then loop over search
//! with a small fixed set of queries (so most searches are cache hits, as repeated queries
//! are in real use), reads of a seeded invoice by id, and now and then the seller's
//! `POST /api/invoices` (a draft; every write bumps the cache generation, so the next
//! search of every query misses once).
//!
//! `invoice-search` is not a goose run: it measures cached search hitting the service
//! directly with `wrk` (64 connections, one investor's token, one query) against
//! `redis-benchmark -q -c 64 -n 200000 -t get` on the stack's own Redis in the same run,
//! and reads the service's resident memory while wrk runs. See docs/performance.md.

use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use chrono::{Days, Utc};
use goose::prelude::*;
use serde::Deserialize;
use serde_json::json;
use tokio::task::JoinSet;

use crate::auth::{self, weighted};
use crate::rss;

const SEARCH_WEIGHT: usize = 12;
const SHOW_WEIGHT: usize = 4;
const CREATE_WEIGHT: usize = 1;

/// The searches investors repeat (each one cached per investor after its first miss).
const QUERIES: &[&str] = &[
    "",
    "sort=-amount",
    "sort=due_date&per_page=50",
    "q=cement",
    "q=supplied+october&sort=amount",
    "debtor=dangote",
    "min_amount=1000000&max_amount=5000000",
    "due_before=2099-12-31&sort=-due_date",
    "currency=NGN&page=2",
    "status=listed&per_page=10",
];

const DEBTORS: &[&str] = &[
    "Dangote Cement Plc",
    "MTN Nigeria",
    "Nestle Nigeria",
    "Julius Berger",
    "Flour Mills of Nigeria",
];

/// What the seeding made.
pub struct Seed {
    /// The approved seller's access token (valid 15 minutes: runs are shorter).
    pub seller_token: String,
    /// The listed invoices.
    pub invoices: Vec<String>,
}

static SEED: OnceLock<Seed> = OnceLock::new();

fn seed() -> Result<&'static Seed, Box<TransactionError>> {
    SEED.get()
        .ok_or_else(|| Box::new(TransactionError::from("not seeded")))
}

/// Seeds through the gateway at `gateway` (see the module docs) and keeps the seed for the
/// scenario's transactions.
pub async fn seed_stack(gateway: &str, invoices: usize) -> anyhow::Result<&'static Seed> {
    let admin = admin(gateway).await?;
    let seed = list_invoices(gateway, &admin, invoices).await?;
    Ok(SEED.get_or_init(|| seed))
}

/// The admin in `ADMIN_EMAIL` / `ADMIN_PASSWORD`, logged in through the gateway.
pub async fn admin(gateway: &str) -> anyhow::Result<demo::Session> {
    let email = std::env::var("ADMIN_EMAIL")
        .context("ADMIN_EMAIL is not set: create an admin with make create-admin")?;
    let password = std::env::var("ADMIN_PASSWORD").context("ADMIN_PASSWORD is not set")?;
    demo::login(gateway, &email, &password).await
}

/// A seller taken through KYC by `admin` (the demo's steps) with `invoices` invoices
/// created, submitted and verified: listed.
pub async fn list_invoices(
    gateway: &str,
    admin: &demo::Session,
    invoices: usize,
) -> anyhow::Result<Seed> {
    ensure!(invoices > 0, "--invoices must be at least 1");
    println!("seeding: taking a seller through KYC...");
    let seller = demo::approved_seller(gateway, admin).await?;
    println!("seeding: {invoices} invoices, submitted and verified...");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut tasks = JoinSet::new();
    let mut listed = Vec::with_capacity(invoices);
    for n in 0..invoices {
        if tasks.len() >= 8
            && let Some(done) = tasks.join_next().await
        {
            listed.push(done??);
        }
        let (client, base) = (client.clone(), gateway.to_owned());
        let (seller, admin) = (seller.access.clone(), admin.access.clone());
        tasks.spawn(async move { list_one(&client, &base, &seller, &admin, n).await });
    }
    while let Some(done) = tasks.join_next().await {
        listed.push(done??);
    }
    Ok(Seed {
        seller_token: seller.access,
        invoices: listed,
    })
}

/// The body of the `n`th seeded (or created) invoice.
fn body(n: usize, number: &str) -> serde_json::Value {
    let today = Utc::now().date_naive();
    let due_in = 30 + (n % 150) as u64;
    json!({
        "invoice_number": number,
        "debtor": {"name": DEBTORS[n % DEBTORS.len()]},
        "amount": format!("{}.{:02}", 250_000 + (n * 73_411) % 9_000_000, n % 100),
        "issue_date": (today - Days::new(5)).to_string(),
        "due_date": (today + Days::new(due_in)).to_string(),
        "description": if n.is_multiple_of(2) { "Cement supplied in October" } else { "Logistics services, Q3" },
    })
}

#[derive(Deserialize)]
struct Created {
    id: String,
    version: i64,
}

async fn list_one(
    client: &reqwest::Client,
    base: &str,
    seller: &str,
    admin: &str,
    n: usize,
) -> anyhow::Result<String> {
    let number = format!("LT-{}-{n:05}", uuid::Uuid::now_v7().simple());
    let res = client
        .post(format!("{base}/api/invoices"))
        .bearer_auth(seller)
        .json(&body(n, &number))
        .send()
        .await?;
    if res.status() != 201 {
        bail!("create answered {}: {}", res.status(), res.text().await?);
    }
    let Created { id, mut version } = res.json::<Created>().await?;
    // The admin verifies the version the submission made (If-Match).
    for (path, token) in [("submit", seller), ("verify", admin)] {
        let res = client
            .post(format!("{base}/api/invoices/{id}/{path}"))
            .bearer_auth(token)
            .header("if-match", format!("\"{version}\""))
            .send()
            .await?;
        if !res.status().is_success() {
            bail!("{path} answered {}: {}", res.status(), res.text().await?);
        }
        version = res.json::<Created>().await?.version;
    }
    Ok(id)
}

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario!("Invoice")
            .register_transaction(
                transaction!(register)
                    .set_name("register")
                    .set_on_start()
                    .set_sequence(1),
            )
            .register_transaction(
                transaction!(login)
                    .set_name("login")
                    .set_on_start()
                    .set_sequence(2),
            )
            .register_transaction(weighted(
                transaction!(search).set_name("search"),
                SEARCH_WEIGHT,
            ))
            .register_transaction(weighted(
                transaction!(show).set_name("get by id"),
                SHOW_WEIGHT,
            ))
            .register_transaction(weighted(
                transaction!(create).set_name("create"),
                CREATE_WEIGHT,
            )),
    ]
}

async fn register(user: &mut GooseUser) -> TransactionResult {
    auth::register_as(user, "investor").await
}

async fn login(user: &mut GooseUser) -> TransactionResult {
    auth::first_login(user).await
}

fn pick<T>(items: &[T]) -> &T {
    // The low bits of a v7 id's random part: cheap and good enough to spread the picks.
    let r = uuid::Uuid::now_v7().as_u128() as usize;
    &items[r % items.len()]
}

async fn get(user: &mut GooseUser, path: &str, name: &str, token: &str) -> TransactionResult {
    let builder = user
        .get_request_builder(&GooseMethod::Get, path)?
        .bearer_auth(token);
    let request = GooseRequest::builder()
        .method(GooseMethod::Get)
        .path(path)
        .name(name)
        .expect_status_code(200)
        .set_request_builder(builder)
        .build();
    let response = user.request(request).await?;
    if response.response.as_ref().is_ok_and(|r| r.status() == 401) {
        auth::forget_access_token(user)?;
    }
    Ok(())
}

async fn search(user: &mut GooseUser) -> TransactionResult {
    let token = auth::access_token(user).await?;
    let path = format!("/api/invoices?{}", pick(QUERIES));
    get(user, &path, "search", &token).await
}

async fn show(user: &mut GooseUser) -> TransactionResult {
    let token = auth::access_token(user).await?;
    let path = format!("/api/invoices/{}", pick(&seed()?.invoices));
    get(user, &path, "get by id", &token).await
}

async fn create(user: &mut GooseUser) -> TransactionResult {
    let seed = seed()?;
    let number = format!("LT-{}", uuid::Uuid::now_v7().simple());
    let builder = user
        .get_request_builder(&GooseMethod::Post, "/api/invoices")?
        .bearer_auth(&seed.seller_token)
        .json(&body(seed.invoices.len(), &number));
    let request = GooseRequest::builder()
        .method(GooseMethod::Post)
        .path("/api/invoices")
        .name("create")
        .expect_status_code(201)
        .set_request_builder(builder)
        .build();
    user.request(request).await?;
    Ok(())
}

/// `--service invoice-search`: see the module docs.
pub struct SearchBench {
    /// The invoice service's own address.
    pub service: String,
    /// Auth's address (the investor's sign-up).
    pub auth: String,
    /// The Redis the stack uses (for redis-benchmark).
    pub redis_host: String,
    pub redis_port: u16,
    /// The invoice service's pid (its resident memory is read while wrk runs).
    pub pid: Option<u32>,
    pub connections: usize,
    pub duration_secs: u64,
}

pub async fn search_bench(s: SearchBench) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let email = auth::new_email();
    let res = client
        .post(format!("{}/api/auth/register", s.auth))
        .json(
            &json!({"email": email, "password": auth::PASSWORD, "role": "investor",
                      "full_name": "Load Test"}),
        )
        .send()
        .await?;
    ensure!(res.status() == 201, "register answered {}", res.status());
    let pair: auth::TokenPair = client
        .post(format!("{}/api/auth/login", s.auth))
        .json(&json!({"email": email, "password": auth::PASSWORD}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let url = format!("{}/api/invoices?sort=-amount&per_page=20", s.service);
    let warm = client
        .get(&url)
        .bearer_auth(&pair.access_token)
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    println!(
        "invoice-search: GET {url} ({} bytes, {} connections, {} s)",
        warm.len(),
        s.connections,
        s.duration_secs
    );

    let (redis_rps, redis) = redis_get_rps(&s.redis_host, s.redis_port, s.connections)?;
    println!("redis-benchmark: {redis}");

    let sampler = s
        .pid
        .map(|pid| std::thread::spawn(move || rss::peak_rss_kb(pid, s.duration_secs)));
    let wrk = run_tool(
        Command::new("wrk")
            .args(["-t", "2", "-c", &s.connections.to_string()])
            .args(["-d", &format!("{}s", s.duration_secs), "--latency"])
            .args([
                "-H",
                &format!("Authorization: Bearer {}", pair.access_token),
            ])
            .arg(&url),
    )?;
    println!("{}", wrk.trim_end());
    let wrk_rps = wrk
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .context("no Requests/sec in wrk's output")?;
    let non_2xx = wrk.lines().any(|l| l.contains("Non-2xx"));
    println!();
    println!(
        "cached search: {wrk_rps:.0} req/s = {:.2} x redis-benchmark GET ({redis_rps:.0}/s, same run){}",
        wrk_rps / redis_rps,
        if non_2xx {
            "  (NON-2XX ANSWERS: see above)"
        } else {
            ""
        }
    );
    if let Some(sampler) = sampler {
        match sampler.join() {
            Ok(Some(kb)) => println!(
                "invoice RSS while loaded: peak {:.1} MB",
                kb as f64 / 1024.0
            ),
            _ => println!(
                "invoice RSS: could not read /proc/{}/status",
                s.pid.unwrap_or(0)
            ),
        }
    }
    Ok(())
}

/// redis-benchmark's GET rate against `host:port` with `connections` clients (the
/// yardstick of the search load tests), and its summary line.
pub fn redis_get_rps(host: &str, port: u16, connections: usize) -> anyhow::Result<(f64, String)> {
    redis_get_rps_on(host, port, connections, false)
}

/// [`redis_get_rps`], on a Redis Cluster (`--cluster`: each GET to its slot's node) when
/// `cluster`.
pub fn redis_get_rps_on(
    host: &str,
    port: u16,
    connections: usize,
    cluster: bool,
) -> anyhow::Result<(f64, String)> {
    let out = run_tool(
        Command::new("redis-benchmark")
            .args(["-h", host, "-p", &port.to_string()])
            .args(if cluster { &["--cluster"][..] } else { &[][..] })
            .args([
                "-q",
                "-c",
                &connections.to_string(),
                "-n",
                "200000",
                "-t",
                "get",
            ]),
    )?;
    // -q prints progress lines ending in \r, then "GET: <rps> requests per second, ...".
    let line = out
        .rsplit('\r')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let rps = line
        .split_whitespace()
        .nth(1)
        .and_then(|w| w.parse::<f64>().ok())
        .context("no requests per second in redis-benchmark's output")?;
    Ok((rps, line))
}

pub fn run_tool(cmd: &mut Command) -> anyhow::Result<String> {
    let name = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd
        .output()
        .with_context(|| format!("running {name} (apt-get install wrk redis-tools)"))?;
    ensure!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
