//! `GET /api/invoices` refusals: unknown parameters and bad values are 422s naming them.

use chrono::Days;
use serde_json::Value;

use crate::helpers::{assert_problem, fields_named, spawn_app};
use crate::search::today;

#[tokio::test]
async fn unknown_parameters_and_bad_values_are_422_naming_the_field() {
    let app = spawn_app().await;
    let seller = app.seller();
    app.draft(&seller, 1).await;
    let t = &seller.token;
    let today = today();
    let cases: Vec<(String, &str)> = vec![
        ("status=paid".into(), "status"),
        ("status=LISTED".into(), "status"),
        ("currency=XYZ".into(), "currency"),
        ("currency=usd".into(), "currency"),
        ("min_amount=abc".into(), "min_amount"),
        ("min_amount=-5".into(), "min_amount"),
        ("max_amount=1.234".into(), "max_amount"),
        ("min_amount=12345678901234567".into(), "min_amount"),
        ("min_amount=".into(), "min_amount"),
        ("due_after=2027-13-01".into(), "due_after"),
        ("due_after=2027-1-05".into(), "due_after"),
        ("due_before=tomorrow".into(), "due_before"),
        (format!("debtor={}", "a".repeat(101)), "debtor"),
        (format!("q={}", "a".repeat(101)), "q"),
        ("sort=price".into(), "sort"),
        ("sort=--amount".into(), "sort"),
        ("sort=".into(), "sort"),
        ("page=0".into(), "page"),
        ("page=10001".into(), "page"),
        ("per_page=0".into(), "per_page"),
        ("per_page=101".into(), "per_page"),
    ];
    for (query, field) in cases {
        let res = app.get(&format!("/api/invoices?{query}"), t).await;
        let problem = assert_problem(res, 422).await;
        assert_eq!(fields_named(&problem), [field], "{query}: {problem}");
    }
    // Several at once, each named.
    let res = app
        .get("/api/invoices?status=paid&currency=XYZ&per_page=500", t)
        .await;
    let problem = assert_problem(res, 422).await;
    assert_eq!(
        fields_named(&problem),
        ["status", "currency", "per_page"],
        "{problem}"
    );
    // Parameters the search does not know are refused, not ignored; the answer names them.
    for (query, name) in [
        (
            "seller_id=00000000-0000-0000-0000-000000000000",
            "seller_id",
        ),
        ("limit=5", "limit"),
        ("STATUS=listed", "STATUS"),
    ] {
        let res = app.get(&format!("/api/invoices?{query}"), t).await;
        let problem = assert_problem(res, 422).await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("`{name}`")),
            "{query}: {problem}"
        );
    }
    // Nothing was cached for refused queries.
    assert!(app.search_cache_keys().await.is_empty()); // An empty range is a search that finds nothing, not an error.
    for query in [
        "min_amount=10&max_amount=9.99".to_owned(),
        format!("due_after={}&due_before={}", today + Days::new(2), today),
    ] {
        let res = app.get(&format!("/api/invoices?{query}"), t).await;
        assert_eq!(res.status(), 200, "{query}");
        let page: serde_json::Value = res.json().await.unwrap();
        assert_eq!(page["total"], 0, "{query}");
    }
}

#[tokio::test]
async fn a_page_number_that_is_not_a_number_is_422_naming_the_field() {
    let app = spawn_app().await;
    let seller = app.seller();
    for (query, field) in [
        ("page=abc", "page"),
        ("page=-1", "page"),
        ("per_page=ten", "per_page"),
        ("per_page=1.5", "per_page"),
    ] {
        let res = app
            .get(&format!("/api/invoices?{query}"), &seller.token)
            .await;
        let problem: Value = assert_problem(res, 422).await;
        let named = fields_named(&problem) == [field]
            || problem["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("`{field}`"));
        assert!(
            named,
            "{query}: the answer does not name {field}: {problem}"
        );
    }
}

/// Search checks the token's revocation in the same Redis round trip as its cache reads:
/// a cached answer is never a way around logging out or a suspension.
#[tokio::test]
async fn a_revoked_or_forged_token_gets_no_search_results_even_when_they_are_cached() {
    use fred::prelude::KeysInterface;
    let app = spawn_app().await;
    let seller = app.seller();
    app.draft(&seller, 1).await;
    let t = &seller.token;
    app.search_bytes("sort=due_date", t).await;
    app.search_bytes("sort=due_date", t).await; // now a hit

    // Revoked everywhere (logout-all or suspension) after the token was issued.
    let () = app
        .redis
        .set(
            app.keys.revoked_before(seller.id),
            i64::MAX / 2,
            None,
            None,
            false,
        )
        .await
        .unwrap();
    let body = assert_problem(app.get("/api/invoices?sort=due_date", t).await, 401).await;
    assert!(
        body["detail"].as_str().unwrap().contains("revoked"),
        "{body}"
    );

    // A token signed with another key, or not a token at all.
    let other = testkit::TestKeys::publish(
        &app.redis,
        &common::keys::Keys::new(&testkit::unique_prefix()),
    )
    .await;
    let forged = other.token(seller.id, seller.role, seller.kyc);
    for token in [forged.as_str(), "not-a-token"] {
        assert_problem(app.get("/api/invoices?sort=due_date", token).await, 401).await;
    }
    let res = app
        .client
        .get(app.url("/api/invoices"))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401).await;
}
