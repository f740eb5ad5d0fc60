//! The read models through the API: the dashboard moves by exactly what the events did
//! (whatever order they arrive in, however often), series and user statistics count per
//! bucket, user search filters, the review queue follows the events.

use common::Clock;
use common::auth::Role;
use common::events::auth::{UserRegistered, UserStatusChanged};
use common::events::examples;
use common::events::invoice::InvoiceStatus as S;
use common::events::kyc::{KycDecided, KycSubmitted};
use common::events::marketplace::{OfferChange, OfferStatus};
use common::events::payments::{PaymentKind, PaymentStatus};
use common::events::{
    AuthEvent, Envelope, Event, InvoiceEvent, KycEvent, OfferEvent, PaymentEvent,
};
use common::ids::{InvoiceId, OfferId, SubmissionId, UserId};
use serde_json::{Value, json};
use testkit::DbKind;
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app};

fn user(id: Uuid, role: Role, name: &str) -> Event {
    AuthEvent::UserRegistered(UserRegistered {
        user_id: UserId(id),
        email: format!("{}@example.com", name.to_lowercase().replace(' ', ".")),
        role,
        full_name: name.into(),
    })
    .into()
}

/// Envelopes of `events`, one second apart (their `occurred_at` orders them).
fn story(app: &TestApp, events: Vec<Event>) -> Vec<Envelope> {
    events
        .into_iter()
        .map(|e| {
            app.api.clock.advance(chrono::Duration::seconds(1));
            app.envelope(e)
        })
        .collect()
}

