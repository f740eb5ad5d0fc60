//! The live WebSocket: tickets, own notifications, entitlement, resume, slow clients,
//! revocation.

use common::Clock;
use common::events::Service;
use fred::prelude::{KeysInterface, PubsubInterface};
use futures::StreamExt;
use serde_json::json;
use testkit::assert_problem;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::helpers::{DEADLINE, closed_with, next_frame, send, spawn_app, spawn_app_with};

/// The HTTP answer to a WebSocket request that was refused before the upgrade.
async fn refused(url: &str) -> u16 {
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => res.status().as_u16(),
        other => panic!(
            "expected a refusal, got {:?}",
            other.map(|(_, r)| r.status())
        ),
    }
}

#[tokio::test]
async fn tickets_work_once_for_thirty_seconds() {
    let app = spawn_app().await;
    let user = app.seller();
    let base = format!("ws://127.0.0.1:{}/api/notifications/ws", app.port);
    assert_eq!(refused(&base).await, 401);
    assert_eq!(refused(&format!("{base}?ticket=")).await, 401);
    assert_eq!(refused(&format!("{base}?ticket=nope")).await, 401);
    assert_eq!(refused(&app.ws_url(&"ab".repeat(32))).await, 401);

    let ticket = app.ticket(&user).await;
    // A plain GET (no upgrade) is refused without spending the ticket.
    let res = app
        .client
        .get(app.url(&format!("/api/notifications/ws?ticket={ticket}")))
        .send()
        .await
        .unwrap();
    assert_problem(res, 400).await;
    let (ws, _) = tokio_tungstenite::connect_async(app.ws_url(&ticket))
        .await
        .unwrap();
    assert_eq!(refused(&app.ws_url(&ticket)).await, 401, "used twice");
    drop(ws);

    let ticket = app.ticket(&user).await;
    app.clock.advance(chrono::Duration::seconds(31));
    assert_eq!(refused(&app.ws_url(&ticket)).await, 401, "expired");

    // A ticket needs a bearer token; the ticket's problem is problem+json.
    let res = app
        .client
        .post(app.url("/api/notifications/ws-ticket"))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401).await;
}

#[tokio::test]
async fn a_ticket_of_a_token_revoked_since_is_refused() {
    let app = spawn_app().await;
    let user = app.investor();
    let ticket = app.ticket(&user).await;
    let claims = app.state.verifier.decode(&user.token).unwrap();
    let now_ms = app.clock.now().timestamp_millis();
    let _: () = app
        .redis
        .set(app.keys.revoked_before(user.id), now_ms, None, None, false)
        .await
        .unwrap();
    assert!(claims.issued_at_ms() <= now_ms);
    assert_eq!(refused(&app.ws_url(&ticket)).await, 401);
}

#[tokio::test]
async fn own_notifications_arrive_without_asking_and_only_ones_own() {
    let app = spawn_app().await;
    let (me, other) = (app.seller(), app.seller());
    let mut ws = app.connect(&me).await;
    let mut theirs = app.connect(&other).await;
    app.wait_connections(2).await;
    app.deliver(&app.kyc_approved(other.id)).await;
    app.deliver(&app.kyc_approved(me.id)).await;
    let frame = next_frame(&mut ws).await;
    assert_eq!(frame["type"], "notification");
    assert_eq!(frame["kind"], "kyc.approved");
    let page = app.wait_for_count(&me, 1).await;
    assert_eq!(frame["id"], page["items"][0]["id"]);
    // The other user's one went to them, not to me: my next frame is my next one.
    let f = next_frame(&mut theirs).await;
    assert_eq!(f["type"], "notification");
    app.deliver(&app.kyc_approved(me.id)).await;
    let second = next_frame(&mut ws).await;
    let page = app.wait_for_count(&me, 2).await;
    assert_eq!(second["id"], page["items"][0]["id"]);
}

