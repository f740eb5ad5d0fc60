//! The audit log through the API: every event once, searches, pages, the cache, roles.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use common::events::auth::UserRegistered;
use common::events::examples;
use common::events::marketplace::{OfferChange, OfferStatus};
use common::events::{AuthEvent, Event, OfferEvent};
use common::ids::{OfferId, UserId};
use fred::prelude::KeysInterface;
use serde_json::Value;
use service_kit::inbox::Handled;
use testkit::DbKind;
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app};

/// `user.registered` of a new seller `id`.
pub fn registered(id: Uuid) -> AuthEvent {
    AuthEvent::UserRegistered(UserRegistered {
        user_id: UserId(id),
        email: format!("ada.{id}@example.com"),
        role: common::auth::Role::Seller,
        full_name: "Ada Lovelace".into(),
    })
}

async fn every_event_lands_once(kind: DbKind) {
    let app = spawn_app(kind).await;
    // One offer's story, delivered out of order (accepted before placed), each twice.
    let offer_id = OfferId(Uuid::now_v7());
    let offer = |status, change| common::events::marketplace::OfferChanged {
        offer_id,
        ..examples::offer(status, change, None)
    };
    let accepted = app.envelope(OfferEvent::Accepted(offer(
        OfferStatus::Accepted,
        OfferChange::Accepted,
    )));
    let placed = app.envelope(OfferEvent::Placed(offer(
        OfferStatus::Pending,
        OfferChange::Placed,
    )));
    for e in [&accepted, &accepted, &placed, &placed] {
        app.deliver(e).await;
    }
    // And every event type of the catalogue once, then the first again.
    let all: Vec<_> = Event::examples()
        .into_iter()
        .map(|e| app.envelope(e))
        .collect();
    for e in &all {
        app.deliver(e).await;
    }
    app.deliver(&all[0]).await;
    let last = app.envelope(registered(Uuid::now_v7()));
    app.deliver(&last).await;
    testkit::wait_for(crate::helpers::DEADLINE, "every event recorded", || async {
        let page = app.search("limit=200").await;
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["event_id"] == last.id.to_string())
            .then_some(())
    })
    .await;
    // Each recorded once, in the order they arrived: the offer's two rows first.
    let rows = app.rows_about(offer_id, 2).await;
    let ids: Vec<&str> = rows
        .iter()
        .map(|r| r["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [accepted.id.to_string(), placed.id.to_string()]);
    assert_eq!(rows[0]["action"], "offer.accepted");
    assert_eq!(rows[0]["actor_role"], "system");
    assert_eq!(rows[1]["actor_role"], "investor");
    assert_eq!(
        rows[1]["actor_id"],
        examples::offer(OfferStatus::Pending, OfferChange::Placed, None)
            .investor_id
            .to_string()
    );
    assert_eq!(app.count().await, 2 + all.len() as u64 + 1);
    let page = app.search("limit=200").await;
    let seen: std::collections::HashSet<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(seen.len() as u64, app.count().await, "no event twice");
    for e in &all {
        assert!(
            seen.contains(e.id.to_string().as_str()),
            "{} missing",
            e.event_type
        );
    }
    // Personal fields are masked; the chain verifies.
    let signup = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["action"] == "user.registered")
        .unwrap();
    let email = signup["payload"]["email"].as_str().unwrap();
    assert!(email.contains("***@"), "{email}");
    let verified = app.verify().await;
    assert_eq!(verified["ok"], true, "{verified}");
    assert_eq!(verified["rows"].as_u64(), Some(app.count().await));
}

#[tokio::test]
async fn every_event_lands_once_even_delivered_twice_or_out_of_order_postgres() {
    every_event_lands_once(DbKind::Postgres).await;
}

#[tokio::test]
async fn every_event_lands_once_even_delivered_twice_or_out_of_order_sqlite() {
    every_event_lands_once(DbKind::Sqlite).await;
}

/// Appends `n` registrations, each committed before the next.
async fn registrations(app: &TestApp, n: usize) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let e = app.envelope(registered(Uuid::now_v7()));
        assert_eq!(app.apply(&e).await, Handled::Applied);
        ids.push(e.id);
    }
    ids
}

