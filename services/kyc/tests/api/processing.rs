use common::auth::Role;
use kyc::store::entity::document;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;
use service_kit::queue::{Job, Worker, handler_fn};
use service_kit::shutdown::CancellationToken;
use testkit::{ClamdStandIn, DbKind, EICAR};
use uuid::Uuid;

use crate::helpers::{DEADLINE, TestApp, fast_worker, spawn_app_with};
use testkit::fixtures;

async fn processed_events(app: &TestApp, document_id: Uuid) -> usize {
    service_kit::outbox::entity::Entity::find()
        .filter(service_kit::outbox::entity::Column::EventType.eq("kyc.document_processed"))
        .all(&app.state.db)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.envelope.contains(&document_id.to_string()))
        .count()
}

async fn stored(app: &TestApp, id: Uuid) -> document::Model {
    document::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
}

/// Starts `n` in-process document workers on the app's queues.
async fn start_workers(
    app: &TestApp,
    stop: &CancellationToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    let (state, stop) = (app.state.clone(), stop.clone());
    vec![tokio::spawn(async move {
        kyc::jobs::worker::run(state, 0, stop).await.unwrap();
    })]
}

#[tokio::test]
async fn a_worker_killed_mid_document_loses_nothing_and_the_result_is_written_once() {
    let app = spawn_app_with(DbKind::Postgres, |c| c.worker_in_process = false).await;
    let seller = app.seller();
    let id = app
        .upload_ok(&seller.token, "government_id", fixtures::png(16, 16, 5))
        .await;

    // A worker takes the job, runs the checks and dies before writing the result.
    let taken = std::sync::Arc::new(tokio::sync::Notify::new());
    let state = app.state.clone();
    let signal = taken.clone();
    let doomed = Worker::connect(
        &app.config.base.redis_url,
        &app.state.redis,
        kyc::jobs::queues(&app.state),
        service_kit::queue::WorkerConfig {
            worker_id: "doomed".into(),
            ..fast_worker()
        },
    )
    .await
    .unwrap();
    let task = tokio::spawn(doomed.run(
        handler_fn(move |job: Job| {
            let state = state.clone();
            let signal = signal.clone();
            async move {
                let kyc_job: kyc::jobs::KycJob = job.payload_as()?;
                let doc = document::Entity::find_by_id(kyc_job.document_id)
                    .one(&state.db)
                    .await?
                    .unwrap();
                let bytes = state.storage.get(&doc.storage_key).await?;
                kyc::jobs::worker::run_checks(&state, &doc, bytes).await?;
                signal.notify_one();
                futures::future::pending::<anyhow::Result<()>>().await
            }
        }),
        CancellationToken::new(),
    ));
    taken.notified().await;
    task.abort(); // killed: no acknowledgement, no more heartbeats
    let _ = task.await;
    assert_eq!(stored(&app, id).await.status, "queued");

    // A healthy worker notices the dead one, takes the job back and finishes it.
    let stop = CancellationToken::new();
    let _workers = start_workers(&app, &stop).await;
    let doc = app.processed(&seller.token, id).await;
    assert_eq!(doc["status"], "accepted");
    assert_eq!(processed_events(&app, id).await, 1);
    stop.cancel();
}

async fn the_same_job_twice_writes_one_result(kind: DbKind) {
    let app = spawn_app_with(kind, |c| c.worker_in_process = false).await;
    let seller = app.seller();
    let id = app
        .upload_ok(&seller.token, "government_id", fixtures::png(16, 16, 6))
        .await;
    let doc = stored(&app, id).await;
    let job: Job = {
        let raw = format!(
            r#"{{"id":"{}","attempts":0,"payload":{}}}"#,
            Uuid::now_v7(),
            serde_json::to_string(&kyc::jobs::KycJob::for_document(&doc).unwrap()).unwrap()
        );
        Job::parse(&app.state.keys.kyc_processing(), &raw).unwrap()
    };
    let runs = (0..4).map(|_| kyc::jobs::worker::handle(&app.state, &job));
    for result in futures::future::join_all(runs).await {
        result.unwrap();
    }
    assert_eq!(stored(&app, id).await.status, "accepted");
    assert_eq!(processed_events(&app, id).await, 1);
}

#[tokio::test]
async fn the_same_job_delivered_four_times_at_once_writes_one_result_on_postgres() {
    the_same_job_twice_writes_one_result(DbKind::Postgres).await;
}

#[tokio::test]
async fn the_same_job_delivered_four_times_at_once_writes_one_result_on_sqlite() {
    the_same_job_twice_writes_one_result(DbKind::Sqlite).await;
}

