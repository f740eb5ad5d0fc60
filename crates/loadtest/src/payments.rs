//! Payments webhooks (`--service payments`): signed sandbox `charge.success` deliveries,
//! one per funded checkout plus 10 % duplicates (the same `webhook-id` again), each
//! confirmed by the service with a verify call to the sandbox (on the measured path) and
//! stored before it is answered; beside `pgbench -c 32` one-row inserts on the same
//! PostgreSQL in the same run. The effects are applied behind the answers (many per
//! transaction): the run then waits until every financing is funded and reports that
//! rate too (first delivery sent -> last financing seen funded, the investors' lists
//! polled every 500 ms: more often, the polling itself slows the applying it measures).
//!
//! Seeding: `--investors` investors signed up through auth; `--financings` accepted
//! offers of `--sellers` sellers (round robin) put on `events:payments` as marketplace's relay would (`--redis`,
//! `--redis-prefix`); a checkout for each, paid at the sandbox with the sandbox's own
//! webhooks held back (`/_control/faults`), so the deliveries measured are the only ones.
//! Afterwards every financing must be funded exactly once: no second funding, no refund.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use common::events::marketplace::{OfferChange, OfferStatus};
use common::events::{Envelope, OfferEvent, Service};
use common::ids::{InvoiceId, OfferId, UserId};
use common::keys::Keys;
use serde_json::{Value, json};
use service_kit::webhooks;
use tokio::task::JoinSet;
use uuid::Uuid;

pub struct Settings {
    pub service: String,
    pub auth: String,
    pub sandbox: String,
    pub redis_url: String,
    pub redis_prefix: String,
    /// `whsec_...` (space-separated), as payments is configured.
    pub secrets: String,
    pub financings: usize,
    pub investors: usize,
    /// Sellers of the financings, round robin.
    pub sellers: usize,
    pub concurrency: usize,
    /// The PostgreSQL that pgbench inserts into (payments' own server).
    pub pgbench_url: String,
}

/// The most financings one investor's list shows.
const LIST_LIMIT: usize = 200;

struct Investor {
    id: Uuid,
    token: String,
}

async fn json_of(res: reqwest::Response, what: &str) -> anyhow::Result<Value> {
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    ensure!(status.is_success(), "{what}: {status} {body}");
    Ok(serde_json::from_str(&body).unwrap_or(Value::Null))
}

