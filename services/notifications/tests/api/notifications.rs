//! Stored notifications: events in, listed, counted, fed, published, read.

use common::events::Service;
use fred::prelude::{KeysInterface, ListInterface};
use serde_json::{Value, json};
use service_kit::pubsub::Subscriber;
use testkit::{DbKind, assert_problem};
use uuid::Uuid;

use crate::helpers::{DEADLINE, TestApp, spawn_app, spawn_app_with};

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_event_becomes_a_stored_counted_fed_and_published_notification() {
    let app = spawn_app().await;
    let user = app.seller();
    let subscriber = Subscriber::connect(&testkit::redis_url()).await.unwrap();
    let channel = app.keys.user_notifications_channel(user.id);
    subscriber.subscribe(&channel).await.unwrap();
    let mut live = subscriber.messages_on([channel]);

    app.deliver(&app.kyc_approved(user.id)).await;

    let page = app.wait_for_count(&user, 1).await;
    let item = &page["items"][0];
    assert_eq!(item["kind"], "kyc.approved");
    assert_eq!(item["title"], "KYC approved");
    assert_eq!(item["read"], false);
    assert!(page["next_cursor"].is_null());
    assert_eq!(app.unread(&user).await, 1);

    let message = tokio::time::timeout(DEADLINE, live.recv())
        .await
        .unwrap()
        .unwrap();
    let frame: Value = message.json().unwrap();
    assert_eq!(frame["type"], "notification");
    assert_eq!(frame["id"], item["id"]);
    assert_eq!(frame["title"], "KYC approved");

    let feed: Vec<String> = app
        .redis
        .lrange(app.keys.notifications(user.id), 0, -1)
        .await
        .unwrap();
    assert_eq!(feed.len(), 1);
    let fed: Value = serde_json::from_str(&feed[0]).unwrap();
    assert_eq!(fed["id"], item["id"]);
}

#[tokio::test]
async fn a_redelivered_event_makes_one_notification() {
    let app = spawn_app().await;
    let user = app.investor();
    let event = app.kyc_approved(user.id);
    app.deliver(&event).await;
    app.deliver(&event).await;
    app.wait_for_count(&user, 1).await;
    // A later, different event is processed after both copies (one worker, in order).
    app.deliver(&app.kyc_approved(user.id)).await;
    let page = app.wait_for_count(&user, 2).await;
    assert_eq!(ids(&page).len(), 2);
    assert_eq!(app.unread(&user).await, 2);
}

#[tokio::test]
async fn offers_reach_the_right_party_and_nobody_sees_anothers() {
    let app = spawn_app().await;
    let (seller, investor) = (app.seller(), app.investor());
    let offer = Uuid::now_v7();
    app.deliver(&app.offer_event("offer.placed", offer, investor.id, seller.id))
        .await;
    let page = app.wait_for_count(&seller, 1).await;
    let item = &page["items"][0];
    assert_eq!(item["kind"], "offer.placed");
    assert_eq!(item["data"]["offer_id"], offer.to_string());
    assert!(item["body"].as_str().unwrap().contains("NGN 1454383.56"));

    // The investor placed it: nothing for them. Then the acceptance tells both.
    let accepted = app.offer_event("offer.accepted", offer, investor.id, seller.id);
    app.deliver(&accepted).await;
    app.wait_for_count(&seller, 2).await;
    let theirs = app.wait_for_count(&investor, 1).await;
    assert_eq!(theirs["items"][0]["title"], "Your offer was accepted");

    // The investor cannot read or mark the seller's notification.
    let sellers_id = item["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/api/notifications/{sellers_id}/read"),
            &investor.token,
            &json!({}),
        )
        .await;
    assert_problem(res, 404).await;
    assert_eq!(app.unread(&seller).await, 2);
    let stranger = app.admin();
    assert_eq!(ids(&app.list(&stranger).await).len(), 0);
}

