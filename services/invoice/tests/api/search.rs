//! `GET /api/invoices`: filters, text, sort, pages, who sees what, and refusals.

use chrono::{Days, NaiveDate};
use serde_json::json;
use testkit::DbKind;

use crate::helpers::{
    TestApp, User, assert_problem, id_of, invoice_body_with, numbers, spawn_app, spawn_app_with,
};

pub fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

fn in_days(days: u64) -> String {
    (today() + Days::new(days)).to_string()
}

/// One seller's four invoices, created a minute apart (so `created_at` orders them):
///
/// | number | debtor | amount | due in | description | status |
/// | --- | --- | --- | --- | --- | --- |
/// | INV-0001 | Dangote Cement Plc | NGN 1 500 000.00 | 60 d | Cement supplied in October | draft |
/// | INV-0002 | Zenith Foods Ltd | NGN 250 000.00 | 30 d | Rice and beans | submitted |
/// | INV-0003 | Acme_Corp | USD 99.99 | 90 d | 100% cotton shirts | listed |
/// | INV-0004 | AcmeXCorp | USD 5 000.00 | 45 d | Consulting | listed |
async fn four_invoices(app: &TestApp, seller: &User) {
    let rows = [
        (
            1,
            "Dangote Cement Plc",
            "1500000.00",
            "NGN",
            60,
            "Cement supplied in October",
        ),
        (
            2,
            "Zenith Foods Ltd",
            "250000.00",
            "NGN",
            30,
            "Rice and beans",
        ),
        (3, "Acme_Corp", "99.99", "USD", 90, "100% cotton shirts"),
        (4, "AcmeXCorp", "5000.00", "USD", 45, "Consulting"),
    ];
    let admin = app.admin();
    for (n, debtor, amount, currency, due, description) in rows {
        let body = invoice_body_with(
            n,
            json!({
                "debtor": {"name": debtor},
                "amount": amount,
                "currency": currency,
                "due_date": in_days(due),
                "description": description,
            }),
        );
        let id = id_of(&app.draft_from(seller, &body).await).to_string();
        if n >= 2 {
            app.act(&id, "submit", &seller.token).await;
        }
        if n >= 3 {
            app.act(&id, "verify", &admin.token).await;
        }
        app.clock.advance(chrono::Duration::minutes(1));
    }
}

async fn each_filter_narrows_the_results_to_what_it_names(kind: DbKind) {
    let app = spawn_app_with(kind, |_| {}).await;
    let seller = app.seller();
    four_invoices(&app, &seller).await;
    let t = &seller.token;
    // Expected in amount order (the query asks for it).
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            "".into(),
            vec!["INV-0003", "INV-0004", "INV-0002", "INV-0001"],
        ),
        ("status=listed".into(), vec!["INV-0003", "INV-0004"]),
        ("status=draft".into(), vec!["INV-0001"]),
        ("status=funded".into(), vec![]),
        ("currency=USD".into(), vec!["INV-0003", "INV-0004"]),
        ("currency=NGN".into(), vec!["INV-0002", "INV-0001"]),
        // Inclusive bounds, in the currency's major units.
        (
            "min_amount=5000&max_amount=250000".into(),
            vec!["INV-0004", "INV-0002"],
        ),
        ("min_amount=5000.01&max_amount=249999.99".into(), vec![]),
        ("min_amount=1500000".into(), vec!["INV-0001"]),
        ("max_amount=99.99".into(), vec!["INV-0003"]),
        (
            format!("due_after={}&due_before={}", in_days(45), in_days(60)),
            vec!["INV-0004", "INV-0001"],
        ),
        (format!("due_after={}", in_days(61)), vec!["INV-0003"]),
        (format!("due_before={}", in_days(30)), vec!["INV-0002"]),
        // Debtor: a substring, any case.
        ("debtor=DANGOTE".into(), vec!["INV-0001"]),
        ("debtor=cement%20plc".into(), vec!["INV-0001"]),
        ("debtor=acme".into(), vec!["INV-0003", "INV-0004"]),
        ("debtor=october".into(), vec![]),
        // q: every word, in the number, the debtor or the description.
        ("q=inv-0002".into(), vec!["INV-0002"]),
        ("q=ZENITH".into(), vec!["INV-0002"]),
        ("q=cotton".into(), vec!["INV-0003"]),
        ("q=rice%20zenith".into(), vec!["INV-0002"]),
        ("q=rice%20cotton".into(), vec![]),
        ("q=october%20dangote%20inv-0001".into(), vec!["INV-0001"]),
        // Filters combine.
        (
            "status=listed&currency=USD&min_amount=100".into(),
            vec!["INV-0004"],
        ),
        (
            "currency=NGN&q=cement&debtor=dangote&status=draft".into(),
            vec!["INV-0001"],
        ),
    ];
    for (query, expected) in cases {
        let page = app.search(&format!("{query}&sort=amount"), t).await;
        assert_eq!(numbers(&page), expected, "{query}: {page}");
        assert_eq!(page["total"], expected.len(), "{query}");
        assert_eq!(page["page"], 1);
        assert_eq!(page["per_page"], 20);
    }
    // An item is the invoice as GET /{id} shows it.
    let page = app.search("q=inv-0004", t).await;
    let item = &page["items"][0];
    let shown = app.invoice(id_of(item)).await;
    assert_eq!(item, &shown);
    assert_eq!(item["amount"], "5000.00");
    assert_eq!(item["currency"], "USD");
}

