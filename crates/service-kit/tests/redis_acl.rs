//! The generated ACL file (`common::acl`) loaded into a real redis-server: each service's
//! user may do what its work needs and is refused every other service's keys and channels,
//! the dangerous commands, and the default user anything but `PING`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use common::Keys;
use common::acl;
use common::events::Service;
use fred::prelude::{ClientLike, HashesInterface, KeysInterface, ListInterface, PubsubInterface};
use service_kit::redis::Pool;
use testkit::RedisServer;
use uuid::Uuid;

fn password(user: &str) -> String {
    format!("pw-{user}")
}

struct Acl {
    server: RedisServer,
    keys: Keys,
    _dir: tempfile::TempDir,
}

fn server() -> Acl {
    let keys = Keys::new("");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.acl");
    std::fs::write(&file, acl::acl_file(&keys, password)).unwrap();
    // DEBUG enabled, so that what refuses it is the ACL.
    let server = RedisServer::start_with(&[
        "--aclfile",
        file.to_str().unwrap(),
        "--enable-debug-command",
        "yes",
    ]);
    Acl {
        server,
        keys,
        _dir: dir,
    }
}

async fn connect(acl: &Acl, user: &str) -> Pool {
    let url = format!(
        "redis://{user}:{}@127.0.0.1:{}",
        password(user),
        acl.server.port
    );
    service_kit::redis::pool(&url, 1).await.unwrap()
}

fn refused<T: std::fmt::Debug>(result: Result<T, service_kit::redis::RedisError>) -> bool {
    match result {
        Err(e) => e.details().starts_with("NOPERM"),
        Ok(value) => panic!("allowed: {value:?}"),
    }
}

/// A key each service owns (writes), and a channel it publishes on.
fn owned(keys: &Keys, service: Service) -> (String, Option<String>) {
    let id = Uuid::now_v7();
    match service {
        Service::Auth => (keys.rate_limit("auth-ip", "127.0.0.1"), None),
        Service::Kyc => (keys.kyc_status(id), Some(keys.admin_kyc_channel())),
        Service::Invoice => (keys.invoices_popular(), Some(keys.invoice_channel(id))),
        Service::Marketplace => (keys.marketplace_stats(), Some(keys.offer_channel(id))),
        Service::Payments => (keys.webhook("w1"), Some(keys.payment(id))),
        Service::Admin => (keys.admin_dashboard(), Some(keys.admin_events_channel())),
        Service::Notifications => (
            keys.ws_ticket("t1"),
            Some(keys.user_notifications_channel(id)),
        ),
    }
}