async fn get(app: &TestApp, path: &str) -> Value {
    let r = app.get(path, &app.admin.token).await;
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

struct Story {
    envelopes: Vec<Envelope>,
    sellers: [Uuid; 2],
    investor: Uuid,
}

/// Two sellers and an investor register; the first seller's KYC is submitted and
/// approved, the investor suspended; an invoice is submitted, listed, an offer placed and
/// accepted, funded, and the invoice goes overdue.
fn the_story(app: &TestApp) -> Story {
    let sellers = [Uuid::now_v7(), Uuid::now_v7()];
    let investor = Uuid::now_v7();
    let admin = Uuid::now_v7();
    let submission = SubmissionId(Uuid::now_v7());
    let invoice_id = InvoiceId(Uuid::now_v7());
    let offer_id = OfferId(Uuid::now_v7());
    let invoice = |from, to| common::events::invoice::InvoiceChanged {
        invoice_id,
        seller_id: UserId(sellers[0]),
        ..examples::invoice(from, to, None)
    };
    let offer = |status, change| common::events::marketplace::OfferChanged {
        offer_id,
        invoice_id,
        investor_id: UserId(investor),
        seller_id: UserId(sellers[0]),
        ..examples::offer(status, change, None)
    };
    let funding = common::events::payments::PaymentStatusChanged {
        offer_id,
        invoice_id,
        amount_minor: 143_202_740,
        ..examples::payment(PaymentKind::Funding, PaymentStatus::Succeeded)
    };
    let decided = KycDecided {
        user_id: UserId(sellers[0]),
        submission_id: submission,
        reviewed_by: UserId(admin),
        reason: None,
    };
    let envelopes = story(
        app,
        vec![
            user(sellers[0], Role::Seller, "Ada Obi"),
            user(sellers[1], Role::Seller, "Bola Ade"),
            user(investor, Role::Investor, "Chidi Eze"),
            KycEvent::Submitted(KycSubmitted {
                user_id: UserId(sellers[0]),
                submission_id: submission,
                role: Role::Seller,
            })
            .into(),
            KycEvent::Approved(decided).into(),
            AuthEvent::UserSuspended(UserStatusChanged {
                user_id: UserId(investor),
                by: UserId(admin),
            })
            .into(),
            InvoiceEvent::Submitted(invoice(S::Draft, S::Submitted)).into(),
            InvoiceEvent::Listed(invoice(S::Submitted, S::Listed)).into(),
            OfferEvent::Placed(offer(OfferStatus::Pending, OfferChange::Placed)).into(),
            OfferEvent::Accepted(offer(OfferStatus::Accepted, OfferChange::Accepted)).into(),
            InvoiceEvent::StatusChanged(invoice(S::Listed, S::Accepted)).into(),
            PaymentEvent::StatusChanged(funding).into(),
            InvoiceEvent::StatusChanged(invoice(S::Accepted, S::Funded)).into(),
            InvoiceEvent::StatusChanged(invoice(S::Funded, S::Overdue)).into(),
        ],
    );
    Story {
        envelopes,
        sellers,
        investor,
    }
}

/// The dashboard without its time.
fn figures(mut d: Value) -> Value {
    d.as_object_mut().unwrap().remove("generated_at");
    d["kyc"]
        .as_object_mut()
        .unwrap()
        .remove("oldest_waiting_secs");
    d
}

async fn the_dashboard_moves_by_what_the_events_did(kind: DbKind) {
    let app = spawn_app(kind).await;
    let before = get(&app, "/api/admin/dashboard").await;
    assert_eq!(before["offers_today"], 0);
    assert_eq!(before["money"], json!([]));
    let s = the_story(&app);
    for e in &s.envelopes {
        app.apply(e).await;
    }
    // Read while cached before the events: the generation moved, so this is fresh.
    let after = figures(get(&app, "/api/admin/dashboard").await);
    assert_eq!(
        after,
        json!({
            "users_by_role": {"seller": 2, "investor": 1},
            "users_by_kyc": {"approved": 1, "none": 2},
            "users_suspended": 1,
            "kyc": {"waiting": 0, "oldest_submitted_at": null},
            "invoices_by_status": {"overdue": 1},
            "offers_today": 1,
            "money": [{
                "currency": "NGN",
                "listed_face_minor": 0,
                "funded_minor": 143_202_740,
                "repaid_minor": 0,
                "overdue_face_minor": 150_000_000,
                "defaulted_face_minor": 0,
                "fee_revenue_minor": 2_250_000,
            }],
        })
    );

    // The same story on a second app, delivered backwards and every event twice,
    // through the queue: the same figures.
    let other = spawn_app(kind).await;
    for e in s.envelopes.iter().rev() {
        other.deliver(e).await;
        other.deliver(e).await;
    }
    testkit::wait_for(crate::helpers::DEADLINE, "every event consumed", || async {
        (other.count().await == s.envelopes.len() as u64).then_some(())
    })
    .await;
    assert_eq!(figures(get(&other, "/api/admin/dashboard").await), after);
    let users = get(&other, "/api/admin/users?role=investor").await;
    assert_eq!(users["items"][0]["user_id"], s.investor.to_string());
    assert_eq!(users["items"][0]["status"], "suspended");
    let seller = get(&other, "/api/admin/users?q=ada%20obi").await;
    assert_eq!(seller["items"][0]["user_id"], s.sellers[0].to_string());
    assert_eq!(seller["items"][0]["kyc_status"], "approved");
}

#[tokio::test]
async fn the_dashboard_moves_by_exactly_what_the_events_did_in_any_order_postgres() {
    the_dashboard_moves_by_what_the_events_did(DbKind::Postgres).await;
}

#[tokio::test]
async fn the_dashboard_moves_by_exactly_what_the_events_did_in_any_order_sqlite() {
    the_dashboard_moves_by_what_the_events_did(DbKind::Sqlite).await;
}

/// What the read models and the log say: the dashboard's figures, the day's activity and
/// sign-ups, and the chain's verification.
async fn everything(app: &TestApp) -> (Value, Value, Value) {
    let stats = get(app, "/api/admin/users/stats?period=day").await;
    let verified = app.verify().await;
    (
        figures(get(app, "/api/admin/dashboard").await),
        stats["buckets"].clone(),
        json!({"ok": verified["ok"], "rows": verified["rows"]}),
    )
}

/// The consumer takes its queue in batches: a batch is recorded with one head read, one
/// insert and one head move, and its models moved together. A story applied as one batch
/// (with an event handled before among it) leaves the same figures and the same chain,
/// in the events' order, as the story applied one event at a time.
async fn a_batch_is_recorded_as_its_events_one_by_one(kind: DbKind) {
    let one_by_one = spawn_app(kind).await;
    let s = the_story(&one_by_one);
    for e in &s.envelopes {
        one_by_one.apply(e).await;
    }
    let together = spawn_app(kind).await;
    together.apply(&s.envelopes[3]).await;
    let applied = service_kit::inbox::consume_staged_batch(
        &together.state.db,
        &admin::inbound::Effects::new(&together.state),
        &s.envelopes,
        &together.state.clock,
    )
    .await
    .unwrap();
    assert_eq!(
        applied,
        s.envelopes.len() - 1,
        "the one handled before is skipped"
    );
    assert_eq!(together.count().await, s.envelopes.len() as u64);
    let (dashboard, activity, chain) = everything(&together).await;
    assert_eq!(chain, json!({"ok": true, "rows": s.envelopes.len()}));
    assert_eq!((dashboard, activity, chain), everything(&one_by_one).await);
    // In the log, the batch's rows follow the one recorded before, in the events' order.
    let page = together.search("limit=200").await;
    let mut logged: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["event_id"].as_str().unwrap().to_owned())
        .collect();
    logged.reverse();
    let mut expected: Vec<String> = vec![s.envelopes[3].id.to_string()];
    expected.extend(
        s.envelopes
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 3)
            .map(|(_, e)| e.id.to_string()),
    );
    assert_eq!(logged, expected);
}

