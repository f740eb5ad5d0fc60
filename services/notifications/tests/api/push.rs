//! Push devices and the push worker (HTTP provider against a wiremock stand-in).

use std::collections::BTreeSet;
use std::time::Duration;

use common::events::Service;
use common::keys::QueueName;
use fred::prelude::SetsInterface;
use notifications::jobs::push::{HttpProvider, Provider};
use secrecy::SecretString;
use serde_json::{Value, json};
use testkit::{DbKind, assert_problem};
use uuid::Uuid;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::helpers::{DEADLINE, TestApp, User, spawn_app, spawn_app_full, spawn_app_with};

const DEVICES: &str = "/api/notifications/devices";

/// A token like a provider's: long, and unique.
fn new_token() -> String {
    format!("fcm:{}-{}", Uuid::now_v7().simple(), "x".repeat(100))
}

fn tail(token: &str) -> String {
    token[token.len() - 6..].to_owned()
}

/// Registers `token` for `user`: the status and the body.
async fn register(app: &TestApp, user: &User, platform: &str, token: &str) -> (u16, Value) {
    let res = app
        .post(
            DEVICES,
            &user.token,
            &json!({"platform": platform, "token": token}),
        )
        .await;
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    if token.chars().count() > 16 {
        assert!(
            !text.contains(token),
            "the full token is in the answer: {text}"
        );
    }
    (status, serde_json::from_str(&text).unwrap())
}

