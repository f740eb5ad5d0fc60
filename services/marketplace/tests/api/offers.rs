//! Making offers: the price to the kobo, one active offer per investor, the offer limit,
//! revising, withdrawing, rejecting, visibility, and bad input named by field.

use common::events::Service;
use marketplace::domain::pricing::Rate;
use serde_json::{Value, json};
use testkit::DbKind;

use crate::helpers::{assert_problem, fields_named, spawn_app, spawn_app_with};

#[tokio::test]
async fn an_offer_is_priced_at_offer_time_to_the_kobo() {
    let app = spawn_app().await;
    let seller = app.seller();
    let invoice = app.listed_in(&seller, 60).await;
    let investor = app.investor();
    let o = app.offer(&investor, &invoice, "18").await;
    // docs/pricing.md example 1: ₦1,500,000.00, 60 days, 18 %, fee 100 bps.
    assert_eq!(o["status"], "pending");
    assert_eq!(o["discount_rate"], "18");
    assert_eq!(o["face_value"], "1500000.00");
    assert_eq!(o["discount"], "44383.56");
    assert_eq!(o["price"], "1455616.44");
    assert_eq!(o["platform_fee"], "15000.00");
    assert_eq!(o["net_proceeds"], "1440616.44");
    assert_eq!(o["investor_return"], "44383.56");
    assert_eq!(o["annualised_yield"], "18.55");
    assert_eq!(o["days_to_maturity"], 60);
    assert_eq!(o["currency"], "NGN");
    assert_eq!(o["investor_id"], investor.id.to_string());
    assert_eq!(o["seller_id"], seller.id.to_string());
    // Expires after the default 72 hours, by the injected clock.
    let expires: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(o["expires_at"].clone()).unwrap();
    assert_eq!(
        expires,
        common::Clock::now(app.clock.as_ref()) + chrono::Duration::hours(72)
    );
    // offer.placed goes to the invoice service (and admin, notifications).
    let placed = app
        .wait_for_event(Service::Invoice, "offer.placed", &o["id"])
        .await;
    assert_eq!(placed.payload["price"], "1455616.44");
    // The listing's summary.
    let l = app.listing(invoice.id).await.unwrap();
    assert_eq!(l["offers"]["active"], 1);
    assert_eq!(l["offers"]["placed"], 1);
    assert_eq!(l["offers"]["best_rate"], "18");
}

#[tokio::test]
async fn a_day_later_the_same_rate_costs_more() {
    let app = spawn_app().await;
    let invoice = app.listed_in(&app.seller(), 60).await;
    app.clock.advance(chrono::Duration::days(1));
    let o = app.offer(&app.investor(), &invoice, "18").await;
    assert_eq!(o["days_to_maturity"], 59);
    // 150 000 000 × 0.18 × 59 / 365 = 4 364 383.56… -> 4 364 384 kobo
    assert_eq!(o["discount"], "43643.84");
    assert_eq!(o["price"], "1456356.16");
}