#[tokio::test]
async fn a_batch_is_recorded_as_its_events_one_by_one_postgres() {
    a_batch_is_recorded_as_its_events_one_by_one(DbKind::Postgres).await;
}

#[tokio::test]
async fn a_batch_is_recorded_as_its_events_one_by_one_sqlite() {
    a_batch_is_recorded_as_its_events_one_by_one(DbKind::Sqlite).await;
}

#[tokio::test]
async fn series_and_user_statistics_count_per_bucket() {
    let app = spawn_app(DbKind::Postgres).await;
    let today = app.api.clock.now().date_naive();
    // Two sign-ups today, one three days ago (the clock moved back for it).
    app.api.clock.advance(chrono::Duration::days(-3));
    let early = app.envelope(user(Uuid::now_v7(), Role::Investor, "Early Bird"));
    app.api.clock.advance(chrono::Duration::days(3));
    app.apply(&early).await;
    for name in ["Ada Obi", "Bola Ade"] {
        app.apply(&app.envelope(user(Uuid::now_v7(), Role::Seller, name)))
            .await;
    }
    let series = get(&app, "/api/admin/metrics?metric=signups&bucket=day").await;
    let points = series["points"].as_array().unwrap();
    assert_eq!(points.len(), 30);
    let value_on = |day: chrono::NaiveDate| {
        points
            .iter()
            .find(|p| p["start"] == day.to_string())
            .map(|p| p["value"].as_i64().unwrap())
    };
    assert_eq!(value_on(today), Some(2));
    assert_eq!(value_on(today - chrono::Duration::days(3)), Some(1));
    assert_eq!(value_on(today - chrono::Duration::days(1)), Some(0));
    let weeks = get(&app, "/api/admin/metrics?metric=signups&bucket=week").await;
    let total: i64 = weeks["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 3);

    let stats = get(&app, "/api/admin/users/stats?period=day").await;
    let buckets = stats["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 30);
    assert_eq!(buckets[29]["start"], today.to_string());
    assert_eq!(buckets[29]["signups"], 2);
    assert_eq!(buckets[29]["active_sellers"], 2);
    assert_eq!(buckets[26]["signups"], 1);
    assert_eq!(buckets[26]["active_investors"], 1);
    let month = get(&app, "/api/admin/users/stats?period=month").await;
    let signups: i64 = month["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["signups"].as_i64().unwrap())
        .sum();
    assert_eq!(signups, 3);

    for (path, field) in [
        ("/api/admin/metrics?metric=profit", "metric"),
        ("/api/admin/metrics", "metric"),
        ("/api/admin/metrics?metric=funded&bucket=year", "bucket"),
        ("/api/admin/metrics?metric=funded&to=%2B99999-01-01", "to"),
        ("/api/admin/metrics?metric=funded&from=0001-01-01", "from"),
        ("/api/admin/users/stats?period=decade", "period"),
        ("/api/admin/users/stats", "period"),
        ("/api/admin/users?role=king", "role"),
        ("/api/admin/users?kyc=maybe", "kyc"),
        ("/api/admin/users?q=a", "q"),
        ("/api/admin/users?limit=0", "limit"),
        ("/api/admin/users?cursor=12", "cursor"),
    ] {
        let problem = testkit::assert_problem(app.get(path, &app.admin.token).await, 422).await;
        assert_eq!(problem["errors"][0]["field"], field, "{path}: {problem}");
    }
}

#[tokio::test]
async fn user_search_filters_and_pages_newest_first() {
    let app = spawn_app(DbKind::Postgres).await;
    let mut ids = Vec::new();
    for (role, name) in [
        (Role::Seller, "Ada Obi"),
        (Role::Seller, "Bola 100% Ade"),
        (Role::Investor, "Ada Eze"),
    ] {
        let id = Uuid::now_v7();
        ids.push(id);
        app.apply(&app.envelope(user(id, role, name))).await;
    }
    let names = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["full_name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(&get(&app, "/api/admin/users?q=ADA").await),
        ["Ada Eze", "Ada Obi"]
    );
    assert_eq!(
        names(&get(&app, "/api/admin/users?q=ada&role=seller").await),
        ["Ada Obi"]
    );
    // `%` is a character, not a wildcard.
    assert_eq!(
        names(&get(&app, "/api/admin/users?q=0%25").await),
        ["Bola 100% Ade"]
    );
    assert_eq!(
        names(&get(&app, "/api/admin/users?q=a%25b").await),
        Vec::<String>::new()
    );
    let first = get(&app, "/api/admin/users?limit=2").await;
    assert_eq!(names(&first), ["Ada Eze", "Bola 100% Ade"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = get(&app, &format!("/api/admin/users?limit=2&cursor={cursor}")).await;
    assert_eq!(names(&second), ["Ada Obi"]);
    assert!(second["next_cursor"].is_null());
    let email = get(&app, "/api/admin/users?q=ada.eze@").await;
    assert_eq!(email["items"][0]["email"], "ada.eze@example.com");
}

#[tokio::test]
async fn the_review_queue_follows_kyc_and_invoice_events_oldest_first() {
    let app = spawn_app(DbKind::Sqlite).await;
    let seller = Uuid::now_v7();
    let submission = SubmissionId(Uuid::now_v7());
    let invoice_id = InvoiceId(Uuid::now_v7());
    let invoice = |from, to| common::events::invoice::InvoiceChanged {
        invoice_id,
        seller_id: UserId(seller),
        ..examples::invoice(from, to, None)
    };
    let events = story(
        &app,
        vec![
            KycEvent::Submitted(KycSubmitted {
                user_id: UserId(seller),
                submission_id: submission,
                role: Role::Seller,
            })
            .into(),
            InvoiceEvent::Submitted(invoice(S::Draft, S::Submitted)).into(),
            KycEvent::Approved(KycDecided {
                user_id: UserId(seller),
                submission_id: submission,
                reviewed_by: UserId(Uuid::now_v7()),
                reason: None,
            })
            .into(),
            InvoiceEvent::Listed(invoice(S::Submitted, S::Listed)).into(),
        ],
    );
    app.apply(&events[0]).await;
    app.apply(&events[1]).await;
    let queue = get(&app, "/api/admin/reviews").await;
    let items = queue["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["kind"], "kyc_submission");
    assert_eq!(items[0]["id"], submission.to_string());
    assert_eq!(
        items[0]["actions"][1],
        json!({"name": "approve", "method": "POST", "path": format!("/api/kyc/submissions/{submission}/approve")})
    );
    assert_eq!(items[1]["kind"], "invoice");
    assert_eq!(
        items[1]["actions"][1]["path"],
        format!("/api/invoices/{invoice_id}/verify")
    );
    app.apply(&events[2]).await;
    let queue = get(&app, "/api/admin/reviews").await;
    assert_eq!(queue["items"].as_array().unwrap().len(), 1);
    app.apply(&events[3]).await;
    let queue = get(&app, "/api/admin/reviews").await;
    assert_eq!(queue["items"], json!([]));
    let dashboard = get(&app, "/api/admin/dashboard").await;
    assert_eq!(dashboard["invoices_by_status"], json!({"listed": 1}));
    assert_eq!(dashboard["money"][0]["listed_face_minor"], 150_000_000);
}

#[tokio::test]
async fn every_admin_route_refuses_other_roles() {
    let app = spawn_app(DbKind::Postgres).await;
    for path in [
        "/api/admin/dashboard",
        "/api/admin/metrics?metric=signups",
        "/api/admin/users/stats?period=day",
        "/api/admin/users",
        "/api/admin/reviews",
    ] {
        for user in [app.seller(), app.investor()] {
            testkit::assert_problem(app.get(path, &user.token).await, 403).await;
        }
        testkit::assert_problem(app.get(path, "").await, 401).await;
    }
}