#[tokio::test]
async fn each_service_may_use_its_own_keys_and_channels_and_no_other_service_s() {
    let acl = server();
    for service in Service::ALL {
        let redis = connect(&acl, service.as_str()).await;
        let (own, channel) = owned(&acl.keys, service);
        let _: () = redis.set(&own, "1", None, None, false).await.unwrap();
        let _: Option<String> = redis.get(&own).await.unwrap();
        if let Some(channel) = channel {
            let _: i64 = redis.next().publish(&channel, "x").await.unwrap();
        }
        // Everybody reads the verifier's keys; only auth writes them.
        let _: std::collections::HashMap<String, String> =
            redis.hgetall(acl.keys.jwks()).await.unwrap();
        let _: bool = redis.exists(acl.keys.blacklisted("j")).await.unwrap();
        if service != Service::Auth {
            assert!(refused(
                redis
                    .set::<(), _, _>(acl.keys.blacklisted("j"), "1", None, None, false)
                    .await
            ));
        }
        for other in Service::ALL.into_iter().filter(|o| *o != service) {
            let (theirs, their_channel) = owned(&acl.keys, other);
            assert!(
                refused(redis.get::<Option<String>, _>(&theirs).await),
                "{service:?} read {theirs}"
            );
            assert!(
                refused(redis.set::<(), _, _>(&theirs, "x", None, None, false).await),
                "{service:?} wrote {theirs}"
            );
            // The hub follows every channel; nobody else publishes on another's.
            if let Some(c) = their_channel
                && service != Service::Notifications
            {
                assert!(
                    refused(redis.next().publish::<i64, _, _>(&c, "x").await),
                    "{service:?} published on {c}"
                );
            }
        }
        // Event queues: push onto its consumers' (not read them), use its own.
        for other in Service::ALL {
            let q = acl.keys.events(other);
            let pushes = acl::sends_to(service).contains(&other);
            let consumes = other == service && acl::consumes_events(service);
            let pushed = redis.lpush::<i64, _, _>(q.as_str(), "{}").await;
            assert_eq!(pushed.is_ok(), pushes || consumes, "{service:?} LPUSH {q}");
            let read = redis.lrange::<Vec<String>, _>(q.as_str(), 0, -1).await;
            assert_eq!(read.is_ok(), consumes, "{service:?} LRANGE {q}");
        }
        // The relay's INFO is allowed; what wipes, lists or reconfigures is not.
        let _: String = redis
            .next()
            .info(Some(fred::types::InfoKind::Server))
            .await
            .unwrap();
        for command in [
            vec!["FLUSHALL"],
            vec!["KEYS", "*"],
            vec!["SCAN", "0"],
            vec!["CONFIG", "GET", "*"],
            vec!["DEBUG", "SLEEP", "0"],
            vec!["ACL", "LIST"],
            vec!["SHUTDOWN"],
        ] {
            let (name, args) = command.split_first().unwrap();
            let cmd =
                fred::types::CustomCommand::new(*name, fred::types::ClusterHash::Random, false);
            let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
            let result = redis
                .next()
                .custom::<fred::types::Value, _>(cmd, args)
                .await;
            assert!(refused(result), "{service:?} may run {name}");
        }
    }
}

#[tokio::test]
async fn the_default_user_may_only_ping_and_the_operator_everything() {
    let acl = server();
    assert_eq!(acl.server.cli(&["PING"]), "PONG");
    assert!(acl.server.cli(&["GET", "x"]).starts_with("NOPERM"));
    assert!(acl.server.cli(&["INFO"]).starts_with("NOPERM"));
    let operator = connect(&acl, acl::OPERATOR).await;
    let _: () = operator
        .set("anything", "1", None, None, false)
        .await
        .unwrap();
    let _: Vec<String> = operator
        .next()
        .custom(fred::cmd!("KEYS"), vec!["*"])
        .await
        .unwrap();
    // A wrong password is no way in.
    let url = format!("redis://auth:wrong@127.0.0.1:{}", acl.server.port);
    assert!(service_kit::redis::probe(&url).await.is_err());
}

#[tokio::test]
async fn a_queue_worker_runs_its_scripts_with_only_its_grants() {
    let acl = server();
    let redis = connect(&acl, "admin").await;
    let q = acl.keys.events(Service::Admin);
    service_kit::queue::enqueue_json(&redis, &q, &serde_json::json!({"n": 1}))
        .await
        .unwrap();
    let url = format!(
        "redis://admin:{}@127.0.0.1:{}",
        password("admin"),
        acl.server.port
    );
    let worker = service_kit::queue::Worker::connect(
        &url,
        &redis,
        [q.clone()],
        service_kit::queue::WorkerConfig {
            block_timeout: std::time::Duration::from_millis(100),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let stop = service_kit::shutdown::CancellationToken::new();
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counted = seen.clone();
    let task = tokio::spawn(worker.run(
        service_kit::queue::handler_fn(move |_job| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            }
        }),
        stop.clone(),
    ));
    testkit::wait_until(
        std::time::Duration::from_secs(10),
        "the job handled",
        || async {
            seen.load(std::sync::atomic::Ordering::SeqCst) == 1
                && service_kit::queue::len(&redis, &q).await.unwrap() == 0
        },
    )
    .await;
    stop.cancel();
    task.await.unwrap().unwrap();
}