async fn one_active_offer_per_investor_and_revise_instead(kind: DbKind) {
    let app = spawn_app_with(kind, |_| {}).await;
    let invoice = app.listed(&app.seller()).await;
    let investor = app.investor();
    let o = app.offer(&investor, &invoice, "18").await;
    let res = app
        .post(
            "/api/marketplace/offers",
            &investor.token,
            &json!({"invoice_id": invoice.id, "discount_rate": "17"}),
        )
        .await;
    let p = assert_problem(res, 409).await;
    assert!(p["detail"].as_str().unwrap().contains("PATCH"), "{p}");
    // Revise it instead: priced again.
    let id = o["id"].as_str().unwrap();
    let res = app
        .patch(
            &format!("/api/marketplace/offers/{id}"),
            &investor.token,
            &json!({"discount_rate": "12.5", "expires_in_hours": 24}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let revised: Value = res.json().await.unwrap();
    assert_eq!(revised["discount_rate"], "12.5");
    // 150 000 000 × 0.125 × 60 / 365 = 3 082 191.78… -> 3 082 192
    assert_eq!(revised["discount"], "30821.92");
    assert_eq!(revised["status"], "pending");
    let changed = app
        .wait_for_event(Service::Notifications, "offer.status_changed", &o["id"])
        .await;
    assert_eq!(changed.payload["change"], "revised");
    assert_eq!(changed.payload["status"], "pending");
    // Once withdrawn, a new offer is allowed.
    let res = app
        .post(
            &format!("/api/marketplace/offers/{id}/withdraw"),
            &investor.token,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "withdrawn");
    let withdrawn = app
        .wait_for_event(Service::Notifications, "offer.withdrawn", &o["id"])
        .await;
    assert_eq!(withdrawn.payload["change"], "withdrawn");
    // Withdrawn is final: a second withdraw or a revise is a 409 naming the status.
    let res = app
        .post(
            &format!("/api/marketplace/offers/{id}/withdraw"),
            &investor.token,
            &json!({}),
        )
        .await;
    let p = assert_problem(res, 409).await;
    assert!(p["detail"].as_str().unwrap().contains("withdrawn"), "{p}");
    app.offer(&investor, &invoice, "17").await;
}

#[tokio::test]
async fn one_active_offer_per_investor_and_revise_instead_on_postgres() {
    one_active_offer_per_investor_and_revise_instead(DbKind::Postgres).await;
}

#[tokio::test]
async fn one_active_offer_per_investor_and_revise_instead_on_sqlite() {
    one_active_offer_per_investor_and_revise_instead(DbKind::Sqlite).await;
}

#[tokio::test]
async fn an_invoice_takes_at_most_the_configured_number_of_active_offers() {
    let app = spawn_app_with(DbKind::Postgres, |c| c.max_active_offers = 2).await;
    let seller = app.seller();
    let invoice = app.listed(&seller).await;
    let first = app.offer(&app.investor(), &invoice, "18").await;
    app.offer(&app.investor(), &invoice, "19").await;
    let res = app
        .post(
            "/api/marketplace/offers",
            &app.investor().token,
            &json!({"invoice_id": invoice.id, "discount_rate": "17"}),
        )
        .await;
    let p = assert_problem(res, 409).await;
    assert!(
        p["detail"].as_str().unwrap().contains("maximum of 2"),
        "{p}"
    );
    // The seller rejects one: room again.
    let id = first["id"].as_str().unwrap();
    let res = app
        .post_at(
            &format!("/api/marketplace/offers/{id}/reject"),
            &seller.token,
            testkit::api::version_of(&first),
            &json!({"reason": "Too expensive for us."}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let rejected: Value = res.json().await.unwrap();
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["reason"], "Too expensive for us.");
    app.offer(&app.investor(), &invoice, "17").await;
}

#[tokio::test]
async fn a_configured_rate_range_bounds_offers() {
    let app = spawn_app_with(DbKind::Postgres, |c| {
        c.min_rate = Some(Rate::from_millionths(50_000));
        c.max_rate = Rate::from_millionths(250_000);
    })
    .await;
    let invoice = app.listed(&app.seller()).await;
    for (rate, ok) in [
        ("4.9999", false),
        ("5", true),
        ("25", true),
        ("25.0001", false),
    ] {
        let res = app
            .post(
                "/api/marketplace/offers",
                &app.investor().token,
                &json!({"invoice_id": invoice.id, "discount_rate": rate}),
            )
            .await;
        if ok {
            assert_eq!(res.status(), 201, "{rate}");
        } else {
            let p = assert_problem(res, 422).await;
            assert_eq!(fields_named(&p), vec!["discount_rate"], "{rate}");
        }
    }
}

#[tokio::test]
async fn offers_are_seen_by_their_investor_the_invoices_seller_and_admins_only() {
    let app = spawn_app().await;
    let seller = app.seller();
    let invoice = app.listed(&seller).await;
    let (alice, bob) = (app.investor(), app.investor());
    let a = app.offer(&alice, &invoice, "18").await;
    let b = app.offer(&bob, &invoice, "19").await;
    let list = |token: String| {
        let app = &app;
        async move {
            let res = app
                .get(
                    &format!("/api/marketplace/offers?invoice_id={}", invoice.id),
                    &token,
                )
                .await;
            assert_eq!(res.status(), 200);
            let page: Value = res.json().await.unwrap();
            let mut ids: Vec<String> = page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].as_str().unwrap().to_owned())
                .collect();
            ids.sort();
            (ids, page["total"].clone())
        }
    };
    let mut both = vec![
        a["id"].as_str().unwrap().to_owned(),
        b["id"].as_str().unwrap().to_owned(),
    ];
    both.sort();
    assert_eq!(list(seller.token.clone()).await, (both.clone(), json!(2)));
    assert_eq!(list(app.admin().token).await, (both, json!(2)));
    assert_eq!(
        list(alice.token.clone()).await,
        (vec![a["id"].as_str().unwrap().to_owned()], json!(1))
    );
    // Another seller sees none of them, and another's offer is a 404.
    let other = app.seller();
    assert_eq!(list(other.token.clone()).await, (vec![], json!(0)));
    let b_id = b["id"].as_str().unwrap();
    for token in [&other.token, &alice.token] {
        let res = app
            .get(&format!("/api/marketplace/offers/{b_id}"), token)
            .await;
        assert_problem(res, 404).await;
    }
    let res = app
        .get(&format!("/api/marketplace/offers/{b_id}"), &seller.token)
        .await;
    assert_eq!(res.status(), 200);
    // Another seller cannot reject or accept it, and another investor cannot withdraw it.
    for action in ["reject", "accept"] {
        let res = app
            .post(
                &format!("/api/marketplace/offers/{b_id}/{action}"),
                &other.token,
                &json!({}),
            )
            .await;
        assert_problem(res, 404).await;
    }
    let res = app
        .post(
            &format!("/api/marketplace/offers/{b_id}/withdraw"),
            &alice.token,
            &json!({}),
        )
        .await;
    assert_problem(res, 404).await;
    // Filters are checked.
    let res = app
        .get(
            "/api/marketplace/offers?status=nope&per_page=1000",
            &seller.token,
        )
        .await;
    let p = assert_problem(res, 422).await;
    assert_eq!(fields_named(&p), vec!["status", "per_page"]);
    let res = app
        .get("/api/marketplace/offers?colour=red", &seller.token)
        .await;
    assert_problem(res, 422).await;
}

#[tokio::test]
async fn bad_offers_are_refused_naming_the_field_and_change_nothing() {
    let app = spawn_app().await;
    let invoice = app.listed(&app.seller()).await;
    let soon = app.listed_in(&app.seller(), 6).await;
    let investor = app.investor();
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"invoice_id": invoice.id, "discount_rate": "-5"}),
            422,
            "discount_rate",
        ),
        (
            json!({"invoice_id": invoice.id, "discount_rate": "0"}),
            422,
            "discount_rate",
        ),
        (
            json!({"invoice_id": invoice.id, "discount_rate": "60.5"}),
            422,
            "discount_rate",
        ),
        (
            json!({"invoice_id": invoice.id, "discount_rate": "1e9"}),
            422,
            "discount_rate",
        ),
        (
            json!({"invoice_id": invoice.id, "discount_rate": "99999999999999999999999999999999999"}),
            422,
            "discount_rate",
        ),
        (
            json!({"invoice_id": invoice.id, "discount_rate": "18.12345"}),
            422,
            "discount_rate",
        ),
        (
            json!({"invoice_id": invoice.id, "discount_rate": 18.5}),
            422,
            "discount_rate",
        ),
        (
            json!({"invoice_id": soon.id, "discount_rate": "18"}),
            422,
            "invoice_id",
        ),
        (
            json!({"invoice_id": uuid::Uuid::now_v7(), "discount_rate": "18"}),
            422,
            "invoice_id",
        ),
        (
            json!({"invoice_id": "not-a-uuid", "discount_rate": "18"}),
            422,
            "invoice_id",
        ),
        (json!({"invoice_id": invoice.id}), 422, "discount_rate"),
        (
            json!({"invoice_id": invoice.id, "discount_rate": "18", "price": "1.00"}),
            422,
            "price",
        ),
        (
            json!({"invoice_id": invoice.id, "discount_rate": "18", "expires_in_hours": 169}),
            422,
            "expires_in_hours",
        ),
        (
            json!({"invoice_id": invoice.id, "discount_rate": "18", "expires_in_hours": -1}),
            422,
            "expires_in_hours",
        ),
        (
            json!({"invoice_id": invoice.id, "discount_rate": "18", "expires_in_hours": "soon"}),
            422,
            "expires_in_hours",
        ),
    ];
    for (body, status, field) in cases {
        let res = app
            .post("/api/marketplace/offers", &investor.token, &body)
            .await;
        let p = assert_problem(res, status).await;
        assert!(
            fields_named(&p).contains(&field.to_owned()),
            "{body} -> {p} should name {field}"
        );
    }
    // Malformed JSON is a 400.
    let res = app
        .client
        .post(app.url("/api/marketplace/offers"))
        .bearer_auth(&investor.token)
        .header("content-type", "application/json")
        .body("{\"invoice_id\": ")
        .send()
        .await
        .unwrap();
    assert_problem(res, 400).await;
    // A discount that would eat the whole face value: 60 % over 700 days.
    let long = app.listed_in(&app.seller(), 700).await;
    let res = app
        .post(
            "/api/marketplace/offers",
            &investor.token,
            &json!({"invoice_id": long.id, "discount_rate": "60"}),
        )
        .await;
    let p = assert_problem(res, 422).await;
    assert_eq!(fields_named(&p), vec!["discount_rate"]);
    // Nothing was made.
    let res = app.get("/api/marketplace/offers", &investor.token).await;
    let page: Value = res.json().await.unwrap();
    assert_eq!(page["total"], 0);
    // A revise with nothing or with a bad rate is named too.
    let o = app.offer(&investor, &invoice, "18").await;
    let id = o["id"].as_str().unwrap();
    for (body, field) in [
        (json!({}), "discount_rate"),
        (json!({"discount_rate": "abc"}), "discount_rate"),
        (json!({"expires_in_hours": 0}), "expires_in_hours"),
        (json!({"rate": "12"}), "rate"),
    ] {
        let res = app
            .patch(
                &format!("/api/marketplace/offers/{id}"),
                &investor.token,
                &body,
            )
            .await;
        let p = assert_problem(res, 422).await;
        assert_eq!(fields_named(&p), vec![field.to_owned()], "{body}");
    }
    assert_eq!(app.offer_now(&o["id"]).await["discount_rate"], "18");
}
