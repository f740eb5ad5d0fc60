//! A suspended user (tokens issued before the suspension) and a logged-out token
//! (blacklisted) are refused on every invoice lifecycle route, the seller's and the
//! admin's, and change nothing.

use serde_json::json;
use testkit::api::{User, blacklist, suspend};
use testkit::assert_problem;

use crate::helpers::{TestApp, id_of, invoice_body, spawn_app};

async fn revoke(app: &TestApp, how: &str, user: &User) {
    match how {
        "suspended" => suspend(&app.redis, &app.keys, user).await,
        _ => blacklist(&app.redis, &app.keys, user).await,
    }
}

#[tokio::test]
async fn suspended_users_and_blacklisted_tokens_get_401_on_every_lifecycle_route_and_change_nothing()
 {
    let app = spawn_app().await;
    for how in ["suspended", "blacklisted"] {
        let (seller, admin) = (app.seller(), app.admin());
        let draft = app.draft(&seller, 1).await;
        let submitted = app.draft(&seller, 2).await;
        let (d, s) = (id_of(&draft), id_of(&submitted));
        app.act(&s.to_string(), "submit", &seller.token).await;
        let before = (app.invoice(d).await, app.invoice(s).await);
        revoke(&app, how, &seller).await;
        revoke(&app, how, &admin).await;

        let reason = json!({"reason": "Not readable."});
        let calls = [
            ("POST", "/api/invoices".to_owned(), &seller, invoice_body(3)),
            (
                "PATCH",
                format!("/api/invoices/{d}"),
                &seller,
                json!({"description": "x"}),
            ),
            (
                "POST",
                format!("/api/invoices/{d}/submit"),
                &seller,
                json!({}),
            ),
            (
                "POST",
                format!("/api/invoices/{d}/cancel"),
                &seller,
                json!({}),
            ),
            (
                "POST",
                format!("/api/invoices/{s}/verify"),
                &admin,
                json!({}),
            ),
            ("POST", format!("/api/invoices/{s}/reject"), &admin, reason),
        ];
        for (method, path, user, body) in &calls {
            let version = if path.contains(&s.to_string()) { 2 } else { 1 };
            let res = app
                .client
                .request(method.parse().unwrap(), app.url(path))
                .bearer_auth(&user.token)
                .header("if-match", format!("\"{version}\""))
                .json(body)
                .send()
                .await
                .unwrap();
            let p = assert_problem(res, 401).await;
            assert!(
                p["detail"].as_str().unwrap().contains("revoked"),
                "{how} {method} {path}: {p}"
            );
        }
        assert_eq!(
            (app.invoice(d).await, app.invoice(s).await),
            before,
            "{how}"
        );
        let mine = app.search("", &app.admin().token).await;
        let numbers = crate::helpers::numbers(&mine);
        assert!(
            !numbers.iter().any(|n| n.ends_with("0003")),
            "{how}: {numbers:?}"
        );
    }
}