#[tokio::test]
async fn pages_go_newest_first_by_cursor_without_gaps_or_repeats() {
    let app = spawn_app().await;
    let user = app.seller();
    for _ in 0..25 {
        app.deliver(&app.kyc_approved(user.id)).await;
    }
    let all = ids(&app.wait_for_count(&user, 25).await);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/notifications?limit=10&before={c}"),
            None => "/api/notifications?limit=10".to_owned(),
        };
        let res = app.get(&path, &user.token).await;
        assert_eq!(res.status(), 200);
        let page: Value = res.json().await.unwrap();
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, all);
    let mut sorted = all.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(all, sorted, "newest (largest UUIDv7) first");

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("before=yesterday", "before"),
    ] {
        let res = app
            .get(&format!("/api/notifications?{query}"), &user.token)
            .await;
        let body = assert_problem(res, 422).await;
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
    }
    let res = app.get("/api/notifications?page=2", &user.token).await;
    assert_problem(res, 422).await;
}

#[tokio::test]
async fn read_and_read_all_move_the_count_once() {
    let app = spawn_app().await;
    let user = app.investor();
    for _ in 0..3 {
        app.deliver(&app.kyc_approved(user.id)).await;
    }
    let page = app.wait_for_count(&user, 3).await;
    let first = page["items"][0]["id"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let res = app
            .post(
                &format!("/api/notifications/{first}/read"),
                &user.token,
                &json!({}),
            )
            .await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["read"], true);
        assert!(body["read_at"].is_string());
    }
    assert_eq!(app.unread(&user).await, 2);
    let res = app
        .post(
            &format!("/api/notifications/{}/read", Uuid::now_v7()),
            &user.token,
            &json!({}),
        )
        .await;
    assert_problem(res, 404).await;
    let res = app
        .post("/api/notifications/not-an-id/read", &user.token, &json!({}))
        .await;
    assert_problem(res, 404).await;

    let res = app
        .post("/api/notifications/read-all", &user.token, &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({"marked": 2, "unread": 0}));
    assert_eq!(app.unread(&user).await, 0);
    let page = app.list(&user).await;
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["read"] == true)
    );
}

async fn count_stays_right_under_concurrent_reads_and_arrivals(kind: DbKind) {
    let app = spawn_app_with(kind, |_| {}).await;
    let user = app.seller();
    for _ in 0..20 {
        app.deliver(&app.kyc_approved(user.id)).await;
    }
    let page = app.wait_for_count(&user, 20).await;
    let existing = ids(&page);
    assert_eq!(app.unread(&user).await, 20);

    let reads = existing[..10].iter().chain(existing[..5].iter()).map(|id| {
        let app = &app;
        let token = user.token.clone();
        async move {
            let res = app
                .post(&format!("/api/notifications/{id}/read"), &token, &json!({}))
                .await;
            assert_eq!(res.status(), 200);
        }
    });
    let arrivals = (0..10).map(|_| {
        let app = &app;
        async move { app.deliver(&app.kyc_approved(user.id)).await }
    });
    let read_all = async {
        let res = app
            .post("/api/notifications/read-all", &user.token, &json!({}))
            .await;
        assert_eq!(res.status(), 200);
    };
    tokio::join!(
        futures::future::join_all(reads),
        futures::future::join_all(arrivals),
        read_all
    );
    let page = app.wait_for_count(&user, 30).await;
    let unread_items = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["read"] == false)
        .count() as u64;
    assert_eq!(app.unread(&user).await, unread_items);
    // And once more after all is quiet: read-all leaves nothing and says so.
    let res = app
        .post("/api/notifications/read-all", &user.token, &json!({}))
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["marked"].as_u64().unwrap(), unread_items);
    assert_eq!(body["unread"], 0);
    assert_eq!(app.unread(&user).await, 0);
}

#[tokio::test]
async fn count_stays_right_under_concurrency_on_postgres() {
    count_stays_right_under_concurrent_reads_and_arrivals(DbKind::Postgres).await;
}

#[tokio::test]
async fn count_stays_right_under_concurrency_on_sqlite() {
    count_stays_right_under_concurrent_reads_and_arrivals(DbKind::Sqlite).await;
}

