use serde_json::{Value, json};

use crate::helpers::{assert_problem, invoice_body, spawn_app};

#[tokio::test]
async fn a_draft_is_submitted_verified_and_listed_with_every_change_in_the_history() {
    let app = spawn_app().await;
    let seller = app.seller();
    let draft = app.draft(&seller, 1).await;
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["amount"], "1500000.00");
    assert_eq!(draft["currency"], "NGN");
    let id = draft["id"].as_str().unwrap();
    assert_eq!(
        app.act(id, "submit", &seller.token).await["status"],
        "submitted"
    );
    let admin = app.admin();
    assert_eq!(
        app.act(id, "verify", &admin.token).await["status"],
        "listed"
    );

    let res = app
        .get(&format!("/api/invoices/{id}/history"), &seller.token)
        .await;
    assert_eq!(res.status(), 200);
    let history: Vec<Value> = res.json().await.unwrap();
    let steps: Vec<(Value, Value, Value)> = history
        .iter()
        .map(|h| (h["from"].clone(), h["to"].clone(), h["actor"].clone()))
        .collect();
    assert_eq!(
        steps,
        vec![
            (Value::Null, json!("draft"), json!("seller")),
            (json!("draft"), json!("submitted"), json!("seller")),
            (json!("submitted"), json!("listed"), json!("admin")),
        ]
    );
    assert_eq!(history[2]["actor_id"], admin.id.to_string());
}