/// Registers a new device for `user`, asserting 201; its id.
async fn device(app: &TestApp, user: &User, token: &str) -> String {
    let (status, v) = register(app, user, "android", token).await;
    assert_eq!(status, 201, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

/// `user`'s devices, asserting 200.
async fn devices(app: &TestApp, user: &User) -> Vec<Value> {
    let res = app.get(DEVICES, &user.token).await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    for d in v.as_array().unwrap() {
        assert!(d.get("token").is_none(), "{d}");
    }
    v.as_array().unwrap().clone()
}

fn ids(devices: &[Value]) -> Vec<String> {
    devices
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn delete(app: &TestApp, user: &User, id: &str) -> reqwest::Response {
    app.client
        .delete(app.url(&format!("{DEVICES}/{id}")))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap()
}

/// The HTTP provider sending to `server`'s `/v1/send` with bearer `k`.
fn http_provider(server: &MockServer, timeout: Duration) -> std::sync::Arc<dyn Provider> {
    std::sync::Arc::new(
        HttpProvider::new(
            &format!("{}/v1/send", server.uri()),
            Some(SecretString::from("k")),
            timeout,
        )
        .unwrap(),
    )
}

/// The service with the HTTP provider against `server`, on PostgreSQL.
/// A stand-in provider that answers every send with `answer`.
async fn provider_answering(answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/send"))
        .respond_with(answer)
        .mount(&server)
        .await;
    server
}

async fn spawn_pushing(
    server: &MockServer,
    tweak: impl FnOnce(&mut notifications::NotificationsConfig),
) -> TestApp {
    spawn_app_full(
        DbKind::Postgres,
        tweak,
        http_provider(server, Duration::from_secs(2)),
    )
    .await
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

/// Waits until `server` has received `n` requests (failing on more); returns them.
async fn wait_requests(server: &MockServer, n: usize) -> Vec<Request> {
    testkit::wait_for(DEADLINE, &format!("{n} push requests"), || async {
        let got = requests(server).await;
        assert!(got.len() <= n, "{} push requests, expected {n}", got.len());
        (got.len() == n).then_some(got)
    })
    .await
}

fn body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

/// Whether no job of `queue` is waiting, delayed or in a worker's hands (dead ones aside).
/// Checked in the order a succeeding job moves (queue, then in hand), so a job on its way
/// through is never missed.
async fn idle(app: &TestApp, queue: &QueueName) -> bool {
    if service_kit::queue::len(&app.redis, queue).await.unwrap() > 0
        || service_kit::queue::delayed_len(&app.redis, queue)
            .await
            .unwrap()
            > 0
    {
        return false;
    }
    let workers: Vec<String> = app.redis.smembers(queue.workers()).await.unwrap();
    assert!(!workers.is_empty(), "no worker registered on {queue}");
    for worker in workers {
        if !service_kit::queue::in_flight(&app.redis, queue, &worker)
            .await
            .unwrap()
            .is_empty()
        {
            return false;
        }
    }
    true
}

async fn wait_push_idle(app: &TestApp) {
    let queue = app.keys.push_queue();
    testkit::wait_until(DEADLINE, "the push queue idle", || idle(app, &queue)).await;
}

async fn dead_pushes(app: &TestApp) -> Vec<service_kit::queue::Job> {
    service_kit::queue::dead_letters(&app.redis, &app.keys.push_queue(), 100)
        .await
        .unwrap()
}

/// The one notification `user` gets from an approved KYC, once stored.
async fn kyc_notification(app: &TestApp, user: &User) -> Value {
    app.deliver(&app.kyc_approved(user.id)).await;
    let page = app.wait_for_count(user, 1).await;
    page["items"][0].clone()
}

async fn register_and_delete_are_idempotent_per_token_and_owner(kind: DbKind) {
    let app = spawn_app_with(kind, |_| {}).await;
    let (alice, bob) = (app.investor(), app.seller());
    let token = new_token();
    let (status, first) = register(&app, &alice, "android", &token).await;
    assert_eq!(status, 201, "{first}");
    let id = first["id"].as_str().unwrap().to_owned();
    id.parse::<Uuid>().unwrap();
    assert_eq!(first["platform"], "android");
    assert_eq!(first["token_tail"], tail(&token));
    assert!(first.get("token").is_none(), "{first}");
    // The same token again by the same user is the same device (its platform updated).
    let (status, again) = register(&app, &alice, "android", &token).await;
    assert_eq!((status, &again["id"]), (200, &first["id"]), "{again}");
    let (status, again) = register(&app, &alice, "ios", &token).await;
    assert_eq!((status, &again["id"]), (200, &first["id"]), "{again}");
    assert_eq!(again["platform"], "ios");
    let listed = devices(&app, &alice).await;
    assert_eq!(ids(&listed), vec![id.clone()]);
    assert_eq!(listed[0]["platform"], "ios");
    assert_eq!(listed[0]["token_tail"], tail(&token));
    // Another user registering the token takes the device over.
    let (status, bobs) = register(&app, &bob, "web", &token).await;
    assert_eq!(status, 201, "{bobs}");
    let bobs_id = bobs["id"].as_str().unwrap().to_owned();
    assert_ne!(bobs_id, id);
    assert!(devices(&app, &alice).await.is_empty());
    assert_eq!(ids(&devices(&app, &bob).await), vec![bobs_id.clone()]);
    // Deleting: once 204, then 404; another user's device is a 404 and stays.
    let other = device(&app, &alice, &new_token()).await;
    assert_problem(delete(&app, &bob, &other).await, 404).await;
    assert_problem(delete(&app, &alice, &bobs_id).await, 404).await;
    assert_eq!(ids(&devices(&app, &alice).await), vec![other.clone()]);
    assert_eq!(ids(&devices(&app, &bob).await), vec![bobs_id.clone()]);
    let res = delete(&app, &alice, &other).await;
    assert_eq!(res.status(), 204);
    assert_problem(delete(&app, &alice, &other).await, 404).await;
    assert_problem(delete(&app, &alice, &id).await, 404).await;
    assert_problem(delete(&app, &alice, "not-an-id").await, 404).await;
    assert!(devices(&app, &alice).await.is_empty());
    assert_eq!(ids(&devices(&app, &bob).await), vec![bobs_id]);
}

#[tokio::test]
async fn register_and_delete_device_are_idempotent_on_postgres() {
    register_and_delete_are_idempotent_per_token_and_owner(DbKind::Postgres).await;
}

#[tokio::test]
async fn register_and_delete_device_are_idempotent_on_sqlite() {
    register_and_delete_are_idempotent_per_token_and_owner(DbKind::Sqlite).await;
}

#[tokio::test]
async fn devices_are_listed_to_their_owner_only_newest_first() {
    let app = spawn_app().await;
    let (alice, bob) = (app.investor(), app.seller());
    let a1 = device(&app, &alice, &new_token()).await;
    let b1 = device(&app, &bob, &new_token()).await;
    let a2 = device(&app, &alice, &new_token()).await;
    assert_eq!(ids(&devices(&app, &alice).await), vec![a2, a1]);
    assert_eq!(ids(&devices(&app, &bob).await), vec![b1]);
    assert!(devices(&app, &app.investor()).await.is_empty());
}

#[tokio::test]
async fn a_short_token_is_never_shown_whole() {
    let app = spawn_app().await;
    let user = app.investor();
    for (token, shown) in [("abcd", "cd"), ("a", ""), ("abcdefghijkl", "ghijkl")] {
        let (status, v) = register(&app, &user, "web", token).await;
        assert_eq!(status, 201, "{v}");
        assert_eq!(v["token_tail"], shown, "{token}");
    }
    for d in devices(&app, &user).await {
        let shown = d["token_tail"].as_str().unwrap();
        assert!(!["abcd", "a", "abcdefghijkl"].contains(&shown), "{d}");
    }
}

#[tokio::test]
async fn bad_devices_are_refused_naming_the_field_and_change_nothing() {
    let app = spawn_app().await;
    let user = app.investor();
    let good = new_token();
    for (body, fields) in [
        (
            json!({"platform": "blackberry", "token": good}),
            vec!["platform"],
        ),
        (
            json!({"platform": "Android", "token": good}),
            vec!["platform"],
        ),
        (json!({"platform": 5, "token": good}), vec!["platform"]),
        (json!({"platform": null, "token": good}), vec!["platform"]),
        (json!({"token": good}), vec!["platform"]),
        (json!({"platform": "android", "token": ""}), vec!["token"]),
        (
            json!({"platform": "android", "token": "   "}),
            vec!["token"],
        ),
        (
            json!({"platform": "android", "token": "t".repeat(513)}),
            vec!["token"],
        ),
        (
            json!({"platform": "android", "token": "é".repeat(10)}),
            vec!["token"],
        ),
        (
            json!({"platform": "android", "token": "with space"}),
            vec!["token"],
        ),
        (
            json!({"platform": "android", "token": "a\nb"}),
            vec!["token"],
        ),
        (
            json!({"platform": "android", "token": 12345}),
            vec!["token"],
        ),
        (
            json!({"platform": "android", "token": ["x"]}),
            vec!["token"],
        ),
        (json!({"platform": "android"}), vec!["token"]),
        (
            json!({"platform": "tv", "token": ""}),
            vec!["platform", "token"],
        ),
        (
            json!({"platform": "android", "token": good, "colour": "red"}),
            vec!["colour"],
        ),
    ] {
        let res = app.post(DEVICES, &user.token, &body).await;
        let p = assert_problem(res, 422).await;
        let named: Vec<&str> = p["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("no errors in {p}"))
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(named, fields, "{body}");
        for f in &fields {
            assert!(p["detail"].as_str().unwrap().contains(f), "{p}");
        }
    }
    // Not an object: 422; malformed JSON: 400; not JSON at all: 415.
    let res = app.post(DEVICES, &user.token, &json!(["android"])).await;
    assert_problem(res, 422).await;
    for raw in [r#"{"platform": "android", "token": "#, "{", "nope"] {
        let res = app
            .client
            .post(app.url(DEVICES))
            .bearer_auth(&user.token)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_problem(res, 400).await;
    }
    let res = app
        .client
        .post(app.url(DEVICES))
        .bearer_auth(&user.token)
        .header("content-type", "text/plain")
        .body(json!({"platform": "android", "token": good}).to_string())
        .send()
        .await
        .unwrap();
    assert_problem(res, 415).await;
    assert!(devices(&app, &user).await.is_empty());
    // The boundaries are accepted: 512 characters, the visible ASCII range, every platform.
    for (platform, token) in [
        ("android", "t".repeat(512)),
        ("ios", "!~:_-".repeat(20)),
        ("web", good.clone()),
    ] {
        let (status, v) = register(&app, &user, platform, &token).await;
        assert_eq!(status, 201, "{platform}: {v}");
        assert_eq!(v["platform"], platform);
    }
    assert_eq!(devices(&app, &user).await.len(), 3);
}

#[tokio::test]
async fn a_user_may_register_at_most_max_devices() {
    let app = spawn_app_with(DbKind::Postgres, |c| c.max_devices = 2).await;
    let (alice, bob) = (app.investor(), app.seller());
    let t1 = new_token();
    let d1 = device(&app, &alice, &t1).await;
    let d2 = device(&app, &alice, &new_token()).await;
    let res = app
        .post(
            DEVICES,
            &alice.token,
            &json!({"platform": "ios", "token": new_token()}),
        )
        .await;
    assert_problem(res, 409).await;
    assert_eq!(
        ids(&devices(&app, &alice).await),
        vec![d2.clone(), d1.clone()]
    );
    // Registering one she has again is still fine.
    let (status, v) = register(&app, &alice, "web", &t1).await;
    assert_eq!((status, v["id"].as_str().unwrap()), (200, d1.as_str()));
    // Taking over another user's token counts too, and leaves it with them.
    let bobs_token = new_token();
    let bobs = device(&app, &bob, &bobs_token).await;
    let res = app
        .post(
            DEVICES,
            &alice.token,
            &json!({"platform": "ios", "token": bobs_token}),
        )
        .await;
    assert_problem(res, 409).await;
    assert_eq!(ids(&devices(&app, &bob).await), vec![bobs.clone()]);
    // Once she removes one, she may add one.
    assert_eq!(delete(&app, &alice, &d2).await.status(), 204);
    let (status, v) = register(&app, &alice, "ios", &bobs_token).await;
    assert_eq!(status, 201, "{v}");
    assert!(devices(&app, &bob).await.is_empty());
    assert_eq!(devices(&app, &alice).await.len(), 2);
}

#[tokio::test]
async fn a_notification_is_pushed_to_its_users_device_through_the_http_provider() {
    let server =
        provider_answering(ResponseTemplate::new(200).set_body_json(json!({"name": "m/1"}))).await;
    let app = spawn_pushing(&server, |_| {}).await;
    let (alice, bob) = (app.investor(), app.seller());
    let token = new_token();
    device(&app, &alice, &token).await;
    device(&app, &bob, &new_token()).await; // not alice's: gets nothing
    let n = kyc_notification(&app, &alice).await;
    let got = wait_requests(&server, 1).await;
    wait_push_idle(&app).await;
    assert_eq!(requests(&server).await.len(), 1);
    let request = &got[0];
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/v1/send");
    assert_eq!(request.headers["authorization"], "Bearer k");
    assert!(
        request.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body = body(request);
    let message = &body["message"];
    assert_eq!(message["token"], token.as_str(), "{body}");
    assert_eq!(message["notification"]["title"], n["title"], "{body}");
    assert_eq!(message["notification"]["title"], "KYC approved", "{body}");
    assert_eq!(message["notification"]["body"], n["body"], "{body}");
    assert_eq!(message["data"]["notification_id"], n["id"], "{body}");
    assert_eq!(message["data"]["kind"], "kyc.approved", "{body}");
    // FCM's data takes strings only.
    for (k, v) in message["data"].as_object().unwrap() {
        assert!(v.is_string(), "data.{k} = {v}");
    }
    assert!(dead_pushes(&app).await.is_empty());
}

#[tokio::test]
async fn each_device_of_the_user_gets_the_push() {
    let server = provider_answering(ResponseTemplate::new(200)).await;
    let app = spawn_pushing(&server, |_| {}).await;
    let alice = app.investor();
    let tokens: BTreeSet<String> = (0..3).map(|_| new_token()).collect();
    for t in &tokens {
        device(&app, &alice, t).await;
    }
    let n = kyc_notification(&app, &alice).await;
    let got = wait_requests(&server, 3).await;
    wait_push_idle(&app).await;
    assert_eq!(requests(&server).await.len(), 3);
    let sent: BTreeSet<String> = got
        .iter()
        .map(|r| body(r)["message"]["token"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sent, tokens);
    for r in &got {
        assert_eq!(body(r)["message"]["data"]["notification_id"], n["id"]);
    }
}

#[tokio::test]
async fn a_push_the_provider_fails_is_retried_until_it_succeeds() {
    let server = MockServer::start().await;
    // The first matching mock still answering wins: two 503s, then 200s.
    Mock::given(method("POST"))
        .and(path("/v1/send"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/send"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let app = spawn_pushing(&server, |_| {}).await;
    let alice = app.investor();
    let token = new_token();
    let id = device(&app, &alice, &token).await;
    let n = kyc_notification(&app, &alice).await;
    let got = wait_requests(&server, 3).await;
    wait_push_idle(&app).await;
    assert_eq!(requests(&server).await.len(), 3);
    for r in &got {
        let body = body(r);
        assert_eq!(body["message"]["token"], token.as_str());
        assert_eq!(body["message"]["data"]["notification_id"], n["id"]);
    }
    assert!(dead_pushes(&app).await.is_empty());
    assert_eq!(ids(&devices(&app, &alice).await), vec![id]);
}

#[tokio::test]
async fn a_token_the_provider_calls_unregistered_removes_its_device_without_retry() {
    let server = MockServer::start().await;
    let (gone, kept) = (new_token(), new_token());
    Mock::given(method("POST"))
        .and(path("/v1/send"))
        .and(body_partial_json(json!({"message": {"token": gone}})))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(
                json!({"error": {"code": 404, "message": "Requested entity was not found.", "status": "UNREGISTERED"}}),
            ),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/send"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let app = spawn_pushing(&server, |_| {}).await;
    let alice = app.investor();
    device(&app, &alice, &gone).await;
    let kept_id = device(&app, &alice, &kept).await;
    kyc_notification(&app, &alice).await;
    testkit::wait_until(DEADLINE, "the unregistered device removed", || async {
        devices(&app, &alice).await.len() == 1
    })
    .await;
    assert_eq!(ids(&devices(&app, &alice).await), vec![kept_id]);
    wait_requests(&server, 2).await;
    wait_push_idle(&app).await;
    let got = requests(&server).await;
    assert_eq!(got.len(), 2, "retried");
    let sent: BTreeSet<String> = got
        .iter()
        .map(|r| body(r)["message"]["token"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sent, BTreeSet::from([gone, kept]));
    assert!(dead_pushes(&app).await.is_empty());
}

#[tokio::test]
async fn a_refusal_that_says_nothing_of_the_token_keeps_the_device_and_is_not_retried() {
    // A bare 404 (a wrong URL, say) or a 400, even FCM's INVALID_ARGUMENT (also said of a
    // payload too large), is the push's problem, not the device's.
    let invalid_argument = r#"{"error":{"status":"INVALID_ARGUMENT"}}"#;
    for (status, answer) in [
        (404, "no such route"),
        (400, "bad"),
        (400, invalid_argument),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_string(answer))
            .mount(&server)
            .await;
        let app = spawn_pushing(&server, |_| {}).await;
        let alice = app.investor();
        let id = device(&app, &alice, &new_token()).await;
        kyc_notification(&app, &alice).await;
        wait_requests(&server, 1).await;
        wait_push_idle(&app).await;
        assert_eq!(requests(&server).await.len(), 1, "{status} retried");
        assert!(dead_pushes(&app).await.is_empty(), "{status}");
        assert_eq!(ids(&devices(&app, &alice).await), vec![id], "{status}");
    }
}

#[tokio::test]
async fn a_push_failing_every_time_is_dead_lettered_after_max_attempts() {
    // A server error, and the provider refusing our credentials (FCM's OAuth tokens
    // expire): retried, then dead-lettered where an operator sees them.
    for status in [500u16, 401] {
        dead_lettered_after_max_attempts(status).await;
    }
}

async fn dead_lettered_after_max_attempts(status: u16) {
    let server = provider_answering(ResponseTemplate::new(status)).await;
    let app = spawn_pushing(&server, |c| c.push_max_attempts = 2).await;
    let alice = app.investor();
    let id = device(&app, &alice, &new_token()).await;
    let n = kyc_notification(&app, &alice).await;
    let dead = testkit::wait_for(DEADLINE, "a dead-lettered push", || async {
        let dead = dead_pushes(&app).await;
        (!dead.is_empty()).then_some(dead)
    })
    .await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 2);
    assert_eq!(
        dead[0].payload,
        json!({"notification_id": n["id"], "device_id": id})
    );
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains(&status.to_string()),
        "{:?}",
        dead[0].last_error
    );
    assert_eq!(requests(&server).await.len(), 2);
    assert!(idle(&app, &app.keys.push_queue()).await);
    // The device stays: the provider never said the token was bad.
    assert_eq!(ids(&devices(&app, &alice).await), vec![id]);
}

#[tokio::test]
async fn a_user_without_devices_gets_no_push_job() {
    // The provider holds each push long, so the worker is busy with alice's and any job
    // queued meanwhile stays visible on the queue.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .mount(&server)
        .await;
    let app = spawn_app_full(
        DbKind::Postgres,
        |_| {},
        http_provider(&server, Duration::from_secs(120)),
    )
    .await;
    let (alice, bob, carol) = (app.investor(), app.seller(), app.investor());
    device(&app, &alice, &new_token()).await;
    let carols = device(&app, &carol, &new_token()).await;
    kyc_notification(&app, &alice).await;
    wait_requests(&server, 1).await;
    // Bob has no device: his notification is stored and delivered, and queues nothing.
    kyc_notification(&app, &bob).await;
    let events = app.keys.events(Service::Notifications);
    testkit::wait_until(DEADLINE, "the event consumer idle", || idle(&app, &events)).await;
    let queue = app.keys.push_queue();
    assert_eq!(
        service_kit::queue::len(&app.redis, &queue).await.unwrap(),
        0
    );
    assert_eq!(
        service_kit::queue::delayed_len(&app.redis, &queue)
            .await
            .unwrap(),
        0
    );
    assert!(dead_pushes(&app).await.is_empty());
    // Whereas carol's device gets its job, seen waiting the same way.
    let n = kyc_notification(&app, &carol).await;
    testkit::wait_until(DEADLINE, "carol's push job queued", || async {
        service_kit::queue::len(&app.redis, &queue).await.unwrap() == 1
    })
    .await;
    let raw: Vec<String> = fred::prelude::ListInterface::lrange(&app.redis, queue.as_str(), 0, -1)
        .await
        .unwrap();
    let job = service_kit::queue::Job::parse(&queue, &raw[0]).unwrap();
    assert_eq!(
        job.payload,
        json!({"notification_id": n["id"], "device_id": carols})
    );
    assert_eq!(requests(&server).await.len(), 1);
}

async fn concurrent_registrations_keep_the_limit(kind: DbKind) {
    let app = spawn_app_with(kind, |c| c.max_devices = 3).await;
    let alice = app.investor();
    let tokens: Vec<String> = (0..40).map(|_| new_token()).collect();
    let statuses = futures::future::join_all(
        tokens
            .iter()
            .map(|t| async { register(&app, &alice, "android", t).await.0 }),
    )
    .await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        37,
        "{statuses:?}"
    );
    assert_eq!(devices(&app, &alice).await.len(), 3);
}

#[tokio::test]
async fn concurrent_registrations_keep_the_device_limit_on_postgres() {
    concurrent_registrations_keep_the_limit(DbKind::Postgres).await;
}

#[tokio::test]
async fn concurrent_registrations_keep_the_device_limit_on_sqlite() {
    concurrent_registrations_keep_the_limit(DbKind::Sqlite).await;
}

use service_kit::inbox::StagedHandler;

/// The service's event handler, but the process "dies" right after each commit: the
/// notifications are stored, none of their effects happen.
struct DiesAfterCommit(notifications::inbound::Effects);

#[async_trait::async_trait]
impl StagedHandler for DiesAfterCommit {
    type Staged = notifications::inbound::Made;

    async fn stage(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        event: &common::events::Envelope,
    ) -> anyhow::Result<Self::Staged> {
        self.0.stage(txn, event).await
    }

    async fn after_commit(&self, _event: &common::events::Envelope, _made: Self::Staged) {}
}

/// Feed entries and live messages of `user`'s notifications.
async fn feed(app: &TestApp, user: &User) -> Vec<String> {
    use fred::prelude::ListInterface;
    app.redis
        .lrange(app.keys.notifications(user.id), 0, -1)
        .await
        .unwrap()
}

async fn sweep(app: &TestApp) -> usize {
    notifications::jobs::effects::run_once(&app.state)
        .await
        .unwrap()
}

async fn effects_done_or_not(kind: DbKind) {
    use service_kit::inbox::consume_staged;
    use service_kit::pubsub::Subscriber;

    let server =
        provider_answering(ResponseTemplate::new(200).set_body_json(json!({"name": "m/1"}))).await;
    let app = spawn_app_full(kind, |_| {}, http_provider(&server, Duration::from_secs(2))).await;
    let user = app.investor();
    device(&app, &user, &new_token()).await;
    let subscriber = Subscriber::connect(&testkit::redis_url()).await.unwrap();
    let channel = app.keys.user_notifications_channel(user.id);
    subscriber.subscribe(&channel).await.unwrap();
    let mut live = subscriber.messages_on([channel]);

    // Stored, then the process dies: no feed, no live copy, no push.
    let dies = DiesAfterCommit(notifications::inbound::Effects::new(&app.state));
    let event = app.kyc_approved(user.id);
    consume_staged(&app.state.db, &dies, &event, &app.state.clock)
        .await
        .unwrap();
    assert_eq!(app.list(&user).await["items"].as_array().unwrap().len(), 1);
    assert!(feed(&app, &user).await.is_empty());
    // Within the grace period the sweep leaves it to its own after-commit step.
    assert_eq!(sweep(&app).await, 0);
    app.clock.advance(
        chrono::Duration::from_std(notifications::jobs::effects::GRACE).unwrap()
            + chrono::Duration::seconds(1),
    );
    assert_eq!(sweep(&app).await, 1);
    assert_eq!(feed(&app, &user).await.len(), 1);
    let message = tokio::time::timeout(DEADLINE, live.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(message.json::<Value>().unwrap()["type"], "notification");
    wait_requests(&server, 1).await;
    assert_eq!(app.unread(&user).await, 1);
    // Done once: the next round has nothing to do.
    assert_eq!(sweep(&app).await, 0);

    // Its effects happened, but the process died before marking them done: the sweep
    // finds it pending and adds nothing (no second feed copy, live message or push).
    app.deliver(&app.kyc_approved(user.id)).await;
    app.wait_for_count(&user, 2).await;
    wait_requests(&server, 2).await;
    let second = tokio::time::timeout(DEADLINE, live.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.json::<Value>().unwrap()["type"], "notification");
    {
        use notifications::store::entity::notification;
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, sea_query::Expr};
        // Its own after-commit step has marked it done.
        testkit::wait_until(
            DEADLINE,
            "the second notification's effects marked done",
            || async {
                notification::Entity::find()
                    .filter(notification::Column::EffectsPending.eq(true))
                    .count(&app.state.db)
                    .await
                    .unwrap()
                    == 0
            },
        )
        .await;
        notification::Entity::update_many()
            .col_expr(notification::Column::EffectsPending, Expr::value(true))
            .exec(&app.state.db)
            .await
            .unwrap();
    }
    app.clock.advance(
        chrono::Duration::from_std(notifications::jobs::effects::GRACE).unwrap()
            + chrono::Duration::seconds(1),
    );
    assert_eq!(sweep(&app).await, 2);
    wait_push_idle(&app).await;
    assert_eq!(feed(&app, &user).await.len(), 2);
    assert_eq!(requests(&server).await.len(), 2);
    assert_eq!(app.unread(&user).await, 2);
    // Nothing was published again: the next message is one sent after the sweep.
    service_kit::pubsub::publish_bytes(
        &app.redis,
        &app.keys.user_notifications_channel(user.id),
        "after",
    )
    .await
    .unwrap();
    let next = tokio::time::timeout(DEADLINE, live.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&next.payload[..], b"after", "a live message sent again");
}

#[tokio::test]
async fn effects_a_dead_process_left_undone_are_done_once_by_the_sweep_on_postgres() {
    effects_done_or_not(DbKind::Postgres).await;
}

#[tokio::test]
async fn effects_a_dead_process_left_undone_are_done_once_by_the_sweep_on_sqlite() {
    effects_done_or_not(DbKind::Sqlite).await;
}