#[tokio::test]
async fn pages_are_newest_first_and_keyset_cursors_walk_them_without_overlap() {
    let app = spawn_app(DbKind::Postgres).await;
    let ids = registrations(&app, 7).await;
    let mut seen = Vec::new();
    let mut query = "action=user.registered&limit=3".to_owned();
    let mut pages = 0;
    loop {
        let page = app.search(&query).await;
        pages += 1;
        for i in page["items"].as_array().unwrap() {
            seen.push(i["event_id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => query = format!("action=user.registered&limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let newest_first: Vec<String> = ids.iter().rev().map(Uuid::to_string).collect();
    assert_eq!(seen, newest_first);
}

async fn live_search_sees_every_recorded_row(kind: DbKind) {
    let app = Arc::new(spawn_app(kind).await);
    let recorded = Arc::new(AtomicI64::new(0));
    let writer = {
        let (app, recorded) = (app.clone(), recorded.clone());
        tokio::spawn(async move {
            for n in 1..=40 {
                let e = app.envelope(registered(Uuid::now_v7()));
                app.apply(&e).await;
                recorded.store(n, Ordering::SeqCst);
            }
        })
    };
    // Searches reaching now, while rows are appended: each sees at least every row
    // recorded before it began (the same query, so the cache is hit between writes).
    let mut searches = 0;
    loop {
        let before = recorded.load(Ordering::SeqCst);
        let page = app.search("action=user.registered&limit=200").await;
        let n = page["items"].as_array().unwrap().len() as i64;
        assert!(
            n >= before,
            "a live search saw {n} rows, {before} were recorded before it"
        );
        searches += 1;
        if before == 40 {
            break;
        }
    }
    writer.await.unwrap();
    assert!(searches > 1);
}

#[tokio::test]
async fn a_search_reaching_now_never_misses_a_committed_row_postgres() {
    live_search_sees_every_recorded_row(DbKind::Postgres).await;
}

#[tokio::test]
async fn a_search_reaching_now_never_misses_a_committed_row_sqlite() {
    live_search_sees_every_recorded_row(DbKind::Sqlite).await;
}

/// The `audit:search:*` keys under the app's prefix.
async fn search_keys(app: &TestApp) -> Vec<String> {
    testkit::keys_matching(&app.redis, &app.keys.audit_search("*")).await
}

#[tokio::test]
async fn the_same_search_in_another_parameter_order_is_one_cache_entry() {
    let app = spawn_app(DbKind::Postgres).await;
    registrations(&app, 2).await;
    let id = Uuid::now_v7();
    let a = app
        .search(&format!("action=user.registered&resource_id={id}&limit=5"))
        .await;
    let b = app
        .search(&format!(
            "limit=5&resource_id={}&action=user.registered",
            id.to_string().to_uppercase()
        ))
        .await;
    assert_eq!(a, b);
    assert_eq!(search_keys(&app).await.len(), 1);
    // A search ending before the newest row is fixed: cached apart, and it stays right.
    let head_time = app.search("limit=1").await["items"][0]["recorded_at"]
        .as_str()
        .unwrap()
        .to_owned();
    app.api.clock.advance(chrono::Duration::seconds(5));
    registrations(&app, 1).await;
    let entries = search_keys(&app).await.len();
    let fixed = app
        .search(&format!(
            "action=user.registered&to={}",
            head_time.replace('+', "%2B")
        ))
        .await;
    assert_eq!(fixed["items"].as_array().unwrap().len(), 2);
    assert_eq!(search_keys(&app).await.len(), entries + 1);
    let ttl: i64 = app.redis.ttl(&search_keys(&app).await[0]).await.unwrap();
    assert!((1..=600).contains(&ttl), "{ttl}");
}

#[tokio::test]
async fn bad_filters_get_422_naming_the_parameter_and_non_admins_get_403() {
    let app = spawn_app(DbKind::Postgres).await;
    for (query, field) in [
        ("action=offer.bought", "action"),
        ("resource_type=account", "resource_type"),
        ("actor=me", "actor"),
        ("from=yesterday", "from"),
        ("to=0001-01-01T00:00:00Z", "to"),
        ("limit=500", "limit"),
        ("cursor=abc", "cursor"),
    ] {
        let r = app
            .get(&format!("/api/admin/audit?{query}"), &app.admin.token)
            .await;
        let problem = testkit::assert_problem(r, 422).await;
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
    }
    let r = app
        .get("/api/admin/audit?colour=blue", &app.admin.token)
        .await;
    let problem: Value = testkit::assert_problem(r, 422).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("colour"),
        "{problem}"
    );

    let seller = app.seller();
    let investor = app.investor();
    for path in ["/api/admin/audit", "/api/admin/audit/verify"] {
        for user in [&seller, &investor] {
            testkit::assert_problem(app.get(path, &user.token).await, 403).await;
        }
        testkit::assert_problem(app.get(path, "").await, 401).await;
        testkit::assert_problem(app.get(path, "not.a.token").await, 401).await;
    }
    let revoked = app.admin();
    testkit::api::blacklist(&app.redis, &app.keys, &revoked).await;
    testkit::assert_problem(app.get("/api/admin/audit", &revoked.token).await, 401).await;
}

#[tokio::test]
async fn each_recorded_row_is_announced_on_admin_events() {
    let app = spawn_app(DbKind::Postgres).await;
    let subscriber = service_kit::pubsub::Subscriber::connect(&testkit::redis_url())
        .await
        .unwrap();
    let channel = app.keys.admin_events_channel();
    let mut messages = subscriber.messages_on([channel.as_str()]);
    subscriber.subscribe(&channel).await.unwrap();
    let e = app.envelope(registered(Uuid::now_v7()));
    app.apply(&e).await;
    let message = tokio::time::timeout(crate::helpers::DEADLINE, messages.recv())
        .await
        .expect("a message on admin:events")
        .unwrap();
    let live: Value = serde_json::from_slice(&message.payload).unwrap();
    assert_eq!(live["event_id"], e.id.to_string());
    assert_eq!(live["action"], "user.registered");
    assert_eq!(live["seq"], 1);
    assert!(live.get("payload").is_none(), "{live}");
}