#[tokio::test]
async fn a_rejected_invoice_carries_the_reason_can_be_edited_and_resubmitted() {
    let app = spawn_app().await;
    let seller = app.seller();
    let id = app.draft(&seller, 2).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.act(&id, "submit", &seller.token).await;
    let admin = app.admin();
    let res = app
        .post(
            &format!("/api/invoices/{id}/reject"),
            &admin.token,
            &json!({"reason": ""}),
        )
        .await;
    assert_problem(res, 422).await;
    let rejected = app.act(&id, "reject", &admin.token).await;
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(
        rejected["rejection_reason"],
        "The debtor's tax id does not match."
    );

    let res = app
        .edit(
            &id,
            &seller.token,
            &json!({"debtor": {"name": "Dangote", "tax_id": "12345678-0001"}}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let edited: Value = res.json().await.unwrap();
    assert_eq!(edited["debtor"]["tax_id"], "12345678-0001");
    assert_eq!(edited["amount"], "1500000.00", "untouched fields stay");
    let resubmitted = app.act(&id, "submit", &seller.token).await;
    assert_eq!(resubmitted["status"], "submitted");
    assert_eq!(resubmitted["rejection_reason"], Value::Null);
}

#[tokio::test]
async fn transitions_the_machine_does_not_list_are_409_naming_the_current_state() {
    let app = spawn_app().await;
    let seller = app.seller();
    let admin = app.admin();
    let listed = app.listed(&seller, 3).await;
    let id = listed["id"].as_str().unwrap();
    for (action, token) in [
        ("submit", &seller.token),
        ("verify", &admin.token),
        ("reject", &admin.token),
    ] {
        let res = app
            .post_at(
                &format!("/api/invoices/{id}/{action}"),
                token,
                testkit::api::version_of(&listed),
                &json!({"reason": "Not needed here."}),
            )
            .await;
        let body = assert_problem(res, 409).await;
        assert!(
            body["detail"].as_str().unwrap().contains("listed"),
            "{body}"
        );
    }
    let res = app
        .edit(id, &seller.token, &json!({"amount": "1.00"}))
        .await;
    let body = assert_problem(res, 409).await;
    assert!(body["detail"].as_str().unwrap().contains("listed"));
    assert_eq!(
        app.act(id, "cancel", &seller.token).await["status"],
        "cancelled"
    );
    let res = app
        .post(
            &format!("/api/invoices/{id}/cancel"),
            &seller.token,
            &json!({}),
        )
        .await;
    let body = assert_problem(res, 409).await;
    assert!(body["detail"].as_str().unwrap().contains("cancelled"));
}

#[tokio::test]
async fn bad_fields_are_422_naming_each_and_nothing_is_created() {
    let app = spawn_app().await;
    let seller = app.seller();
    let mut body = invoice_body(4);
    body["amount"] = json!("1500000.005");
    body["currency"] = json!("XYZ");
    body["due_date"] = json!("yesterday");
    let res = app.post("/api/invoices", &seller.token, &body).await;
    let problem = assert_problem(res, 422).await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"currency") && fields.contains(&"due_date"),
        "{problem}"
    );
    for (field, value) in [
        ("amount", json!("0")),
        ("amount", json!("-10.00")),
        ("amount", json!(1500)),
        ("unknown", json!(1)),
    ] {
        let mut body = invoice_body(4);
        body[field] = value;
        let res = app.post("/api/invoices", &seller.token, &body).await;
        assert_problem(res, 422).await;
    }
    let res = app
        .client
        .post(app.url("/api/invoices"))
        .bearer_auth(&seller.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_problem(res, 400).await;
    assert_eq!(app.search("", &seller.token).await["total"], 0);
}

#[tokio::test]
async fn an_invoice_number_is_unique_per_seller_only() {
    let app = spawn_app().await;
    let seller = app.seller();
    app.draft(&seller, 5).await;
    let res = app
        .post("/api/invoices", &seller.token, &invoice_body(5))
        .await;
    assert_problem(res, 409).await;
    app.draft(&app.seller(), 5).await;
}

#[tokio::test]
async fn submitting_needs_a_due_date_far_enough_ahead() {
    let app = spawn_app().await;
    let seller = app.seller();
    let mut body = invoice_body(6);
    body["due_date"] = json!((chrono::Utc::now().date_naive() + chrono::Days::new(3)).to_string());
    let res = app.post("/api/invoices", &seller.token, &body).await;
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .post(
            &format!("/api/invoices/{id}/submit"),
            &seller.token,
            &json!({}),
        )
        .await;
    let problem = assert_problem(res, 422).await;
    assert_eq!(problem["errors"][0]["field"], "due_date");
}

#[tokio::test]
async fn roles_kyc_and_ownership_are_enforced_on_every_route() {
    let app = spawn_app().await;
    let seller = app.seller();
    let draft = app.draft(&seller, 7).await;
    let id = draft["id"].as_str().unwrap();
    let other = app.seller();
    let investor = app.investor();
    let unapproved = app.user(common::auth::Role::Seller, common::auth::KycStatus::Pending);

    // Another seller: the invoice does not exist for them.
    assert_problem(
        app.get(&format!("/api/invoices/{id}"), &other.token).await,
        404,
    )
    .await;
    assert_problem(
        app.edit(id, &other.token, &json!({"amount": "1.00"})).await,
        404,
    )
    .await;
    assert_problem(
        app.post(
            &format!("/api/invoices/{id}/submit"),
            &other.token,
            &json!({}),
        )
        .await,
        404,
    )
    .await;
    assert_problem(
        app.post(
            &format!("/api/invoices/{id}/cancel"),
            &other.token,
            &json!({}),
        )
        .await,
        404,
    )
    .await;
    assert_problem(
        app.get(&format!("/api/invoices/{id}/history"), &other.token)
            .await,
        404,
    )
    .await;
    // Investors do not see drafts.
    assert_problem(
        app.get(&format!("/api/invoices/{id}"), &investor.token)
            .await,
        404,
    )
    .await;
    // Only sellers with approved KYC create; only admins verify.
    assert_problem(
        app.post("/api/invoices", &unapproved.token, &invoice_body(8))
            .await,
        403,
    )
    .await;
    assert_problem(
        app.post("/api/invoices", &investor.token, &invoice_body(8))
            .await,
        403,
    )
    .await;
    app.act(id, "submit", &seller.token).await;
    assert_problem(
        app.post(
            &format!("/api/invoices/{id}/verify"),
            &seller.token,
            &json!({}),
        )
        .await,
        403,
    )
    .await;
    assert_problem(
        app.post(
            &format!("/api/invoices/{id}/verify"),
            &investor.token,
            &json!({}),
        )
        .await,
        403,
    )
    .await;
    assert_problem(app.get("/api/invoices", "forged.token.here").await, 401).await;
    let unknown = uuid::Uuid::now_v7();
    assert_problem(
        app.post(
            &format!("/api/invoices/{unknown}/verify"),
            &app.admin().token,
            &json!({}),
        )
        .await,
        404,
    )
    .await;
    // Nothing changed.
    assert_eq!(
        app.get(&format!("/api/invoices/{id}"), &seller.token)
            .await
            .json::<Value>()
            .await
            .unwrap()["status"],
        "submitted"
    );
    // Once listed, investors see it.
    app.act(id, "verify", &app.admin().token).await;
    assert_eq!(
        app.get(&format!("/api/invoices/{id}"), &investor.token)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn only_admins_may_reject_an_invoice_and_a_refused_rejection_changes_nothing() {
    let app = spawn_app().await;
    let seller = app.seller();
    let draft = app.draft(&seller, 9).await;
    let id = draft["id"].as_str().unwrap();
    let submitted = app.act(id, "submit", &seller.token).await;
    let body = json!({"reason": "Looks wrong to me."});
    for token in [&seller.token, &app.seller().token, &app.investor().token] {
        let res = app
            .post_at(
                &format!("/api/invoices/{id}/reject"),
                token,
                testkit::api::version_of(&submitted),
                &body,
            )
            .await;
        assert_problem(res, 403).await;
    }
    let now = app.invoice(crate::helpers::id_of(&draft)).await;
    assert_eq!(now["status"], "submitted");
    assert_eq!(now["version"], submitted["version"]);
}
