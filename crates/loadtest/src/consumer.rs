//! `--service notifications-events`: the notifications consumer keeping up with a burst.
//!
//! `--events` `kyc.approved` events (each one notification to its user; `--users` fresh
//! user ids round robin, 10 % of the events pushed twice, as a relay may) are pushed onto
//! `events:notifications` as producers' relays push them, 500 per pipeline. The last one
//! is for a user of its own: the consumer applies a queue in order, so once that user's
//! unread count shows in Redis every event before it is stored, counted, fed and
//! published. The rate is events over the time from the first push to then. Then every
//! user's unread count is read back: each must be exactly the events sent for them (a
//! duplicate applied twice, or an event lost, shows). Beside it, `pgbench -c 32` one-row
//! inserts on `--pgbench-url` in the same run, and the service's memory.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use common::events::kyc::KycDecided;
use common::events::{Envelope, KycEvent, Service};
use common::ids::{SubmissionId, UserId};
use common::keys::Keys;
use fred::prelude::HashesInterface;
use uuid::Uuid;

use crate::payments::pgbench;
use crate::rss;

pub struct Settings {
    pub redis_url: String,
    pub redis_prefix: String,
    pub events: usize,
    pub users: usize,
    pub pgbench_url: String,
    /// The notifications service's pid, for its memory.
    pub pid: Option<u32>,
}

/// Envelopes' texts as their producers' relays push them: signed with the producer's key
/// when `make run` keeps one (`$DATA_DIR/event-keys/<producer>.key`, DATA_DIR defaults to
/// `data`: consumers of that stack accept only signed events), else as they are. Each
/// producer's key is read once.
#[derive(Default)]
pub struct AsPushed {
    signers: std::collections::HashMap<Service, Option<common::events::signing::Signer>>,
}

impl AsPushed {
    pub fn text(&mut self, envelope: &Envelope) -> anyhow::Result<String> {
        let text = serde_json::to_string(envelope)?;
        let producer = envelope.producer;
        let signer = match self.signers.entry(producer) {
            std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
            std::collections::hash_map::Entry::Vacant(new) => {
                let dir = std::env::var("DATA_DIR").unwrap_or_else(|_| "data".into());
                let path = std::path::Path::new(&dir)
                    .join("event-keys")
                    .join(format!("{}.key", producer.as_str()));
                let signer = match std::fs::read_to_string(&path) {
                    Ok(seed) => Some(common::events::signing::Signer::from_base64(
                        producer, &seed,
                    )?),
                    Err(_) => None,
                };
                new.insert(signer)
            }
        };
        match signer {
            Some(signer) => Ok(signer.sign_text(&text)?),
            None => Ok(text),
        }
    }
}

/// Pushes `envelopes` onto `queue` as producers' relays push them, 500 per pipeline.
pub async fn push_events(
    pool: &service_kit::redis::Pool,
    queue: &common::keys::QueueName,
    envelopes: &[Envelope],
) -> anyhow::Result<()> {
    let mut as_pushed = AsPushed::default();
    for chunk in envelopes.chunks(500) {
        let jobs: Vec<(common::keys::QueueName, String)> = chunk
            .iter()
            .map(|e| as_pushed.text(e).map(|j| (queue.clone(), j)))
            .collect::<Result<_, _>>()?;
        service_kit::queue::enqueue_many(pool, &jobs).await?;
    }
    Ok(())
}

fn approved(user: Uuid) -> common::events::Event {
    KycEvent::Approved(KycDecided {
        user_id: UserId(user),
        submission_id: SubmissionId(Uuid::now_v7()),
        reviewed_by: UserId(Uuid::now_v7()),
        reason: None,
    })
    .into()
}

pub async fn run(s: Settings) -> anyhow::Result<bool> {
    ensure!(s.events >= 2, "--events must be at least 2");
    let users: Vec<Uuid> = (0..s.users.max(1)).map(|_| Uuid::now_v7()).collect();
    let last_user = Uuid::now_v7();
    let clock = common::clock::system();
    let mut expected = vec![0_i64; users.len()];
    let mut envelopes = Vec::with_capacity(s.events + s.events / 10);
    for n in 0..s.events - 1 {
        let i = n % users.len();
        let e = Envelope::of(approved(users[i]), clock.as_ref())?;
        expected[i] += 1;
        if n % 10 == 5 {
            envelopes.push(e.clone());
        }
        envelopes.push(e);
    }
    envelopes.push(Envelope::of(approved(last_user), clock.as_ref())?);
    let jobs_pushed = envelopes.len();

    let pool = service_kit::redis::pool(&s.redis_url, 4).await?;
    let keys = Keys::new(&s.redis_prefix);
    let queue = keys.events(Service::Notifications);
    let rss_before = s.pid.and_then(rss::rss_kb);
    let started = Instant::now();
    push_events(&pool, &queue, &envelopes).await?;
    let pushed = started.elapsed();
    let last_key = keys.notifications_unread(last_user);
    loop {
        let n: Option<i64> = pool.next().hget(&last_key, "n").await?;
        if n == Some(1) {
            break;
        }
        ensure!(
            started.elapsed() < Duration::from_secs(1800),
            "the events were not all stored in 30 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = started.elapsed();
    let rss_after = s.pid.and_then(rss::rss_kb);
    let rate = s.events as f64 / took.as_secs_f64();

    let mut wrong = 0usize;
    for (user, want) in users.iter().zip(&expected) {
        let got: Option<i64> = pool
            .next()
            .hget(keys.notifications_unread(*user), "n")
            .await?;
        if got.unwrap_or(0) != *want {
            wrong += 1;
        }
    }
    let tps = pgbench(&s.pgbench_url).context("pgbench beside the consumer")?;
    println!(
        "notifications consumer: {} events ({jobs_pushed} jobs with the duplicates, pushed in {:.2} s) stored in {:.2} s: {rate:.0} events/s; pgbench -c 32 one-row insert {tps:.0} tps (same run): {:.3} x",
        s.events,
        pushed.as_secs_f64(),
        took.as_secs_f64(),
        rate / tps
    );
    println!(
        "  {} users: {} with a count other than the events sent for them (lost or doubled)",
        users.len(),
        wrong
    );
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        println!(
            "  notifications RSS {:.1} MB before, {:.1} MB after",
            before as f64 / 1024.0,
            after as f64 / 1024.0
        );
    }
    Ok(wrong == 0)
}
