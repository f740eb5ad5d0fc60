//! A suspended user (tokens issued before the suspension) and a logged-out token
//! (blacklisted) are refused on every KYC route, the user's and the admin's, and change
//! nothing.

use common::auth::Role;
use serde_json::json;
use testkit::api::{User, blacklist, suspend};

use crate::helpers::{TestApp, assert_problem, spawn_app};
use testkit::fixtures;

async fn revoke(app: &TestApp, how: &str, user: &User) {
    match how {
        "suspended" => suspend(&app.redis, &app.keys, user).await,
        _ => blacklist(&app.redis, &app.keys, user).await,
    }
}

async fn refused(res: reqwest::Response, what: &str) {
    let p = assert_problem(res, 401).await;
    assert!(
        p["detail"].as_str().unwrap().contains("revoked"),
        "{what}: {p}"
    );
}

#[tokio::test]
async fn suspended_users_and_blacklisted_tokens_get_401_on_every_kyc_route_and_change_nothing() {
    let app = spawn_app().await;
    for how in ["suspended", "blacklisted"] {
        // One user ready to submit, one submission waiting for review.
        let ready = app.investor();
        app.ready_to_submit(&ready, Role::Investor, 11).await;
        let waiting = app.investor();
        app.ready_to_submit(&waiting, Role::Investor, 12).await;
        let submission = app.submit_ok(&waiting).await;
        let admin = app.admin();
        let before = app.status(&ready.token).await;
        let documents_before = app
            .get("/api/kyc/documents", &ready.token)
            .await
            .text()
            .await
            .unwrap();
        revoke(&app, how, &ready).await;
        revoke(&app, how, &admin).await;

        let t = &ready.token;
        refused(
            app.upload(t, "government_id", fixtures::png(40, 40, 13))
                .await,
            "upload",
        )
        .await;
        refused(app.get("/api/kyc/documents", t).await, "documents").await;
        refused(app.get("/api/kyc/status", t).await, "status").await;
        let body = json!({"full_name": "Adaeze Okafor", "bvn": "22212345678"});
        refused(app.post("/api/kyc/submit", t, &body).await, "submit").await;

        let a = &admin.token;
        refused(app.get("/api/kyc/submissions", a).await, "queue").await;
        let path = format!("/api/kyc/submissions/{submission}");
        refused(app.get(&path, a).await, "detail").await;
        refused(
            app.post_at(&format!("{path}/approve"), a, 1, &json!({}))
                .await,
            "approve",
        )
        .await;
        let reason = json!({"reason": "Blurry ID."});
        refused(
            app.post_at(&format!("{path}/reject"), a, 1, &reason).await,
            "reject",
        )
        .await;

        // Nothing moved: the first user has not submitted nor uploaded, the submission
        // waits. (Reactivated, so that a fresh token may look.)
        let () = fred::prelude::KeysInterface::del(&app.redis, app.keys.revoked_before(ready.id))
            .await
            .unwrap();
        let fresh = app.refreshed(&ready);
        assert_eq!(app.status(&fresh.token).await, before, "{how}");
        let documents = app
            .get("/api/kyc/documents", &fresh.token)
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(documents, documents_before, "{how}");
        assert_eq!(
            app.status(&waiting.token).await["status"],
            "in_review",
            "{how}"
        );
    }
}
