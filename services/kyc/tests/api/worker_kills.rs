//! The document worker killed (`kill -9`, a real `kyc worker` process) twenty times while
//! sixty documents are checked: every document ends checked, none is lost and none is
//! checked twice (one `kyc.document_processed` event each).

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use testkit::DbKind;
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app_with};
use kyc::store::entity::document;

const DOCUMENTS: usize = 60;
const KILLS: usize = 20;

/// A `kyc worker` process on the app's database, Redis prefix and files, always with the
/// same worker id (as a restarted pod has): a new life takes back what the killed one held.
fn worker(app: &TestApp) -> Child {
    let dir = app.dir.path();
    Command::new(env!("CARGO_BIN_EXE_kyc"))
        .arg("worker")
        // Its probes on a free port: the default (8082) may be a running stack's.
        .env("PORT", "0")
        .env("KYC_DATABASE_URL", &app.config.base.database_url)
        .env("REDIS_URL", &app.config.base.redis_url)
        .env("REDIS_PREFIX", &app.config.base.redis_prefix)
        .env("DATA_DIR", dir)
        .env("KYC_STORAGE", "local")
        .env("KYC_STORAGE_DIR", dir.join("documents"))
        .env("KYC_IDENTITY_KEY_FILE", dir.join("identity.key"))
        .env("KYC_WORKER_ID", "kyc-worker-under-test")
        .env_remove("CLAMD_ADDR")
        .env_remove("KYC_OCR_COMMAND")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start kyc worker")
}

fn kill9(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// How many of `ids` are checked (no longer queued).
async fn checked(app: &TestApp, ids: &[Uuid]) -> usize {
    document::Entity::find()
        .filter(document::Column::Id.is_in(ids.to_vec()))
        .all(&app.state.db)
        .await
        .unwrap()
        .iter()
        .filter(|d| d.status != "queued")
        .count()
}

/// `kyc.document_processed` events per document, from the outbox.
async fn processed_events(app: &TestApp, ids: &[Uuid]) -> HashMap<Uuid, usize> {
    let mut counts: HashMap<Uuid, usize> = ids.iter().map(|id| (*id, 0)).collect();
    for row in service_kit::outbox::entity::Entity::find()
        .filter(service_kit::outbox::entity::Column::EventType.eq("kyc.document_processed"))
        .all(&app.state.db)
        .await
        .unwrap()
    {
        for (id, n) in counts.iter_mut() {
            if row.envelope.contains(&id.to_string()) {
                *n += 1;
            }
        }
    }
    counts
}

#[tokio::test]
async fn a_worker_killed_twenty_times_mid_queue_checks_every_document_once() {
    let app = spawn_app_with(DbKind::Postgres, |c| c.worker_in_process = false).await;
    let mut ids = Vec::with_capacity(DOCUMENTS);
    for i in 0..DOCUMENTS {
        let seller = app.seller();
        let kind = ["government_id", "proof_of_address", "business_registration"][i % 3];
        let bytes = testkit::fixtures::png(16 + (i / 200) as u32, 16, (i % 200) as u8);
        ids.push(app.upload_ok(&seller.token, kind, bytes).await);
    }

    // Start a worker; as soon as it has checked one more document (or after a moment if
    // it is still starting), kill it (-9), whatever it is in the middle of. KILLS times.
    let started = Instant::now();
    let mut kills = 0;
    while kills < KILLS {
        let before = checked(&app, &ids).await;
        if before == DOCUMENTS {
            break;
        }
        let mut w = worker(&app);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if checked(&app, &ids).await > before || Instant::now() > deadline {
                break;
            }
            if w.try_wait().unwrap().is_some() {
                panic!("the worker exited by itself");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        kill9(&mut w);
        kills += 1;
    }
    let checked_under_kills = checked(&app, &ids).await;

    // A last worker finishes what is left.
    let mut w = worker(&app);
    testkit::wait_until(
        Duration::from_secs(60),
        "every document checked",
        || async { checked(&app, &ids).await == DOCUMENTS },
    )
    .await;
    kill9(&mut w);

    let events = processed_events(&app, &ids).await;
    let lost: Vec<_> = events.iter().filter(|(_, n)| **n == 0).collect();
    let doubled: Vec<_> = events.iter().filter(|(_, n)| **n > 1).collect();
    eprintln!(
        "kyc worker: {kills} kills, {checked_under_kills} of {DOCUMENTS} checked under them, \
         all checked after {:.1} s; {} lost, {} doubled",
        started.elapsed().as_secs_f64(),
        lost.len(),
        doubled.len()
    );
    assert!(kills >= KILLS.min(DOCUMENTS / 3), "only {kills} kills");
    assert!(lost.is_empty(), "documents without their event: {lost:?}");
    assert!(doubled.is_empty(), "documents checked twice: {doubled:?}");
}