async fn investor(client: &reqwest::Client, auth: &str) -> anyhow::Result<Investor> {
    let email = crate::auth::new_email();
    let password = "load test password 1";
    json_of(
        client
            .post(format!("{auth}/api/auth/register"))
            .json(&json!({"email": email, "password": password, "role": "investor", "full_name": "Load Test"}))
            .send()
            .await?,
        "register",
    )
    .await?;
    let tokens = json_of(
        client
            .post(format!("{auth}/api/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await?,
        "login",
    )
    .await?;
    let token = tokens["access_token"]
        .as_str()
        .context("no token")?
        .to_owned();
    let me = json_of(
        client
            .get(format!("{auth}/api/auth/me"))
            .bearer_auth(&token)
            .send()
            .await?,
        "me",
    )
    .await?;
    Ok(Investor {
        id: me["id"].as_str().context("no id")?.parse()?,
        token,
    })
}

/// The financings an investor sees (the newest `LIST_LIMIT`).
async fn fundings(
    client: &reqwest::Client,
    service: &str,
    token: &str,
) -> anyhow::Result<Vec<Value>> {
    let list = json_of(
        client
            .get(format!("{service}/api/payments/fundings"))
            .bearer_auth(token)
            .send()
            .await?,
        "fundings",
    )
    .await?;
    Ok(list["items"].as_array().cloned().unwrap_or_default())
}

/// Runs `f` over `items` with `n` at a time; answers the results in order.
pub(crate) async fn each<T, R, F, Fut>(items: Vec<T>, n: usize, f: F) -> anyhow::Result<Vec<R>>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<R>> + Send,
{
    let f = Arc::new(f);
    let items: Vec<(usize, T)> = items.into_iter().enumerate().collect();
    let queue = Arc::new(tokio::sync::Mutex::new(items));
    let mut set = JoinSet::new();
    for _ in 0..n.max(1) {
        let (queue, f) = (queue.clone(), f.clone());
        set.spawn(async move {
            let mut out = Vec::new();
            loop {
                let Some((i, item)) = queue.lock().await.pop() else {
                    return Ok::<_, anyhow::Error>(out);
                };
                out.push((i, f(item).await?));
            }
        });
    }
    let mut all = Vec::new();
    while let Some(done) = set.join_next().await {
        all.extend(done??);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, r)| r).collect())
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// pgbench's one-row-insert rate on `url` (32 clients, 10 s).
pub(crate) fn pgbench(url: &str) -> anyhow::Result<f64> {
    let setup = std::process::Command::new("psql")
        .arg(url)
        .arg("-qc")
        .arg("CREATE TABLE IF NOT EXISTS loadtest_pgbench (id bigserial PRIMARY KEY, v text NOT NULL)")
        .output()
        .context("psql (apt-get install postgresql-client)")?;
    ensure!(
        setup.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let script = std::env::temp_dir().join(format!("vestio-pgbench-{}.sql", std::process::id()));
    std::fs::write(&script, "INSERT INTO loadtest_pgbench (v) VALUES ('x');\n")?;
    let out = std::process::Command::new("pgbench")
        .args(["-n", "-c", "32", "-j", "2", "-T", "10", "-f"])
        .arg(&script)
        .arg(url)
        .output()
        .context("pgbench (apt-get install postgresql-contrib)")?;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&out.stdout);
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps ="))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|t| t.parse::<f64>().ok())
        .with_context(|| format!("no tps in pgbench's output: {text}"))?;
    Ok(tps)
}

pub async fn run(s: Settings) -> anyhow::Result<bool> {
    let secrets = webhooks::parse_secrets(&s.secrets).map_err(anyhow::Error::msg)?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .pool_max_idle_per_host(512)
        .build()?;
    let investors_needed = s.investors.max(s.financings.div_ceil(LIST_LIMIT));
    println!(
        "payments: {} financings for {investors_needed} investors and {} sellers; webhooks to {}, verified at {}",
        s.financings, s.sellers, s.service, s.sandbox
    );
    let mut investors = Vec::new();
    for _ in 0..investors_needed {
        investors.push(investor(&client, &s.auth).await?);
    }

    // Accepted offers, as marketplace's relay puts them on payments' queue.
    let pool = service_kit::redis::pool(&s.redis_url, 4).await?;
    let keys = Keys::new(&s.redis_prefix);
    let clock = common::clock::system();
    let sellers: Vec<UserId> = (0..s.sellers).map(|_| UserId(Uuid::now_v7())).collect();
    let mut as_pushed = crate::consumer::AsPushed::default();
    for i in 0..s.financings {
        let inv = &investors[i % investors.len()];
        let mut o =
            common::events::examples::offer(OfferStatus::Accepted, OfferChange::Accepted, None);
        o.offer_id = OfferId(Uuid::now_v7());
        o.invoice_id = InvoiceId(Uuid::now_v7());
        o.investor_id = UserId(inv.id);
        o.seller_id = sellers[i % sellers.len()];
        let envelope = Envelope::of(OfferEvent::Accepted(o), clock.as_ref())?;
        let text = as_pushed.text(&envelope)?;
        service_kit::queue::enqueue_many(&pool, &[(keys.events(Service::Payments), text)]).await?;
    }
    println!(
        "seeding: {} offer.accepted queued; waiting for the financings...",
        s.financings
    );
    let started = Instant::now();
    let mut ids = Vec::new();
    for (n, inv) in investors.iter().enumerate() {
        let want = (0..s.financings)
            .filter(|i| i % investors.len() == n)
            .count();
        loop {
            let items = fundings(&client, &s.service, &inv.token).await?;
            if items.len() >= want {
                for f in items {
                    ids.push((
                        f["id"].as_str().unwrap_or_default().to_owned(),
                        inv.token.clone(),
                    ));
                }
                break;
            }
            ensure!(
                started.elapsed() < Duration::from_secs(300),
                "the financings did not open in 300 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    println!("seeding: {} checkouts...", ids.len());
    let (c1, service) = (client.clone(), s.service.clone());
    let references: Vec<String> = each(ids, 16, move |(id, token)| {
        let (client, service) = (c1.clone(), service.clone());
        async move {
            let c = json_of(
                client
                    .post(format!("{service}/api/payments/fundings/{id}/checkout"))
                    .bearer_auth(&token)
                    .send()
                    .await?,
                "checkout",
            )
            .await?;
            Ok(c["reference"].as_str().context("no reference")?.to_owned())
        }
    })
    .await?;
    // The sandbox's own deliveries are held back: the measured ones are the only ones.
    json_of(
        client
            .post(format!("{}/_control/faults", s.sandbox))
            .json(&json!({"drop_first_attempts": 1000}))
            .send()
            .await?,
        "sandbox faults",
    )
    .await?;
    println!(
        "seeding: paying {} checkouts at the sandbox...",
        references.len()
    );
    let (c2, sandbox) = (client.clone(), s.sandbox.clone());
    each(references.clone(), 16, move |r| {
        let (client, sandbox) = (c2.clone(), sandbox.clone());
        async move {
            json_of(
                client
                    .post(format!("{sandbox}/checkout/{r}/pay"))
                    .json(&json!({}))
                    .send()
                    .await?,
                "pay",
            )
            .await?;
            Ok(())
        }
    })
    .await?;

    // One delivery per reference, and 10 % again with the same webhook-id.
    let mut sends: Vec<(String, String)> = references
        .iter()
        .map(|r| (format!("msg_{}", Uuid::now_v7().simple()), r.clone()))
        .collect();
    let originals = sends.len();
    for k in 0..originals / 10 {
        let again = sends[(k * 7919) % originals].clone();
        let at = (k * 10 + 5).min(sends.len());
        sends.insert(at, again);
    }
    let sends = Arc::new(sends);
    let next = Arc::new(AtomicUsize::new(0));
    let secrets = Arc::new(secrets);
    println!(
        "load: {} signed deliveries ({} duplicates), {} at a time...",
        sends.len(),
        sends.len() - originals,
        s.concurrency
    );
    let cpu_began = crate::cpu::snapshot();
    let began = Instant::now();
    let mut set = JoinSet::new();
    for _ in 0..s.concurrency.max(1) {
        let (client, sends, next, secrets) =
            (client.clone(), sends.clone(), next.clone(), secrets.clone());
        let url = format!("{}/api/payments/webhooks/sandbox", s.service);
        set.spawn(async move {
            let mut times = Vec::new();
            let mut failed = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((id, reference)) = sends.get(i) else {
                    return (times, failed);
                };
                let body = serde_json::to_vec(&json!({
                    "type": "charge.success",
                    "data": {"reference": reference, "status": "success"}
                }))
                .unwrap_or_default();
                let ts = chrono::Utc::now().timestamp();
                let signature = webhooks::sign_all(&secrets, id, ts, &body);
                let t0 = Instant::now();
                let res = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header(webhooks::ID_HEADER, id.as_str())
                    .header(webhooks::TIMESTAMP_HEADER, ts.to_string())
                    .header(webhooks::SIGNATURE_HEADER, signature)
                    .body(body)
                    .send()
                    .await;
                times.push(t0.elapsed());
                match res {
                    Ok(r) if r.status().is_success() => {}
                    Ok(r) => {
                        failed += 1;
                        if failed <= 3 {
                            let status = r.status();
                            let body = r.text().await.unwrap_or_default();
                            eprintln!("delivery {id}: {status} {body}");
                        }
                    }
                    Err(e) => {
                        failed += 1;
                        if failed <= 3 {
                            eprintln!("delivery {id}: {e}");
                        }
                    }
                }
            }
        });
    }
    let mut times = Vec::new();
    let mut failed = 0;
    while let Some(done) = set.join_next().await {
        let (t, f) = done?;
        times.extend(t);
        failed += f;
    }
    let elapsed = began.elapsed();
    let cpu_answered = crate::cpu::snapshot();
    times.sort();
    let rate = times.len() as f64 / elapsed.as_secs_f64();
    let (p50, p90, p99) = (
        percentile(&times, 0.50),
        percentile(&times, 0.90),
        percentile(&times, 0.99),
    );
    let _ = client
        .post(format!("{}/_control/faults", s.sandbox))
        .json(&json!({}))
        .send()
        .await;

    println!();
    println!(
        "webhooks      {} in {:.1} s = {rate:.0}/s; {failed} not 2xx",
        times.len(),
        elapsed.as_secs_f64()
    );
    println!(
        "latency ms    p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        p50.as_secs_f64() * 1e3,
        p90.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        times.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    // The effects, applied behind the answers: wait until every financing is funded.
    let deadline = Instant::now() + Duration::from_secs(300);
    let (applied, cpu_applied) = loop {
        let mut funded = 0usize;
        for inv in &investors {
            funded += fundings(&client, &s.service, &inv.token)
                .await?
                .iter()
                .filter(|f| f["status"] != "awaiting_funding")
                .count();
        }
        if funded >= originals {
            break (began.elapsed(), crate::cpu::snapshot());
        }
        if Instant::now() >= deadline {
            bail!("only {funded} of {originals} financings funded 300 s after the first delivery");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    // Every financing funded exactly once: one succeeded funding, no refund.
    let mut funded = 0usize;
    let mut doubled = 0usize;
    for inv in &investors {
        for f in fundings(&client, &s.service, &inv.token).await? {
            let id = f["id"].as_str().unwrap_or_default();
            let d = json_of(
                client
                    .get(format!("{}/api/payments/fundings/{id}", s.service))
                    .bearer_auth(&inv.token)
                    .send()
                    .await?,
                "financing",
            )
            .await?;
            let payments = d["payments"].as_array().cloned().unwrap_or_default();
            let succeeded = payments
                .iter()
                .filter(|p| p["kind"] == "funding" && p["status"] == "succeeded")
                .count();
            let refunds = payments.iter().filter(|p| p["kind"] == "refund").count();
            if d["status"] == "funded" {
                funded += 1;
            }
            if succeeded > 1 || refunds > 0 {
                doubled += 1;
            }
        }
    }
    print!(
        "{}",
        crate::cpu::table(
            &cpu_began,
            &cpu_answered,
            times.len() as u64,
            "delivery answered"
        )
    );
    print!(
        "{}",
        crate::cpu::table(
            &cpu_began,
            &cpu_applied,
            originals as u64,
            "financing funded"
        )
    );
    let tps = pgbench(&s.pgbench_url)?;
    let ratio = rate / tps;
    println!(
        "applied       all {originals} financings funded {:.1} s after the first delivery = {:.0}/s ({:.3} x pgbench)",
        applied.as_secs_f64(),
        originals as f64 / applied.as_secs_f64(),
        originals as f64 / applied.as_secs_f64() / tps
    );
    println!("pgbench       -c 32 one-row inserts: {tps:.0} tps (same run)");
    println!("ratio         {ratio:.2} x pgbench (target >= 0.25)");
    println!(
        "effects       {funded} of {originals} financings funded; {doubled} with a double effect"
    );
    let passed = failed == 0
        && doubled == 0
        && funded == originals
        && ratio >= 0.25
        && p99 <= Duration::from_millis(25);
    println!(
        "verdict       {}",
        if passed {
            "PASS"
        } else {
            "FAIL (target: every delivery 2xx, each financing funded once, >= 0.25 x pgbench, p99 <= 25 ms)"
        }
    );
    if funded != originals {
        bail!("{} financings not funded", originals - funded);
    }
    Ok(passed)
}
