//! KYC processing throughput (`--service kyc-processing`), outside goose.
//!
//! Signs up a few accounts through auth, builds N distinct small PNGs, uploads them all as
//! fast as `concurrency` connections allow (round-robin over the accounts), then polls
//! `GET /api/kyc/documents` of every account until none of the uploaded documents is
//! `queued`. Reports the upload rate, and the processing rate: N / (the last document's
//! `processed_at` - the moment the first upload was sent), both on this machine's clock
//! (the stack runs here), plus the rate of the workers alone after the last upload.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::auth::{self, TokenPair};
use crate::kyc::{DOCUMENTS_PATH, DocumentList, upload_form};
use crate::png;

/// How often the documents are polled once the uploads are done.
const POLL_EVERY: Duration = Duration::from_millis(50);

pub struct Settings {
    /// Base URL of kyc (the gateway or kyc's own port).
    pub kyc: String,
    /// Base URL of auth (the gateway or auth's own port).
    pub auth: String,
    pub documents: usize,
    pub accounts: usize,
    pub concurrency: usize,
    /// Give up when the documents are not all processed this long after the last upload.
    pub timeout: Duration,
}

struct Account {
    token: String,
}

/// One upload's outcome.
struct Uploaded {
    account: usize,
    id: Uuid,
    latency: Duration,
}

pub async fn run(s: Settings) -> anyhow::Result<()> {
    anyhow::ensure!(s.documents > 0, "--documents must be at least 1");
    anyhow::ensure!(s.accounts > 0, "--accounts must be at least 1");
    anyhow::ensure!(s.concurrency > 0, "--concurrency must be at least 1");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;

    println!(
        "kyc-processing: {} documents from {} accounts, {} uploads at a time; kyc at {}, auth at {}",
        s.documents, s.accounts, s.concurrency, s.kyc, s.auth
    );
    let mut signups = JoinSet::new();
    for n in 0..s.accounts {
        let (client, auth) = (client.clone(), s.auth.clone());
        signups.spawn(async move { sign_up(&client, &auth, n).await });
    }
    let mut accounts = Vec::new();
    while let Some(joined) = signups.join_next().await {
        accounts.push(joined??);
    }
    let accounts = Arc::new(accounts);

    // Built before the clock starts: only the service's work is timed.
    let files: Vec<Vec<u8>> = (0..s.documents)
        .map(|_| png::png(png::next_seed()))
        .collect::<anyhow::Result<_>>()?;
    let total_bytes: usize = files.iter().map(Vec::len).sum();
    let files = Arc::new(files);

    let started_at = Utc::now();
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut uploaders = JoinSet::new();
    for _ in 0..s.concurrency.min(s.documents) {
        let (client, url) = (client.clone(), format!("{}{DOCUMENTS_PATH}", s.kyc));
        let (accounts, files, next) = (accounts.clone(), files.clone(), next.clone());
        uploaders.spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(file) = files.get(i).cloned() else {
                    break;
                };
                let account = i % accounts.len();
                done.push(upload(&client, &url, &accounts[account], account, file).await?);
            }
            Ok::<_, anyhow::Error>(done)
        });
    }
    let mut uploaded = Vec::with_capacity(s.documents);
    while let Some(joined) = uploaders.join_next().await {
        match joined? {
            Ok(done) => uploaded.extend(done),
            Err(e) => {
                uploaders.abort_all();
                return Err(e);
            }
        }
    }
    let upload_secs = started.elapsed().as_secs_f64();
    let uploads_done_at = Utc::now();

    // Poll until none of ours is queued.
    let mut ours: HashMap<usize, HashSet<Uuid>> = HashMap::new();
    for u in &uploaded {
        ours.entry(u.account).or_default().insert(u.id);
    }
    let deadline = Instant::now() + s.timeout;
    let mut polls = 0usize;
    let docs = loop {
        polls += 1;
        let mut docs = Vec::with_capacity(s.documents);
        for (account, ids) in &ours {
            let list = list_documents(&client, &s.kyc, &accounts[*account]).await?;
            docs.extend(list.documents.into_iter().filter(|d| ids.contains(&d.id)));
        }
        let queued = docs.iter().filter(|d| d.status == "queued").count();
        if queued == 0 && docs.len() == s.documents {
            break docs;
        }
        if Instant::now() > deadline {
            bail!(
                "{queued} of {} documents still queued {} s after the last upload \
                 (are KYC's workers running? KYC_WORKER_IN_PROCESS, KYC_WORKERS)",
                s.documents,
                s.timeout.as_secs()
            );
        }
        tokio::time::sleep(POLL_EVERY).await;
    };
    let seen_done_secs = started.elapsed().as_secs_f64();

    let last_processed = docs
        .iter()
        .filter_map(|d| d.processed_at)
        .max()
        .context("no processed_at in the answers")?;
    let first_created = docs
        .iter()
        .map(|d| d.created_at)
        .min()
        .unwrap_or(started_at);
    let secs_between =
        |a: DateTime<Utc>, b: DateTime<Utc>| (b - a).num_microseconds().unwrap_or(0) as f64 / 1e6;
    let process_secs = secs_between(started_at, last_processed);
    let after_uploads: Vec<_> = docs
        .iter()
        .filter(|d| d.processed_at.is_some_and(|p| p > uploads_done_at))
        .collect();
    let drain_secs = secs_between(uploads_done_at, last_processed);
    let accepted = docs.iter().filter(|d| d.status == "accepted").count();
    let rejected: Vec<_> = docs.iter().filter(|d| d.status == "rejected").collect();

    let mut latencies: Vec<Duration> = uploaded.iter().map(|u| u.latency).collect();
    latencies.sort();
    let ms = |p: f64| {
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1000.0
    };
    let n = s.documents as f64;

    println!();
    println!(
        "uploads      {} in {upload_secs:.2} s = {:.1} uploads/s (p50 / p95 / p99 {:.1} / {:.1} / {:.1} ms; {:.1} KB average PNG)",
        s.documents,
        n / upload_secs,
        ms(0.50),
        ms(0.95),
        ms(0.99),
        total_bytes as f64 / n / 1024.0
    );
    println!(
        "processed    {} in {process_secs:.2} s = {:.1} documents/s (first upload sent -> last processed_at)",
        s.documents,
        n / process_secs
    );
    println!(
        "             server side: first created_at -> last processed_at {:.2} s = {:.1} documents/s",
        secs_between(first_created, last_processed),
        n / secs_between(first_created, last_processed).max(1e-6)
    );
    if drain_secs > 0.0 {
        println!(
            "workers only {} processed after the last upload, in {drain_secs:.2} s = {:.1} documents/s",
            after_uploads.len(),
            after_uploads.len() as f64 / drain_secs
        );
    } else {
        println!("workers only every document was processed before the last upload answered");
    }
    println!(
        "             (seen done by polling after {seen_done_secs:.2} s, {polls} polls every {} ms)",
        POLL_EVERY.as_millis()
    );
    println!(
        "results      {accepted} accepted, {} rejected",
        rejected.len()
    );
    for d in rejected.iter().take(3) {
        println!("  rejected {}: {}", d.id, d.reasons.join("; "));
    }
    Ok(())
}

