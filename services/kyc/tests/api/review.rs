use std::collections::HashSet;

use common::auth::Role;
use common::events::Service;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use testkit::DbKind;

use crate::helpers::{TestApp, assert_problem, spawn_app, spawn_app_with};
use testkit::fixtures;

async fn queue_ids(app: &TestApp, token: &str) -> HashSet<String> {
    let res = app
        .get("/api/kyc/submissions?status=in_review", token)
        .await;
    assert_eq!(res.status(), 200);
    let page: Value = res.json().await.unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn submitting_before_every_document_is_accepted_is_409_naming_what_is_missing() {
    let app = spawn_app().await;
    let seller = app.seller();
    app.upload_ok(&seller.token, "government_id", fixtures::png(8, 8, 1))
        .await;
    let res = app
        .post(
            "/api/kyc/submit",
            &seller.token,
            &json!({"full_name": "Ada Obi", "nin": "12345678901"}),
        )
        .await;
    let body = assert_problem(res, 409).await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("business_registration (not uploaded)"),
        "{detail}"
    );
    assert_eq!(app.status(&seller.token).await["status"], "pending");
}

#[tokio::test]
async fn bad_identity_numbers_and_names_are_422_and_change_nothing() {
    let app = spawn_app().await;
    let investor = app.investor();
    app.ready_to_submit(&investor, Role::Investor, 10).await;
    for (body, field) in [
        (json!({"full_name": "Ada Obi", "bvn": "1234"}), "bvn"),
        (json!({"full_name": "Ada Obi", "nin": "1234567890a"}), "nin"),
        (json!({"full_name": "Ada Obi"}), "bvn"),
        (json!({"full_name": "A", "bvn": "22212345678"}), "full_name"),
    ] {
        let res = app.post("/api/kyc/submit", &investor.token, &body).await;
        let problem = assert_problem(res, 422).await;
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let res = app
        .post(
            "/api/kyc/submit",
            &investor.token,
            &json!({"full_name": "Ada Obi", "bvn": "22212345678", "extra": 1}),
        )
        .await;
    assert_problem(res, 422).await;
    assert_eq!(app.status(&investor.token).await["status"], "pending");
}

#[tokio::test]
async fn a_submission_goes_to_review_is_listed_for_admins_and_approval_is_final() {
    let app = spawn_app().await;
    let seller = app.seller();
    app.ready_to_submit(&seller, Role::Seller, 20).await;
    let status = app.status(&seller.token).await;
    assert_eq!(status["can_submit"], true, "{status}");

    let subscriber = service_kit::pubsub::Subscriber::connect(&testkit::redis_url())
        .await
        .unwrap();
    subscriber
        .subscribe(&app.keys.admin_kyc_channel())
        .await
        .unwrap();
    let mut admin_feed = subscriber.messages();

    let id = app.submit_ok(&seller).await;
    let status = app.status(&seller.token).await;
    assert_eq!(status["status"], "in_review");
    assert_eq!(status["submission_id"], id.to_string());
    let live = admin_feed.recv().await.unwrap().json::<Value>().unwrap();
    assert_eq!(live["submission_id"], id.to_string());
    assert_eq!(live["status"], "in_review");

    // Submitting again, or uploading while in review: 409.
    let res = app
        .post(
            "/api/kyc/submit",
            &seller.token,
            &json!({"full_name": "Adaeze Okafor", "bvn": "22212345678"}),
        )
        .await;
    assert_problem(res, 409).await;
    let res = app
        .upload(&seller.token, "government_id", fixtures::png(9, 9, 1))
        .await;
    assert_problem(res, 409).await;

    let admin = app.admin();
    assert!(
        queue_ids(&app, &admin.token)
            .await
            .contains(&id.to_string())
    );
    let res = app
        .get(&format!("/api/kyc/submissions/{id}"), &admin.token)
        .await;
    assert_eq!(res.status(), 200);
    let detail: Value = res.json().await.unwrap();
    assert_eq!(detail["documents"].as_array().unwrap().len(), 3);
    assert_eq!(
        detail["bvn"], "*******5678",
        "only the last four digits: {detail}"
    );
    assert!(!detail.to_string().contains("22212345678"));
    assert_eq!(detail["checks"][0]["check"], "identity_bvn");

    let res = app
        .client
        .post(app.url(&format!("/api/kyc/submissions/{id}/approve")))
        .header("if-match", "\"1\"")
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let decided: Value = res.json().await.unwrap();
    assert_eq!(decided["status"], "approved");
    assert_eq!(decided["reviewed_by"], admin.id.to_string());
    let live = admin_feed.recv().await.unwrap().json::<Value>().unwrap();
    assert_eq!(live["status"], "approved");
    assert_eq!(app.status(&seller.token).await["status"], "approved");
    assert!(
        !queue_ids(&app, &admin.token)
            .await
            .contains(&id.to_string())
    );

    for path in ["approve", "reject"] {
        let res = app
            .post_at(
                &format!("/api/kyc/submissions/{id}/{path}"),
                &admin.token,
                1,
                &json!({"reason": "changed my mind"}),
            )
            .await;
        assert_problem(res, 409).await;
    }

    // The decision went out to auth (the claim), admin and notifications.
    let seller_id = seller.id.to_string();
    wait_for_events(&app, Service::Auth, "kyc.approved on events:auth", 1, |r| {
        r.contains("kyc.approved") && r.contains(&seller_id)
    })
    .await;
}

#[tokio::test]
async fn non_admins_cannot_review_and_unknown_submissions_are_404() {
    let app = spawn_app().await;
    let investor = app.investor();
    app.ready_to_submit(&investor, Role::Investor, 30).await;
    let id = app.submit_ok(&investor).await;
    for token in [&investor.token, &app.seller().token] {
        let res = app.get("/api/kyc/submissions", token).await;
        assert_problem(res, 403).await;
        let res = app.get(&format!("/api/kyc/submissions/{id}"), token).await;
        assert_problem(res, 403).await;
        for action in ["approve", "reject"] {
            let res = app
                .post_at(
                    &format!("/api/kyc/submissions/{id}/{action}"),
                    token,
                    1,
                    &json!({"reason": "Not what I would accept."}),
                )
                .await;
            assert_problem(res, 403).await;
        }
    }
    assert_eq!(app.status(&investor.token).await["status"], "in_review");
    let admin = app.admin();
    let missing = uuid::Uuid::now_v7();
    let res = app
        .post_at(
            &format!("/api/kyc/submissions/{missing}/approve"),
            &admin.token,
            1,
            &json!({}),
        )
        .await;
    assert_problem(res, 404).await;
    let res = app.get("/api/kyc/submissions?limit=0", &admin.token).await;
    assert_problem(res, 422).await;
    let res = app
        .get("/api/kyc/submissions?status=lost", &admin.token)
        .await;
    assert_problem(res, 422).await;
}

#[tokio::test]
async fn a_rejected_user_reads_the_reason_uploads_again_with_priority_and_resubmits() {
    let app = spawn_app().await;
    let investor = app.investor();
    app.ready_to_submit(&investor, Role::Investor, 40).await;
    let first = app.submit_ok(&investor).await;
    let admin = app.admin();
    let path = format!("/api/kyc/submissions/{first}/reject");
    let res = app.post(&path, &admin.token, &json!({"reason": ""})).await;
    assert_problem(res, 422).await;
    let res = app
        .post_at(
            &path,
            &admin.token,
            1,
            &json!({"reason": "The proof of address is older than three months."}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let status = app.status(&investor.token).await;
    assert_eq!(status["status"], "rejected");
    assert_eq!(
        status["rejection_reason"],
        "The proof of address is older than three months."
    );

    // Resubmission without changes is allowed (the documents are still accepted) but here
    // the user replaces the proof of address; the new job goes on the high-priority list.
    let id = app
        .upload_ok(
            &investor.token,
            "proof_of_address",
            fixtures::pdf("new bill"),
        )
        .await;
    let doc = app.processed(&investor.token, id).await;
    assert_eq!(doc["status"], "accepted");
    let stored = kyc::store::entity::document::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.priority, "high");

    let second = app.submit_ok(&investor).await;
    assert_ne!(first, second);
    let res = app
        .get(&format!("/api/kyc/submissions/{second}"), &admin.token)
        .await;
    let detail: Value = res.json().await.unwrap();
    assert!(
        detail["documents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["id"] == id.to_string())
    );
}

#[tokio::test]
async fn downloads_are_attachments_with_nosniff_and_every_one_is_recorded() {
    let app = spawn_app().await;
    let investor = app.investor();
    app.ready_to_submit(&investor, Role::Investor, 50).await;
    let id = app.submit_ok(&investor).await;
    let admin = app.admin();
    let detail: Value = app
        .get(&format!("/api/kyc/submissions/{id}"), &admin.token)
        .await
        .json()
        .await
        .unwrap();
    let doc = &detail["documents"][0];
    let path = doc["download_path"].as_str().unwrap();
    for _ in 0..2 {
        let res = app.get(path, &admin.token).await;
        assert_eq!(res.status(), 200);
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(
            h["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment;")
        );
        assert_eq!(h["content-type"], doc["content_type"].as_str().unwrap());
        let bytes = res.bytes().await.unwrap();
        assert_eq!(bytes.len() as i64, doc["size_bytes"].as_i64().unwrap());
    }
    let recorded = kyc::store::entity::download::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(recorded, 2);
    // Each download is an event for admin's audit log (personal data was read).
    let (doc_id, admin_id) = (doc["id"].as_str().unwrap().to_owned(), admin.id.to_string());
    wait_for_events(
        &app,
        Service::Admin,
        "two kyc.document_downloaded on events:admin",
        2,
        |r| r.contains("kyc.document_downloaded") && r.contains(&doc_id) && r.contains(&admin_id),
    )
    .await;

    // The owner cannot use the admin download; a document outside the submission is 404.
    let res = app.get(path, &investor.token).await;
    assert_problem(res, 403).await;
    let stranger = app.seller();
    let other = app
        .upload_ok(&stranger.token, "government_id", fixtures::png(8, 8, 77))
        .await;
    let res = app
        .get(
            &format!("/api/kyc/submissions/{id}/documents/{other}/file"),
            &admin.token,
        )
        .await;
    assert_problem(res, 404).await;
    assert_eq!(
        kyc::store::entity::download::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        2
    );
}

async fn concurrent_decisions_let_exactly_one_through(kind: DbKind) {
    let app = spawn_app_with(kind, |_| {}).await;
    let investor = app.investor();
    app.ready_to_submit(&investor, Role::Investor, 60).await;
    let id = app.submit_ok(&investor).await;
    let admins: Vec<_> = (0..6).map(|_| app.admin()).collect();
    let results = futures::future::join_all(admins.iter().enumerate().map(|(i, a)| {
        let path = if i % 2 == 0 {
            format!("/api/kyc/submissions/{id}/approve")
        } else {
            format!("/api/kyc/submissions/{id}/reject")
        };
        let app = &app;
        async move {
            app.post_at(
                &path,
                &a.token,
                1,
                &json!({"reason": "Not readable enough."}),
            )
            .await
            .status()
            .as_u16()
        }
    }))
    .await;
    assert_eq!(
        results.iter().filter(|s| **s == 200).count(),
        1,
        "{results:?}"
    );
    assert_eq!(
        results.iter().filter(|s| **s == 409).count(),
        5,
        "{results:?}"
    );
    let events: Vec<service_kit::outbox::entity::Model> =
        service_kit::outbox::entity::Entity::find()
            .all(&app.state.db)
            .await
            .unwrap();
    let decisions = events
        .iter()
        .filter(|e| e.event_type == "kyc.approved" || e.event_type == "kyc.rejected")
        .count();
    assert_eq!(decisions, 1);
}

#[tokio::test]
async fn concurrent_decisions_let_exactly_one_through_on_postgres() {
    concurrent_decisions_let_exactly_one_through(DbKind::Postgres).await;
}

#[tokio::test]
async fn concurrent_decisions_let_exactly_one_through_on_sqlite() {
    concurrent_decisions_let_exactly_one_through(DbKind::Sqlite).await;
}

#[tokio::test]
async fn a_decision_must_name_the_version_reviewed_and_a_refused_one_changes_nothing() {
    let app = spawn_app().await;
    let investor = app.investor();
    app.ready_to_submit(&investor, Role::Investor, 70).await;
    let id = app.submit_ok(&investor).await;
    let admin = app.admin();
    let res = app
        .get(&format!("/api/kyc/submissions/{id}"), &admin.token)
        .await;
    assert_eq!(res.headers()["etag"], "\"1\"");
    let reviewed: Value = res.json().await.unwrap();
    assert_eq!(reviewed["version"], 1);
    for action in ["approve", "reject"] {
        let path = format!("/api/kyc/submissions/{id}/{action}");
        let body = json!({"reason": "Not what I reviewed."});
        // No If-Match: 428.
        let p = assert_problem(app.post(&path, &admin.token, &body).await, 428).await;
        assert!(p["detail"].as_str().unwrap().contains("If-Match"), "{p}");
        // A version it never had: 412 with the submission as it is.
        let res = app.post_at(&path, &admin.token, 7, &body).await;
        assert_eq!(res.headers()["etag"], "\"1\"");
        let p = assert_problem(res, 412).await;
        assert_eq!(p["current"]["version"], 1);
        assert_eq!(p["current"]["status"], "in_review");
        // Not a single strong tag: 400.
        let res = app
            .client
            .post(app.url(&path))
            .bearer_auth(&admin.token)
            .header("if-match", "*")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_problem(res, 400).await;
    }
    assert_eq!(app.status(&investor.token).await["status"], "in_review");
    // At the version reviewed: approved, and the version moves on.
    let res = app
        .post_at(
            &format!("/api/kyc/submissions/{id}/approve"),
            &admin.token,
            1,
            &json!({}),
        )
        .await;
    assert_eq!(res.headers()["etag"], "\"2\"");
    let decided: Value = res.json().await.unwrap();
    assert_eq!(
        (decided["status"].as_str(), decided["version"].as_i64()),
        (Some("approved"), Some(2))
    );
}

/// Waits until `n` jobs on `service`'s event queue match `matches` (the raw job text).
async fn wait_for_events(
    app: &TestApp,
    service: Service,
    what: &str,
    n: usize,
    matches: impl Fn(&str) -> bool,
) {
    let events = app.keys.events(service);
    testkit::wait_until(crate::helpers::DEADLINE, what, || async {
        let raw: Vec<String> =
            fred::prelude::ListInterface::lrange(&app.redis, events.as_str(), 0, -1)
                .await
                .unwrap();
        raw.iter().filter(|r| matches(r)).count() == n
    })
    .await;
}