#[tokio::test]
async fn a_lost_counter_is_rebuilt_from_the_database() {
    let app = spawn_app().await;
    let user = app.investor();
    for _ in 0..4 {
        app.deliver(&app.kyc_approved(user.id)).await;
    }
    let page = app.wait_for_count(&user, 4).await;
    let id = page["items"][1]["id"].as_str().unwrap().to_owned();
    app.post(
        &format!("/api/notifications/{id}/read"),
        &user.token,
        &json!({}),
    )
    .await;
    let _: i64 = app
        .redis
        .del(app.keys.notifications_unread(user.id))
        .await
        .unwrap();
    // While it is missing, arrivals do not invent a count from zero...
    app.deliver(&app.kyc_approved(user.id)).await;
    app.wait_for_count(&user, 5).await;
    // ...the next reader rebuilds it from the database.
    assert_eq!(app.unread(&user).await, 4);
    app.deliver(&app.kyc_approved(user.id)).await;
    app.wait_for_count(&user, 6).await;
    testkit::wait_until(DEADLINE, "counter moved by the arrival", || async {
        app.unread(&user).await == 5
    })
    .await;
}

#[tokio::test]
async fn the_feed_keeps_the_last_hundred() {
    let app = spawn_app().await;
    let user = app.seller();
    let events: Vec<_> = (0..103).map(|_| app.kyc_approved(user.id)).collect();
    let queue = app.keys.events(Service::Notifications);
    let jobs: Vec<_> = events
        .iter()
        .map(|e| (queue.clone(), serde_json::to_vec(e).unwrap()))
        .collect();
    service_kit::queue::enqueue_many(&app.redis, &jobs)
        .await
        .unwrap();
    testkit::wait_until(DEADLINE, "103 stored", || async {
        app.unread(&user).await == 103
    })
    .await;
    let feed: Vec<String> = app
        .redis
        .lrange(app.keys.notifications(user.id), 0, -1)
        .await
        .unwrap();
    assert_eq!(feed.len(), 100);
    let newest: Value = serde_json::from_str(&feed[0]).unwrap();
    let page = app.list(&user).await;
    assert_eq!(newest["id"], page["items"][0]["id"]);
}

#[tokio::test]
async fn tokens_are_required_and_checked() {
    let app: TestApp = spawn_app().await;
    let res = app
        .client
        .get(app.url("/api/notifications"))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401).await;
    let res = app.get("/api/notifications", "not.a.token").await;
    assert_problem(res, 401).await;
    // Expired: the clock moves past the token's life.
    let user = app.seller();
    app.clock.advance(chrono::Duration::minutes(16));
    let res = app
        .get("/api/notifications/unread-count", &user.token)
        .await;
    assert_problem(res, 401).await;
    // Blacklisted (logged out).
    let user = app.seller();
    let claims = app.state.verifier.decode(&user.token).unwrap();
    let _: () = app
        .redis
        .set(
            app.keys.blacklisted(&claims.jti.to_string()),
            "1",
            Some(fred::types::Expiration::EX(900)),
            None,
            false,
        )
        .await
        .unwrap();
    let res = app.get("/api/notifications", &user.token).await;
    assert_problem(res, 401).await;
}

/// An event the catalogue does not route here (delivered by mistake) is not acknowledged
/// unread: it goes to the dead letters with the reason, and tells nobody.
#[tokio::test]
async fn an_event_not_routed_to_notifications_is_dead_lettered_with_the_reason() {
    let app = spawn_app().await;
    let user = app.investor();
    let stray = common::events::Envelope::untyped(
        Service::Marketplace,
        "offer.reserved",
        json!({"offer_id": Uuid::now_v7(), "invoice_id": Uuid::now_v7(),
                "investor_id": user.id, "seller_id": Uuid::now_v7()}),
        app.clock.as_ref(),
    )
    .unwrap();
    app.deliver(&stray).await;
    let queue = app.keys.events(Service::Notifications);
    let dead = testkit::wait_for(DEADLINE, "the stray event dead-lettered", || async {
        let dead = service_kit::queue::dead_letters(&app.redis, &queue, 10)
            .await
            .unwrap();
        (!dead.is_empty()).then_some(dead)
    })
    .await;
    assert_eq!(dead[0].attempts, 1);
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("events:notifications does not accept offer.reserved")
    );
    // A routed event after it is handled as usual, and the stray one made nothing.
    app.deliver(&app.kyc_approved(user.id)).await;
    app.wait_for_count(&user, 1).await;
}