async fn sign_up(client: &reqwest::Client, auth: &str, n: usize) -> anyhow::Result<Account> {
    let email = auth::new_email();
    let role = if n.is_multiple_of(2) {
        "seller"
    } else {
        "investor"
    };
    let url = format!("{auth}/api/auth/register");
    let response = client
        .post(&url)
        .json(&json!({
            "email": email,
            "password": auth::PASSWORD,
            "role": role,
            "full_name": "Load Test",
        }))
        .send()
        .await
        .context(url.clone())?;
    expect(response, 201, &url).await?;
    let url = format!("{auth}/api/auth/login");
    let response = client
        .post(&url)
        .json(&json!({ "email": email, "password": auth::PASSWORD }))
        .send()
        .await
        .context(url.clone())?;
    let pair: TokenPair = expect(response, 200, &url).await?.json().await?;
    Ok(Account {
        token: pair.access_token,
    })
}

async fn upload(
    client: &reqwest::Client,
    url: &str,
    account: &Account,
    index: usize,
    file: Vec<u8>,
) -> anyhow::Result<Uploaded> {
    let sent = Instant::now();
    let response = client
        .post(url)
        .bearer_auth(&account.token)
        .multipart(upload_form(file)?)
        .send()
        .await
        .context(url.to_owned())?;
    if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
        bail!(
            "POST {url} answered 429: the per-user upload quota is spent. Start the stack \
             with KYC_UPLOADS_BURST=1000000 for this measure"
        );
    }
    let response = expect(response, 202, url).await?;
    let latency = sent.elapsed();
    #[derive(serde::Deserialize)]
    struct Accepted {
        document_id: Uuid,
    }
    let accepted: Accepted = response.json().await?;
    Ok(Uploaded {
        account: index,
        id: accepted.document_id,
        latency,
    })
}

async fn list_documents(
    client: &reqwest::Client,
    kyc: &str,
    account: &Account,
) -> anyhow::Result<DocumentList> {
    let url = format!("{kyc}{DOCUMENTS_PATH}");
    let response = client
        .get(&url)
        .bearer_auth(&account.token)
        .send()
        .await
        .context(url.clone())?;
    Ok(expect(response, 200, &url).await?.json().await?)
}

/// The response when its status is `status`; otherwise an error with the body.
async fn expect(
    response: reqwest::Response,
    status: u16,
    url: &str,
) -> anyhow::Result<reqwest::Response> {
    if response.status().as_u16() == status {
        return Ok(response);
    }
    let got = response.status();
    let body = response.text().await.unwrap_or_default();
    bail!("{url} answered {got} (expected {status}): {body}")
}
