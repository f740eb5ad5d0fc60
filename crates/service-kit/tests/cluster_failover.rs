//! The outbox, the queue and the inbox on a Redis Cluster of the test's own while the
//! primary holding the consumer's queue is killed (`kill -9`) and its replica takes over.
//! Replication is asynchronous: pushes the old primary acknowledged but had not passed on
//! are gone with it. The relay notices that the primaries changed and sends its recent
//! events again; the consumer's inbox drops the copies it already had. Counted at the end:
//! every event applied exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::Keys;
use common::events::{Envelope, Service, consumers_of};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use service_kit::inbox::{self, EventConsumer, event_handler_fn};
use service_kit::outbox::{self, Relay};
use service_kit::queue::{Worker, WorkerConfig};
use service_kit::shutdown::CancellationToken;
use testkit::{DbKind, RedisCluster, TestDb};

const EVENT: &str = "invoice.status_changed";
const EVENTS: u32 = 400;
/// Events committed before the kill.
const BEFORE_KILL: u32 = 150;

struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(outbox::Migration), Box::new(inbox::Migration)]
    }
}

async fn balance(db: &DatabaseConnection) -> i64 {
    db.query_one_raw(Statement::from_string(
        DbBackend::Postgres,
        "SELECT amount FROM balances WHERE account = 'a'",
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get::<i64>("", "amount")
    .unwrap()
}

fn event() -> Envelope {
    Envelope::untyped(
        Service::Invoice,
        EVENT,
        serde_json::json!({"invoice_id": uuid::Uuid::now_v7(), "from": "submitted", "to": "listed"}),
        &common::clock::SystemClock,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_primary_of_a_queue_loses_and_doubles_no_event() {
    let cluster = RedisCluster::start();
    let test_db = TestDb::new(DbKind::Postgres).await;
    let db = test_db.connect().await;
    Migrator::up(&db, None).await.unwrap();
    db.execute_unprepared(
        "CREATE TABLE balances (account VARCHAR(32) PRIMARY KEY, amount BIGINT NOT NULL); \
         INSERT INTO balances (account, amount) VALUES ('a', 0)",
    )
    .await
    .unwrap();
    let keys = Keys::new(&testkit::unique_prefix());
    let redis = service_kit::redis::pool(&cluster.url(), 2).await.unwrap();
    let consumer_queue = keys.events(consumers_of(EVENT)[0]);

    let stop = CancellationToken::new();
    let relay = Relay::new(Service::Invoice, db.clone(), redis.clone(), keys.clone())
        .restart_check_every(Duration::from_millis(200))
        .resend_window(Duration::from_secs(10));
    let wake = relay.handle();
    let relay_task = tokio::spawn(relay.run(stop.clone()));
    let handled = Arc::new(AtomicU32::new(0));
    let counted = handled.clone();
    let consumer = EventConsumer::new(
        db.clone(),
        event_handler_fn(move |txn, _event| {
            let counted = counted.clone();
            Box::pin(async move {
                txn.execute_unprepared(
                    "UPDATE balances SET amount = amount + 1 WHERE account = 'a'",
                )
                .await?;
                counted.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
        }),
    );
    let config = WorkerConfig {
        block_timeout: Duration::from_millis(200),
        backoff_base: Duration::from_millis(2),
        backoff_max: Duration::from_millis(50),
        delayed_poll_interval: Duration::from_millis(20),
        ..WorkerConfig::default()
    };
    let worker = Worker::connect(&cluster.url(), &redis, [consumer_queue.clone()], config)
        .await
        .unwrap();
    let worker_task = tokio::spawn(worker.run(consumer, stop.clone()));

    // Events committed one by one (each with its outbox row), the relay woken after each.
    let mut sent = Vec::new();
    let mut killed = None;
    let mut identity_before = String::new();
    let primary = cluster.primary_of(consumer_queue.as_str());
    for i in 0..EVENTS {
        if i == BEFORE_KILL {
            // Events are flowing (the consumer a few behind at most): crash the primary.
            testkit::wait_until(
                Duration::from_secs(30),
                "events flow before the kill",
                || async { handled.load(Ordering::SeqCst) > 0 },
            )
            .await;
            identity_before = service_kit::redis::server_identity(redis.next())
                .await
                .unwrap();
            cluster.kill(primary);
            killed = Some((Instant::now(), handled.load(Ordering::SeqCst)));
        }
        let e = event();
        let txn = service_kit::db::begin_write(&db).await.unwrap();
        txn.execute_unprepared("SELECT 1").await.unwrap();
        outbox::add(&txn, &e).await.unwrap();
        txn.commit().await.unwrap();
        wake.wake();
        sent.push(e.id);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (kill_at, handled_at_kill) = killed.unwrap();

    // The replica is promoted; the consumer handles events again.
    testkit::wait_until(
        Duration::from_secs(60),
        "events handled after the failover",
        || async { handled.load(Ordering::SeqCst) > handled_at_kill + 5 },
    )
    .await;
    let recovered = kill_at.elapsed();
    // What the relay watches: the primaries changed, so it sent its recent events again.
    let identity_after = service_kit::redis::server_identity(redis.next())
        .await
        .unwrap();
    assert_ne!(
        identity_before, identity_after,
        "the relay sees the failover"
    );
    assert!(!identity_after.contains(&format!(":{primary}=")));
    testkit::wait_until(Duration::from_secs(60), "every event applied", || async {
        balance(&db).await >= i64::from(EVENTS)
    })
    .await;
    // A little longer: a doubled effect would show as a balance above the count.
    testkit::wait_until(Duration::from_secs(30), "the outbox drained", || async {
        outbox::pending(&db).await.unwrap() == 0
    })
    .await;
    stop.cancel();
    let _ = relay_task.await;
    let _ = worker_task.await;

    let applied = balance(&db).await;
    let mut missing = 0;
    for id in &sent {
        if !inbox::handled(&db, *id).await.unwrap() {
            missing += 1;
        }
    }
    eprintln!(
        "failover: primary :{primary} killed after {handled_at_kill} events handled; events flowed again after {:.2} s; {EVENTS} events, {applied} applied, {missing} missing; the handler ran {} times",
        recovered.as_secs_f64(),
        handled.load(Ordering::SeqCst)
    );
    assert!(
        cluster.is_healthy(&[primary]),
        "the replica serves the slots"
    );
    assert_eq!(missing, 0, "no event lost");
    assert_eq!(applied, i64::from(EVENTS), "no event applied twice");
}