/// The `submission_id` of each notification of `items` (kyc.approved ones).
fn submissions<'a>(items: impl IntoIterator<Item = &'a Value>) -> Vec<String> {
    items
        .into_iter()
        .map(|i| i["data"]["submission_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_batch_is_applied_once_and_in_order_per_user(kind: DbKind) {
    use notifications::inbound::Effects;
    use service_kit::inbox::consume_staged_batch;

    let app = spawn_app_with(kind, |_| {}).await;
    let (a, b) = (app.seller(), app.investor());
    let subscriber = Subscriber::connect(&testkit::redis_url()).await.unwrap();
    let channel = app.keys.user_notifications_channel(a.id);
    subscriber.subscribe(&channel).await.unwrap();
    let mut live = subscriber.messages_on([channel]);

    let events = [
        app.kyc_approved(a.id),
        app.kyc_approved(b.id),
        app.kyc_approved(a.id),
        app.kyc_approved(a.id),
        app.kyc_approved(b.id),
    ];
    let submission =
        |e: &common::events::Envelope| e.payload["submission_id"].as_str().unwrap().to_owned();
    // One event twice in the same batch.
    let mut batch = events.to_vec();
    batch.push(events[2].clone());
    let effects = Effects::new(&app.state);
    let applied = consume_staged_batch(&app.state.db, &effects, &batch, &app.state.clock)
        .await
        .unwrap();
    assert_eq!(applied, 5);
    // Two of them again, with one new: only the new one has an effect.
    let later = app.kyc_approved(a.id);
    let again = [events[0].clone(), later.clone(), events[4].clone()];
    let applied = consume_staged_batch(&app.state.db, &effects, &again, &app.state.clock)
        .await
        .unwrap();
    assert_eq!(applied, 1);

    // a's four, newest first in the list and the feed, in event order live.
    let expected: Vec<String> = [&events[0], &events[2], &events[3], &later]
        .into_iter()
        .map(submission)
        .collect();
    let mut newest_first = expected.clone();
    newest_first.reverse();
    let page = app.list(&a).await;
    assert_eq!(submissions(page["items"].as_array().unwrap()), newest_first);
    assert_eq!(app.unread(&a).await, 4);
    let feed: Vec<String> = app
        .redis
        .lrange(app.keys.notifications(a.id), 0, -1)
        .await
        .unwrap();
    let fed: Vec<Value> = feed
        .iter()
        .map(|f| serde_json::from_str(f).unwrap())
        .collect();
    assert_eq!(submissions(&fed), newest_first);
    let mut heard = Vec::new();
    while heard.len() < 4 {
        let message = tokio::time::timeout(DEADLINE, live.recv())
            .await
            .unwrap()
            .unwrap();
        heard.push(message.json::<Value>().unwrap());
    }
    assert_eq!(submissions(&heard), expected);

    // b's two.
    let page = app.list(&b).await;
    assert_eq!(
        submissions(page["items"].as_array().unwrap()),
        vec![submission(&events[4]), submission(&events[1])]
    );
    assert_eq!(app.unread(&b).await, 2);
}

#[tokio::test]
async fn a_batch_is_applied_once_and_in_order_per_user_on_postgres() {
    a_batch_is_applied_once_and_in_order_per_user(DbKind::Postgres).await;
}

#[tokio::test]
async fn a_batch_is_applied_once_and_in_order_per_user_on_sqlite() {
    a_batch_is_applied_once_and_in_order_per_user(DbKind::Sqlite).await;
}