#[tokio::test]
async fn the_same_file_under_another_user_is_flagged_for_the_reviewer() {
    let app = spawn_app_with(DbKind::Postgres, |_| {}).await;
    let first = app.seller();
    let file = fixtures::png(20, 20, 42);
    let a = app
        .upload_ok(&first.token, "government_id", file.clone())
        .await;
    app.processed(&first.token, a).await;
    // The same user again: not a duplicate of anyone else.
    let again = app
        .upload_ok(&first.token, "government_id", file.clone())
        .await;
    app.processed(&first.token, again).await;
    assert!(!stored(&app, again).await.flagged);

    let second = app.investor();
    let b = app.upload_ok(&second.token, "government_id", file).await;
    let doc = app.processed(&second.token, b).await;
    assert_eq!(doc["status"], "accepted", "flagged, not rejected");
    let row = stored(&app, b).await;
    assert!(row.flagged);
    let checks: Vec<Value> = serde_json::from_value(row.checks).unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c["check"] == "duplicate" && c["outcome"] == "warning")
    );
}

#[tokio::test]
async fn the_eicar_test_file_is_rejected_through_clamds_protocol() {
    let clamd = ClamdStandIn::start().await;
    let addr = clamd.addr();
    let app = spawn_app_with(DbKind::Postgres, move |c| c.clamd_addr = Some(addr)).await;
    let seller = app.seller();
    // EICAR appended to a real PDF: the type and structure checks alone would pass it.
    let mut infected = fixtures::pdf("invoice");
    infected.extend_from_slice(b"\n% ");
    infected.extend_from_slice(EICAR);
    let bad = app
        .upload_ok(&seller.token, "business_registration", infected)
        .await;
    let clean = app
        .upload_ok(&seller.token, "government_id", fixtures::png(12, 12, 1))
        .await;
    let doc = app.processed(&seller.token, bad).await;
    assert_eq!(doc["status"], "rejected");
    assert!(
        doc["reasons"][0].as_str().unwrap().contains("malware"),
        "{doc}"
    );
    let doc = app.processed(&seller.token, clean).await;
    assert_eq!(doc["status"], "accepted");
    assert!(clamd.scans() >= 2);
    let checks: Vec<Value> = serde_json::from_value(stored(&app, clean).await.checks).unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c["check"] == "virus_scan" && c["outcome"] == "passed")
    );
}

#[tokio::test]
async fn an_unreachable_virus_scanner_never_counts_as_a_pass() {
    // A port nothing listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = dead.local_addr().unwrap().to_string();
    drop(dead);
    let app = spawn_app_with(DbKind::Postgres, move |c| {
        c.clamd_addr = Some(addr);
        c.worker.max_attempts = 2;
    })
    .await;
    let seller = app.seller();
    let id = app
        .upload_ok(&seller.token, "government_id", fixtures::png(12, 12, 2))
        .await;
    let queue = app.state.keys.kyc_processing();
    testkit::wait_until(DEADLINE, "the job to be dead-lettered", || async {
        service_kit::queue::dead_letters(&app.state.redis, &queue, 10)
            .await
            .map(|d| !d.is_empty())
            .unwrap_or(false)
    })
    .await;
    assert_eq!(stored(&app, id).await.status, "queued");
}

#[tokio::test]
async fn high_priority_jobs_are_taken_before_earlier_normal_ones() {
    let app = spawn_app_with(DbKind::Postgres, |c| c.worker_in_process = false).await;
    // A rejected investor (documents processed by workers started for the purpose).
    let stop = CancellationToken::new();
    let workers = start_workers(&app, &stop).await;
    let fixing = app.investor();
    app.ready_to_submit(&fixing, Role::Investor, 90).await;
    let submission = app.submit_ok(&fixing).await;
    let admin = app.admin();
    let res = app
        .post_at(
            &format!("/api/kyc/submissions/{submission}/reject"),
            &admin.token,
            1,
            &serde_json::json!({"reason": "Blurry ID."}),
        )
        .await;
    assert_eq!(res.status(), 200);
    stop.cancel();
    for w in workers {
        w.await.unwrap();
    }

    // Two normal uploads, then the rejected user's fix.
    let newcomer = app.seller();
    let n1 = app
        .upload_ok(&newcomer.token, "government_id", fixtures::png(10, 10, 1))
        .await;
    let n2 = app
        .upload_ok(
            &newcomer.token,
            "proof_of_address",
            fixtures::png(10, 10, 2),
        )
        .await;
    let fix = app
        .upload_ok(&fixing.token, "government_id", fixtures::png(10, 10, 3))
        .await;
    assert_eq!(
        service_kit::queue::len(&app.state.redis, &app.state.keys.kyc_processing_high())
            .await
            .unwrap(),
        1
    );

    let stop = CancellationToken::new();
    let _workers = start_workers(&app, &stop).await;
    for (token, id) in [
        (&newcomer.token, n1),
        (&newcomer.token, n2),
        (&fixing.token, fix),
    ] {
        app.processed(token, id).await;
    }
    // Results in the order they were written (outbox ids increase).
    let order: Vec<String> = service_kit::outbox::entity::Entity::find()
        .filter(service_kit::outbox::entity::Column::EventType.eq("kyc.document_processed"))
        .order_by_asc(service_kit::outbox::entity::Column::Id)
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.envelope)
        .collect();
    let position = |id: Uuid| {
        order
            .iter()
            .position(|e| e.contains(&id.to_string()))
            .unwrap()
    };
    assert!(
        position(fix) < position(n1) && position(fix) < position(n2),
        "{order:?}"
    );
    stop.cancel();
}