#[tokio::test]
async fn subscriptions_need_entitlement_from_the_events_heard() {
    let app = spawn_app().await;
    let (seller, investor, outsider, admin) =
        (app.seller(), app.investor(), app.investor(), app.admin());
    let offer = Uuid::now_v7();
    let mut inv = app.connect(&investor).await;

    // Before any event about the offer: refused.
    send(
        &mut inv,
        json!({"type": "subscribe", "channel": format!("offer:{offer}")}),
    )
    .await;
    let f = next_frame(&mut inv).await;
    assert_eq!(
        (f["type"].as_str(), f["code"].as_str()),
        (Some("error"), Some("forbidden"))
    );

    app.deliver(&app.offer_event("offer.placed", offer, investor.id, seller.id))
        .await;
    app.wait_for_count(&seller, 1).await;
    send(
        &mut inv,
        json!({"type": "subscribe", "channel": format!("offer:{offer}")}),
    )
    .await;
    assert_eq!(
        next_frame(&mut inv).await,
        json!({"type": "subscribed", "channel": format!("offer:{offer}")})
    );
    assert_eq!(
        testkit::subscribers(&app.redis, &app.keys.offer_channel(offer)).await,
        1,
        "one subscription for the instance"
    );
    let _: i64 = app
        .redis
        .next()
        .publish(app.keys.offer_channel(offer), r#"{"status":"accepted"}"#)
        .await
        .unwrap();
    let f = next_frame(&mut inv).await;
    assert_eq!(
        f,
        json!({"type": "event", "channel": format!("offer:{offer}"), "data": {"status": "accepted"}})
    );

    // Someone else's offer, seller channel, KYC channel and the admins' channel: refused.
    let mut out = app.connect(&outsider).await;
    for channel in [
        format!("offer:{offer}"),
        format!("seller:{}", seller.id),
        format!("seller:{}", outsider.id),
        format!("kyc:status:{}", seller.id),
        "admin:kyc".to_owned(),
        "admin:events".to_owned(),
    ] {
        send(&mut out, json!({"type": "subscribe", "channel": channel})).await;
        let f = next_frame(&mut out).await;
        assert_eq!(f["code"], "forbidden", "{channel}: {f}");
    }
    // Malformed frames and unknown channels are told, and the connection goes on.
    for (frame, code) in [
        (
            json!({"type": "subscribe", "channel": format!("user:{}:notifications", seller.id)}),
            "unknown_channel",
        ),
        (
            json!({"type": "subscribe", "channel": "blacklisted:x"}),
            "unknown_channel",
        ),
        (json!({"type": "dance"}), "bad_frame"),
        (
            json!({"type": "resume", "after": "yesterday"}),
            "bad_cursor",
        ),
    ] {
        send(&mut out, frame.clone()).await;
        let f = next_frame(&mut out).await;
        assert_eq!(f["code"], code, "{frame}: {f}");
    }
    send(
        &mut out,
        json!({"type": "subscribe", "channel": format!("kyc:status:{}", outsider.id)}),
    )
    .await;
    assert_eq!(next_frame(&mut out).await["type"], "subscribed");

    let mut adm = app.connect(&admin).await;
    for channel in [
        "admin:kyc".to_owned(),
        "admin:events".to_owned(),
        format!("offer:{offer}"),
    ] {
        send(&mut adm, json!({"type": "subscribe", "channel": channel})).await;
        assert_eq!(next_frame(&mut adm).await["type"], "subscribed");
    }
    // What the admin service publishes on admin:events reaches the admin.
    let admin_events = app.keys.admin_events_channel();
    testkit::wait_until(DEADLINE, "the hub's admin:events subscription", || async {
        testkit::subscribers(&app.redis, &admin_events).await == 1
    })
    .await;
    let live = json!({"seq": 1, "action": "user.registered"});
    // (PUBLISH's answer is not checked: on a cluster it counts one node's subscribers.)
    let _: i64 = app
        .redis
        .next()
        .publish(admin_events, live.to_string())
        .await
        .unwrap();
    let f = next_frame(&mut adm).await;
    assert_eq!(
        f,
        json!({"type": "event", "channel": "admin:events", "data": live})
    );
    let mut sel = app.connect(&seller).await;
    for channel in [format!("seller:{}", seller.id), format!("offer:{offer}")] {
        send(&mut sel, json!({"type": "subscribe", "channel": channel})).await;
        assert_eq!(next_frame(&mut sel).await["type"], "subscribed");
    }
    // Three listeners of the offer channel, still one Redis subscription.
    assert_eq!(
        testkit::subscribers(&app.redis, &app.keys.offer_channel(offer)).await,
        1
    );
}

#[tokio::test]
async fn unsubscribed_channels_stop_and_the_last_listener_leaving_unsubscribes() {
    let app = spawn_app().await;
    let seller = app.seller();
    let mut ws = app.connect(&seller).await;
    let channel = format!("seller:{}", seller.id);
    send(&mut ws, json!({"type": "subscribe", "channel": channel})).await;
    assert_eq!(next_frame(&mut ws).await["type"], "subscribed");
    send(&mut ws, json!({"type": "unsubscribe", "channel": channel})).await;
    assert_eq!(next_frame(&mut ws).await["type"], "unsubscribed");
    let redis_name = app.keys.seller_channel(seller.id);
    testkit::wait_until(DEADLINE, "unsubscribed in Redis", || async {
        !app.state.hub.channels().contains(&redis_name)
    })
    .await;
    // Published after: not delivered. A notification published later is the next frame.
    let _: i64 = app
        .redis
        .next()
        .publish(&redis_name, r#"{"x":1}"#)
        .await
        .unwrap();
    app.deliver(&app.kyc_approved(seller.id)).await;
    assert_eq!(next_frame(&mut ws).await["type"], "notification");
}

#[tokio::test]
async fn resume_replays_what_was_missed_then_goes_on_live() {
    let app = spawn_app().await;
    let user = app.investor();
    let mut ws = app.connect(&user).await;
    app.deliver(&app.kyc_approved(user.id)).await;
    let seen = next_frame(&mut ws).await["id"].as_str().unwrap().to_owned();
    drop(ws);
    app.wait_connections(0).await;
    for _ in 0..3 {
        app.deliver(&app.kyc_approved(user.id)).await;
    }
    let page = app.wait_for_count(&user, 4).await;
    let mut missed: Vec<String> = page["items"].as_array().unwrap()[..3]
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    missed.reverse();

    let mut ws = app.connect(&user).await;
    send(&mut ws, json!({"type": "resume", "after": seen})).await;
    for id in &missed {
        let f = next_frame(&mut ws).await;
        assert_eq!(
            (f["type"].as_str(), f["id"].as_str()),
            (Some("notification"), Some(id.as_str()))
        );
    }
    assert_eq!(
        next_frame(&mut ws).await,
        json!({"type": "resumed", "count": 3, "more": false})
    );
    app.deliver(&app.kyc_approved(user.id)).await;
    let live = next_frame(&mut ws).await;
    assert_eq!(live["type"], "notification");
    assert!(!missed.contains(&live["id"].as_str().unwrap().to_owned()));

    // Past the feed (its 100 entries gone): from the database, cut at the limit.
    let _: i64 = app
        .redis
        .del(app.keys.notifications(user.id))
        .await
        .unwrap();
    send(&mut ws, json!({"type": "resume", "after": Uuid::nil()})).await;
    let mut replayed = 0;
    loop {
        let f = next_frame(&mut ws).await;
        if f["type"] == "resumed" {
            assert_eq!(f, json!({"type": "resumed", "count": 5, "more": false}));
            break;
        }
        replayed += 1;
    }
    assert_eq!(replayed, 5);
}

#[tokio::test]
async fn a_slow_client_is_closed_and_never_slows_the_others() {
    let app = spawn_app_with(testkit::DbKind::Postgres, |c| c.ws.buffer = 4).await;
    let (slow_user, fast_user) = (app.seller(), app.seller());
    let mut slow = app.connect(&slow_user).await; // never reads until the end
    let mut fast = app.connect(&fast_user).await;
    app.wait_connections(2).await;
    let big = format!(
        r#"{{"type":"notification","id":"{}","pad":"{}"}}"#,
        Uuid::nil(),
        "x".repeat(64 * 1024)
    );
    let (slow_channel, fast_channel) = (
        app.keys.user_notifications_channel(slow_user.id),
        app.keys.user_notifications_channel(fast_user.id),
    );
    let mut sent_fast = 0;
    testkit::wait_until(DEADLINE, "the slow client closed", || {
        let (app, big, slow_channel, fast_channel) = (&app, &big, &slow_channel, &fast_channel);
        sent_fast += 1;
        let n = sent_fast;
        async move {
            // 2 x 64 KiB a poll: fills the slow client's socket buffers in a second or two,
            // well under Redis' output-buffer limit for the service's subscriber.
            for _ in 0..2 {
                let _: i64 = app
                    .redis
                    .next()
                    .publish(slow_channel, big.as_str())
                    .await
                    .unwrap();
            }
            let _: i64 = app
                .redis
                .next()
                .publish(
                    fast_channel,
                    format!(r#"{{"type":"notification","n":{n}}}"#),
                )
                .await
                .unwrap();
            app.state.hub.slow_closed() == 1
        }
    })
    .await;
    // The fast client got every one of its frames, in order.
    for n in 1..=sent_fast {
        let f = next_frame(&mut fast).await;
        assert_eq!(f["n"], n);
    }
    app.wait_connections(1).await;
    // The slow client finds the close (4008) after what was already on its way.
    let code = tokio::time::timeout(DEADLINE, async {
        loop {
            match slow.next().await {
                Some(Ok(Message::Close(Some(c)))) => return u16::from(c.code),
                Some(Ok(_)) => continue,
                other => panic!("ended without a close frame: {other:?}"),
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(code, 4008);
}

#[tokio::test]
async fn logout_and_suspension_close_the_connection() {
    let app = spawn_app().await;
    let (a, b, c) = (app.seller(), app.investor(), app.investor());
    let mut wa = app.connect(&a).await;
    let mut wb = app.connect(&b).await;
    let mut wc = app.connect(&c).await;
    app.wait_connections(3).await;

    // a logs out: auth blacklists the token's id.
    let claims = app.state.verifier.decode(&a.token).unwrap();
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
    assert_eq!(closed_with(&mut wa).await, 4001);

    // b is suspended: tokens issued before now are revoked.
    let _: () = app
        .redis
        .set(
            app.keys.revoked_before(b.id),
            app.clock.now().timestamp_millis(),
            None,
            None,
            false,
        )
        .await
        .unwrap();
    assert_eq!(closed_with(&mut wb).await, 4001);

    // c is untouched and still served.
    app.wait_connections(1).await;
    app.deliver(&app.kyc_approved(c.id)).await;
    assert_eq!(next_frame(&mut wc).await["type"], "notification");

    // c's token expires (by the service's clock): 4002, take a new ticket.
    app.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(closed_with(&mut wc).await, 4002);
    app.wait_connections(0).await;
}

#[tokio::test]
async fn a_user_registered_event_tells_the_new_user() {
    let app = spawn_app().await;
    let user = app.investor();
    let mut ws = app.connect(&user).await;
    app.deliver(&app.event(
        Service::Auth,
        "user.registered",
        json!({"user_id": user.id, "email": "ada@example.com", "role": "investor", "full_name": "Ada"}),
    ))
    .await;
    let f = next_frame(&mut ws).await;
    assert_eq!(f["title"], "Welcome to Vestio");
    assert!(f["body"].as_str().unwrap().contains("Hello Ada"));
}

#[tokio::test]
async fn stopping_says_goodbye_to_every_connection() {
    let app = spawn_app().await;
    let (a, b) = (app.seller(), app.investor());
    let mut wa = app.connect(&a).await;
    let mut wb = app.connect(&b).await;
    app.wait_connections(2).await;
    // As SIGTERM: each connection is closed with 1001 (reconnect and resume), and the
    // server waits for the goodbyes before its workers stop.
    app.running.stop();
    assert_eq!(closed_with(&mut wa).await, 1001);
    assert_eq!(closed_with(&mut wb).await, 1001);
}
