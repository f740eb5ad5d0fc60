use serde_json::json;
use testkit::DbKind;

use crate::helpers::{PASSWORD, assert_problem, spawn_app, spawn_app_with};

#[tokio::test]
async fn repeated_failed_logins_get_429_with_retry_after_then_recover() {
    let app = spawn_app().await;
    app.register("victim@example.com", "seller").await;
    let wrong = json!({"email": "victim@example.com", "password": "wrong password 9"});
    for _ in 0..5 {
        assert_problem(app.post("/api/auth/login", &wrong).await, 401).await;
    }
    let res = app.post("/api/auth/login", &wrong).await;
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0);
    assert_problem(res, 429).await;
    // Locked out: even the right password is refused, so guessing cannot go on.
    let right = json!({"email": "victim@example.com", "password": PASSWORD});
    assert_problem(app.post("/api/auth/login", &right).await, 429).await;
    // Another email from the same client is not locked.
    app.register("other@example.com", "seller").await;
    app.login("other@example.com").await;
    // After the wait, the right password works again.
    app.clock
        .advance(chrono::Duration::seconds(i64::try_from(retry).unwrap() + 1));
    assert_eq!(app.post("/api/auth/login", &right).await.status(), 200);
}

#[tokio::test]
async fn requests_per_client_are_limited_and_a_forged_forwarded_for_does_not_dodge_it() {
    let app = spawn_app_with(DbKind::Postgres, |c| {
        c.requests_per_ip.burst = 3;
    })
    .await;
    let url = app.url("/api/auth/.well-known/jwks.json");
    for i in 0..3 {
        let res = app
            .client
            .get(&url)
            .header("x-forwarded-for", format!("10.0.0.{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers().contains_key("ratelimit"), "RateLimit header");
    }
    let res = app
        .client
        .get(&url)
        .header("x-forwarded-for", "10.9.9.9")
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("retry-after"));
    assert_problem(res, 429).await;
}

#[tokio::test]
async fn behind_a_trusted_gateway_each_client_has_its_own_budget() {
    let app = spawn_app_with(DbKind::Postgres, |c| {
        c.requests_per_ip.burst = 2;
        c.base.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let url = app.url("/api/auth/.well-known/jwks.json");
    let get = |ip: &'static str| app.client.get(&url).header("x-forwarded-for", ip).send();
    assert_eq!(get("203.0.113.1").await.unwrap().status(), 200);
    assert_eq!(get("203.0.113.1").await.unwrap().status(), 200);
    assert_eq!(get("203.0.113.1").await.unwrap().status(), 429);
    assert_eq!(get("203.0.113.2").await.unwrap().status(), 200);
}

#[tokio::test]
async fn the_limit_holds_across_two_auth_instances() {
    let a = spawn_app_with(DbKind::Postgres, |c| c.requests_per_ip.burst = 2).await;
    // A second instance on the same Redis prefix and database.
    let mut config = a.config.clone();
    config.base.port = 0;
    let b = auth::build(config, a.clock.clone()).await.unwrap();
    let b_url = format!(
        "http://127.0.0.1:{}/api/auth/.well-known/jwks.json",
        b.port()
    );
    let stop = service_kit::shutdown::CancellationToken::new();
    tokio::spawn(b.run_until_stopped(stop.clone()));
    assert_eq!(
        a.client
            .get(a.url("/api/auth/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(a.client.get(&b_url).send().await.unwrap().status(), 200);
    assert_eq!(a.client.get(&b_url).send().await.unwrap().status(), 429);
    stop.cancel();
}