#[tokio::test]
async fn each_filter_narrows_the_results_to_what_it_names_on_postgres() {
    each_filter_narrows_the_results_to_what_it_names(DbKind::Postgres).await;
}

#[tokio::test]
async fn each_filter_narrows_the_results_to_what_it_names_on_sqlite() {
    each_filter_narrows_the_results_to_what_it_names(DbKind::Sqlite).await;
}

async fn like_wildcards_in_debtor_and_q_match_only_themselves(kind: DbKind) {
    let app = spawn_app_with(kind, |_| {}).await;
    let seller = app.seller();
    four_invoices(&app, &seller).await;
    let t = &seller.token;
    for (query, expected) in [
        // `_` is one literal underscore, not "any character" (AcmeXCorp).
        ("debtor=acme_corp", vec!["INV-0003"]),
        ("debtor=_", vec!["INV-0003"]),
        ("q=acme_corp", vec!["INV-0003"]),
        // `%` is one literal percent sign, not "anything".
        ("debtor=%25", vec![]),
        ("debtor=acme%25corp", vec![]),
        ("q=100%25", vec!["INV-0003"]),
        ("q=%25", vec!["INV-0003"]),
        ("q=%25%25", vec![]),
        // The escape character itself is literal too.
        ("debtor=%5C", vec![]),
        ("q=%5C%25", vec![]),
    ] {
        assert_eq!(
            app.search_numbers(&format!("{query}&sort=amount"), t).await,
            expected,
            "{query}"
        );
    }
}

#[tokio::test]
async fn like_wildcards_in_debtor_and_q_match_only_themselves_on_postgres() {
    like_wildcards_in_debtor_and_q_match_only_themselves(DbKind::Postgres).await;
}

#[tokio::test]
async fn like_wildcards_in_debtor_and_q_match_only_themselves_on_sqlite() {
    like_wildcards_in_debtor_and_q_match_only_themselves(DbKind::Sqlite).await;
}

#[tokio::test]
async fn results_sort_by_due_date_amount_or_creation_either_way_and_come_in_pages() {
    let app = spawn_app().await;
    let seller = app.seller();
    four_invoices(&app, &seller).await;
    let t = &seller.token;
    for (sort, expected) in [
        ("due_date", ["INV-0002", "INV-0004", "INV-0001", "INV-0003"]),
        (
            "-due_date",
            ["INV-0003", "INV-0001", "INV-0004", "INV-0002"],
        ),
        ("amount", ["INV-0003", "INV-0004", "INV-0002", "INV-0001"]),
        ("-amount", ["INV-0001", "INV-0002", "INV-0004", "INV-0003"]),
        (
            "created_at",
            ["INV-0001", "INV-0002", "INV-0003", "INV-0004"],
        ),
        (
            "-created_at",
            ["INV-0004", "INV-0003", "INV-0002", "INV-0001"],
        ),
    ] {
        assert_eq!(
            app.search_numbers(&format!("sort={sort}"), t).await,
            expected,
            "sort={sort}"
        );
    }
    // Newest first unless told otherwise.
    assert_eq!(
        app.search_numbers("", t).await,
        ["INV-0004", "INV-0003", "INV-0002", "INV-0001"]
    );

    // Pages: total counts every match, each page holds its share in order.
    let mut seen = Vec::new();
    for page in 1..=2 {
        let body = app
            .search(&format!("sort=amount&per_page=3&page={page}"), t)
            .await;
        assert_eq!(body["total"], 4);
        assert_eq!(body["page"], page);
        assert_eq!(body["per_page"], 3);
        seen.extend(numbers(&body));
    }
    assert_eq!(seen, ["INV-0003", "INV-0004", "INV-0002", "INV-0001"]);
    let past = app.search("sort=amount&per_page=3&page=3", t).await;
    assert_eq!(numbers(&past), Vec::<String>::new());
    assert_eq!(past["total"], 4);
    let one = app.search("sort=-amount&per_page=1&page=2", t).await;
    assert_eq!(numbers(&one), ["INV-0002"]);
    assert_eq!(app.search("per_page=100", t).await["per_page"], 100);
}

