//! Decisions on what was reviewed: an invoice carries a version (JSON and `ETag`), every
//! change bumps it, and an edit (`PATCH`) or an admin's verify or reject names the version
//! it was made on (`If-Match`). A stale or missing version is refused and changes nothing.

use serde_json::{Value, json};
use testkit::api::version_of;
use testkit::assert_problem;

use crate::helpers::{id_of, spawn_app};

#[tokio::test]
async fn an_invoice_shows_its_version_as_etag_and_every_change_bumps_it() {
    let app = spawn_app().await;
    let seller = app.seller();
    let draft = app.draft(&seller, 1).await;
    assert_eq!(version_of(&draft), 1);
    let id = draft["id"].as_str().unwrap();
    let res = app.get(&format!("/api/invoices/{id}"), &seller.token).await;
    assert_eq!(res.headers()["etag"], "\"1\"");
    let res = app
        .edit(id, &seller.token, &json!({"description": "Cement, April"}))
        .await;
    assert_eq!(res.headers()["etag"], "\"2\"");
    assert_eq!(version_of(&res.json::<Value>().await.unwrap()), 2);
    assert_eq!(version_of(&app.act(id, "submit", &seller.token).await), 3);
    assert_eq!(
        version_of(&app.act(id, "verify", &app.admin().token).await),
        4
    );
}

#[tokio::test]
async fn an_edit_at_a_stale_version_is_412_and_without_if_match_428_and_neither_changes_it() {
    let app = spawn_app().await;
    let seller = app.seller();
    let draft = app.draft(&seller, 1).await;
    let id = draft["id"].as_str().unwrap();
    let path = format!("/api/invoices/{id}");
    let first = app
        .edit(id, &seller.token, &json!({"amount": "2000000.00"}))
        .await;
    assert_eq!(first.status(), 200);
    // A second tab still holding version 1.
    let res = app
        .patch_at(&path, &seller.token, 1, &json!({"amount": "3000000.00"}))
        .await;
    assert_eq!(res.headers()["etag"], "\"2\"");
    let p = assert_problem(res, 412).await;
    assert_eq!(p["current"]["amount"], "2000000.00");
    assert_eq!(p["current"]["version"], 2);
    let res = app
        .patch(&path, &seller.token, &json!({"amount": "3000000.00"}))
        .await;
    assert_problem(res, 428).await;
    let now = app.invoice(id_of(&draft)).await;
    assert_eq!(
        (now["amount"].as_str(), now["version"].as_i64()),
        (Some("2000000.00"), Some(2))
    );
}

#[tokio::test]
async fn an_admin_verifying_what_they_reviewed_before_an_edit_and_resubmission_gets_412() {
    let app = spawn_app().await;
    let (seller, admin) = (app.seller(), app.admin());
    let draft = app.draft(&seller, 1).await;
    let id = draft["id"].as_str().unwrap();
    // Reviewed at submission (the admin's screen holds this version).
    let reviewed = app.act(id, "submit", &seller.token).await;
    app.act(id, "reject", &admin.token).await;
    let res = app
        .edit(id, &seller.token, &json!({"amount": "9000000.00"}))
        .await;
    assert_eq!(res.status(), 200);
    app.act(id, "submit", &seller.token).await;

    for (action, body) in [
        ("verify", json!({})),
        ("reject", json!({"reason": "Not what I saw."})),
    ] {
        let res = app
            .post_at(
                &format!("/api/invoices/{id}/{action}"),
                &admin.token,
                version_of(&reviewed),
                &body,
            )
            .await;
        let p = assert_problem(res, 412).await;
        assert_eq!(p["current"]["amount"], "9000000.00", "{p}");
        assert_eq!(p["current"]["status"], "submitted");
        let res = app
            .post(&format!("/api/invoices/{id}/{action}"), &admin.token, &body)
            .await;
        assert_problem(res, 428).await;
    }
    let now = app.invoice(id_of(&draft)).await;
    assert_eq!(now["status"], "submitted");
    // One history row per change that happened, none for the refused decisions.
    assert_eq!(app.history(id_of(&draft)).await.len(), 4);
    // At the version shown now, the admin verifies what is there now.
    let res = app
        .post_at(
            &format!("/api/invoices/{id}/verify"),
            &admin.token,
            version_of(&now),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
}