#[tokio::test]
async fn sellers_see_their_own_invoices_investors_listed_ones_and_admins_all() {
    let app = spawn_app().await;
    let seller = app.seller();
    four_invoices(&app, &seller).await;
    let other = app.seller();
    let body = invoice_body_with(101, json!({"amount": "700000.00"}));
    let theirs = app.draft_from(&other, &body).await;
    let id = id_of(&theirs).to_string();
    app.act(&id, "submit", &other.token).await;
    app.act(&id, "verify", &app.admin().token).await;
    app.draft(&other, 102).await;

    // Equal amounts keep the order of creation (ties broken by id).
    let all = [
        "INV-0003", "INV-0004", "INV-0002", "INV-0101", "INV-0001", "INV-0102",
    ];
    assert_eq!(
        app.search_numbers("sort=amount", &seller.token).await,
        ["INV-0003", "INV-0004", "INV-0002", "INV-0001"]
    );
    assert_eq!(
        app.search_numbers("sort=amount", &other.token).await,
        ["INV-0101", "INV-0102"]
    );
    let investor = app.investor();
    assert_eq!(
        app.search_numbers("sort=amount", &investor.token).await,
        ["INV-0003", "INV-0004", "INV-0101"]
    );
    for status in ["draft", "submitted", "rejected", "cancelled"] {
        let page = app
            .search(&format!("status={status}"), &investor.token)
            .await;
        assert_eq!(page["total"], 0, "investor asking for {status}: {page}");
    }
    let admin = app.admin();
    assert_eq!(app.search_numbers("sort=amount", &admin.token).await, all);
    assert_eq!(
        app.search_numbers("status=draft&sort=amount", &admin.token)
            .await,
        ["INV-0001", "INV-0102"]
    );
    // A seller searching for another's invoice by its number finds nothing.
    assert_eq!(app.search("q=inv-0101", &seller.token).await["total"], 0);
    assert_problem(app.get("/api/invoices", "not.a.token").await, 401).await;
    let res = app
        .client
        .get(app.url("/api/invoices"))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401).await;
}

async fn debtor_and_q_ignore_the_case_of_letters_beyond_ascii(kind: DbKind) {
    let app = spawn_app_with(kind, |_| {}).await;
    let seller = app.seller();
    let body = invoice_body_with(
        1,
        json!({"debtor": {"name": "ÉCOLE Ñandú SARL"}, "description": "Öl und Wasser"}),
    );
    app.draft_from(&seller, &body).await;
    for query in [
        "q=%C3%A9cole",           // école
        "q=%C3%B6l",              // öl
        "q=%C3%96L",              // ÖL
        "debtor=%C3%89COLE",      // ÉCOLE, as stored
        "debtor=%C3%A9cole",      // école
        "debtor=%C3%B1and%C3%BA", // ñandú
    ] {
        assert_eq!(
            app.search_numbers(query, &seller.token).await,
            ["INV-0001"],
            "{kind:?} {query}"
        );
    }
}

#[tokio::test]
async fn debtor_and_q_ignore_the_case_of_letters_beyond_ascii_on_postgres() {
    debtor_and_q_ignore_the_case_of_letters_beyond_ascii(DbKind::Postgres).await;
}

#[tokio::test]
async fn debtor_and_q_ignore_the_case_of_letters_beyond_ascii_on_sqlite() {
    debtor_and_q_ignore_the_case_of_letters_beyond_ascii(DbKind::Sqlite).await;
}
