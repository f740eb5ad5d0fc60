//! The search cache (`search:invoices:{hash}`): one entry per canonical query and viewer,
//! never another viewer's results, never older than the last write; on both databases.

use common::events::Service;
use fred::prelude::KeysInterface;
use serde_json::{Value, json};
use testkit::DbKind;

use crate::helpers::{DEADLINE, id_of, offer_reserved, spawn_app_with};

async fn the_order_of_query_parameters_does_not_split_the_cache(kind: DbKind) {
    let app = spawn_app_with(kind, |_| {}).await;
    let seller = app.seller();
    app.draft(&seller, 1).await;
    app.draft(&seller, 2).await;
    let t = &seller.token;
    assert!(app.search_cache_keys().await.is_empty());

    let first = app
        .search_bytes("status=draft&sort=amount&per_page=5&q=cement", t)
        .await;
    let keys = app.search_cache_keys().await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    for reordered in [
        "sort=amount&status=draft&per_page=5&q=cement",
        "q=cement&per_page=5&sort=amount&status=draft",
        "per_page=5&q=cement&status=draft&sort=amount",
    ] {
        assert_eq!(app.search_bytes(reordered, t).await, first, "{reordered}");
        assert_eq!(app.search_cache_keys().await, keys, "{reordered}");
    }
    let page: Value = serde_json::from_slice(&first).unwrap();
    assert_eq!(page["total"], 2);

    // A different query is a different entry.
    app.search_bytes("status=draft&sort=-amount&per_page=5&q=cement", t)
        .await;
    assert_eq!(app.search_cache_keys().await.len(), 2);
}

#[tokio::test]
async fn the_order_of_query_parameters_does_not_split_the_cache_on_postgres() {
    the_order_of_query_parameters_does_not_split_the_cache(DbKind::Postgres).await;
}

#[tokio::test]
async fn the_order_of_query_parameters_does_not_split_the_cache_on_sqlite() {
    the_order_of_query_parameters_does_not_split_the_cache(DbKind::Sqlite).await;
}

async fn a_cache_hit_serves_the_bytes_the_miss_stored(kind: DbKind) {
    let app = spawn_app_with(kind, |_| {}).await;
    let seller = app.seller();
    app.draft(&seller, 1).await;
    let t = &seller.token;

    let miss = app.search_bytes("sort=due_date", t).await;
    let keys = app.search_cache_keys().await;
    assert_eq!(keys.len(), 1);
    let stored = app.cached(&keys[0]).await.unwrap();
    let generation = app
        .cache_generation(&invoice::outbound::seller_scope(seller.id))
        .await;
    assert_eq!(
        stored,
        [format!("{generation}\n").into_bytes(), miss.clone()].concat(),
        "the entry holds exactly the bytes the miss answered, tagged with the generation"
    );
    let hit = app.search_bytes("sort=due_date", t).await;
    assert_eq!(hit, miss);
    let ttl: i64 = app.redis.ttl(&keys[0]).await.unwrap();
    assert!(ttl > 0 && ttl <= 300, "ttl {ttl}");

    // The hit is the stored entry itself, untouched: change the entry and the next
    // search answers the changed bytes.
    let marked = [miss.clone(), b"  ".to_vec()].concat();
    let () = app
        .redis
        .set(
            &keys[0],
            [format!("{generation}\n").into_bytes(), marked.clone()].concat(),
            None,
            None,
            false,
        )
        .await
        .unwrap();
    assert_eq!(app.search_bytes("sort=due_date", t).await, marked);

    // An entry tagged with another generation is never served: a write bumps the
    // generation, and the next search fetches (and answers the new state).
    app.draft(&seller, 2).await;
    let after = app.search_bytes("sort=due_date", t).await;
    assert_ne!(after, marked);
    assert!(String::from_utf8(after).unwrap().contains("INV-0002"));
}

#[tokio::test]
async fn a_cache_hit_serves_the_bytes_the_miss_stored_on_postgres() {
    a_cache_hit_serves_the_bytes_the_miss_stored(DbKind::Postgres).await;
}

#[tokio::test]
async fn a_cache_hit_serves_the_bytes_the_miss_stored_on_sqlite() {
    a_cache_hit_serves_the_bytes_the_miss_stored(DbKind::Sqlite).await;
}

async fn viewers_running_the_same_query_never_see_each_others_results(kind: DbKind) {
    let app = spawn_app_with(kind, |_| {}).await;
    let (ada, bola) = (app.seller(), app.seller());
    app.draft(&ada, 1).await;
    app.draft(&bola, 2).await;
    app.listed(&bola, 3).await;
    // One query, two sellers: two entries.
    app.search_bytes("per_page=7", &ada.token).await;
    app.search_bytes("per_page=7", &bola.token).await;
    assert_eq!(app.search_cache_keys().await.len(), 2);

    // Ada fills the cache first; everyone else asks the very same thing.
    for query in ["", "status=draft", "sort=amount&q=dangote"] {
        assert_eq!(
            app.search_numbers(query, &ada.token).await,
            ["INV-0001"],
            "ada {query}"
        );
        let bolas = app.search_numbers(query, &bola.token).await;
        assert!(
            !bolas.contains(&"INV-0001".to_owned()) && bolas.contains(&"INV-0002".to_owned()),
            "bola {query}: {bolas:?}"
        );
        let investor = app.investor();
        let seen = app.search_numbers(query, &investor.token).await;
        assert!(
            seen.iter().all(|n| n == "INV-0003"),
            "investor {query}: {seen:?}"
        );
        // A second investor, after the first filled the cache, sees the same listings.
        let again = app.search_numbers(query, &app.investor().token).await;
        assert_eq!(again, seen, "second investor {query}");
        let admin = app.search_numbers(query, &app.admin().token).await;
        assert!(
            admin.contains(&"INV-0001".to_owned()) && admin.contains(&"INV-0002".to_owned()),
            "admin {query}: {admin:?}"
        );
    }
    let investor = app.investor();
    assert_eq!(app.search_numbers("", &investor.token).await, ["INV-0003"]);
    assert_eq!(
        app.search_numbers("status=draft", &investor.token).await,
        Vec::<String>::new()
    );
    // Bola's own view, from the cache or not, is hers only.
    for _ in 0..2 {
        assert_eq!(
            app.search_numbers("sort=amount", &bola.token).await,
            ["INV-0002", "INV-0003"]
        );
    }
}

#[tokio::test]
async fn viewers_running_the_same_query_never_see_each_others_results_on_postgres() {
    viewers_running_the_same_query_never_see_each_others_results(DbKind::Postgres).await;
}

#[tokio::test]
async fn viewers_running_the_same_query_never_see_each_others_results_on_sqlite() {
    viewers_running_the_same_query_never_see_each_others_results(DbKind::Sqlite).await;
}

/// The one item of a one-invoice search, as the viewer sees it.
fn only(page: &Value) -> &Value {
    assert_eq!(page["total"], 1, "{page}");
    &page["items"][0]
}

async fn a_search_right_after_any_write_sees_it(kind: DbKind) {
    let app = spawn_app_with(kind, |_| {}).await;
    let seller = app.seller();
    let admin = app.admin();
    let investor = app.investor();
    let t = &seller.token;

    // Each step: the search is cached, a write happens, the same search sees it at once.
    assert_eq!(app.search("", t).await["total"], 0);
    let draft = app.draft(&seller, 1).await;
    let id = id_of(&draft);
    assert_eq!(only(&app.search("", t).await)["status"], "draft", "create");

    let res = app
        .edit(&id.to_string(), t, &json!({"amount": "2000000.00"}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        only(&app.search("", t).await)["amount"],
        "2000000.00",
        "patch"
    );

    app.act(&id.to_string(), "submit", t).await;
    assert_eq!(
        only(&app.search("", t).await)["status"],
        "submitted",
        "submit"
    );

    assert_eq!(app.search("", &investor.token).await["total"], 0);
    assert_eq!(app.search("status=listed", &admin.token).await["total"], 0);
    app.act(&id.to_string(), "verify", &admin.token).await;
    assert_eq!(only(&app.search("", t).await)["status"], "listed", "verify");
    assert_eq!(
        only(&app.search("", &investor.token).await)["status"],
        "listed",
        "verify, investor"
    );
    assert_eq!(
        app.search("status=listed", &admin.token).await["total"],
        1,
        "verify, admin"
    );

    app.act(&id.to_string(), "cancel", t).await;
    assert_eq!(
        only(&app.search("", t).await)["status"],
        "cancelled",
        "cancel"
    );
    assert_eq!(
        app.search("", &investor.token).await["total"],
        0,
        "cancel, investor"
    );
    assert_eq!(
        app.search("status=listed", &admin.token).await["total"],
        0,
        "cancel, admin"
    );

    // Rejection, then an edit of the rejected invoice.
    let other = id_of(&app.draft(&seller, 2).await);
    app.act(&other.to_string(), "submit", t).await;
    assert_eq!(
        app.search("status=rejected", t).await["total"],
        0,
        "before reject"
    );
    app.act(&other.to_string(), "reject", &admin.token).await;
    assert_eq!(
        only(&app.search("status=rejected", t).await)["rejection_reason"],
        "The debtor's tax id does not match.",
        "reject"
    );
    let res = app
        .edit(
            &other.to_string(),
            t,
            &json!({"description": "Corrected tax id"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        only(&app.search("status=rejected", t).await)["description"],
        "Corrected tax id",
        "patch of a rejected invoice"
    );

    // An event from the consumer: the cached search catches up well within the entry's
    // 300 s lifetime, so only a generation bump can explain it.
    let listed = id_of(&app.listed(&seller, 3).await);
    assert_eq!(
        only(&app.search("status=listed", &investor.token).await)["id"],
        listed.to_string()
    );
    assert_eq!(app.search("status=accepted", t).await["total"], 0);
    app.deliver(&offer_reserved(&app, listed)).await;
    testkit::wait_until(DEADLINE, "the search to show the acceptance", || async {
        app.search("status=accepted", t).await["total"] == 1
    })
    .await;
    assert_eq!(
        app.search("status=listed", &investor.token).await["total"],
        0,
        "accepted, investor"
    );
    app.wait_for_event(Service::Marketplace, "invoice.acceptance_confirmed", listed)
        .await;
}

#[tokio::test]
async fn a_search_right_after_any_write_sees_it_on_postgres() {
    a_search_right_after_any_write_sees_it(DbKind::Postgres).await;
}

#[tokio::test]
async fn a_search_right_after_any_write_sees_it_on_sqlite() {
    a_search_right_after_any_write_sees_it(DbKind::Sqlite).await;
}

/// Writes bump only the generations whose results they can change: a seller's drafts and
/// edits leave investors' and other sellers' cached pages alone; a status change reaches
/// investors (an invoice may have entered or left the listings).
#[tokio::test]
async fn a_write_invalidates_only_the_viewers_whose_results_it_can_change() {
    use invoice::outbound::{CACHE_SCOPE, LISTED_SCOPE, seller_scope};
    let app = spawn_app_with(DbKind::Postgres, |_| {}).await;
    let (ada, bola) = (app.seller(), app.seller());
    let investor = app.investor();
    app.listed(&bola, 1).await;
    let scopes = [
        CACHE_SCOPE.to_owned(),
        LISTED_SCOPE.to_owned(),
        seller_scope(ada.id),
        seller_scope(bola.id),
    ];
    async fn generations(app: &crate::helpers::TestApp, scopes: &[String]) -> Vec<u64> {
        let mut g = Vec::new();
        for s in scopes {
            g.push(app.cache_generation(s).await);
        }
        g
    }
    let listed_page = app.search_bytes("sort=due_date", &investor.token).await;

    // Ada drafts and edits: admins' and Ada's results change, nobody else's.
    let before = generations(&app, &scopes).await;
    let draft = app.draft(&ada, 2).await;
    let id = draft["id"].as_str().unwrap().to_owned();
    let res = app
        .edit(
            &id,
            &ada.token,
            &serde_json::json!({"description": "Edited"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let after = generations(&app, &scopes).await;
    assert_eq!(after[0], before[0] + 2, "admins see every change");
    assert_eq!(after[1], before[1], "investors' listings did not change");
    assert_eq!(after[2], before[2] + 2, "Ada's own results changed");
    assert_eq!(after[3], before[3], "Bola's results did not change");
    // The investor's cached page is still served (and still right).
    assert_eq!(
        app.search_bytes("sort=due_date", &investor.token).await,
        listed_page
    );

    // Ada submits and the admin lists: a status change reaches the investors at once.
    app.act(&id, "submit", &ada.token).await;
    app.act(&id, "verify", &app.admin().token).await;
    let numbers = app.search_numbers("sort=due_date", &investor.token).await;
    assert_eq!(numbers.len(), 2, "{numbers:?}");
    assert!(generations(&app, &scopes).await[1] > before[1]);
}

async fn a_lost_generation_bump_is_made_up_by_the_sweep(kind: DbKind) {
    use invoice::jobs::sweep::{CacheMark, catch_up_cache};
    use invoice::store::entity::invoice as row;
    use sea_orm::{ActiveModelTrait, EntityTrait, Set};

    let app = spawn_app_with(kind, |_| {}).await;
    let seller = app.seller();
    let draft = app.draft(&seller, 1).await;
    let t = &seller.token;
    let mark = CacheMark::default();
    // A first round looks back one cache lifetime: the draft's change is in it.
    assert_eq!(catch_up_cache(&app.state, &mark).await.unwrap(), 1);
    let cached = app.search_bytes("sort=due_date", t).await;

    // A change committed whose bump never happened (the process died after the commit):
    // the cache still answers the old page...
    let id: uuid::Uuid = draft["id"].as_str().unwrap().parse().unwrap();
    let mut changed: row::ActiveModel = row::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .into();
    changed.description = Set("changed behind the cache".into());
    changed.updated_at = Set(app.state.clock.now());
    changed.update(&app.state.db).await.unwrap();
    assert_eq!(app.search_bytes("sort=due_date", t).await, cached);
    // ... until the sweep's next round bumps the generations again.
    app.clock.advance(chrono::Duration::seconds(60));
    assert_eq!(catch_up_cache(&app.state, &mark).await.unwrap(), 1);
    let fresh = String::from_utf8(app.search_bytes("sort=due_date", t).await).unwrap();
    assert!(fresh.contains("changed behind the cache"), "{fresh}");
    // Once past the overlap, a round with no change bumps nothing.
    app.clock.advance(chrono::Duration::seconds(60));
    assert_eq!(catch_up_cache(&app.state, &mark).await.unwrap(), 0);
    assert_eq!(
        app.search_bytes("sort=due_date", t).await,
        fresh.into_bytes()
    );
}

#[tokio::test]
async fn a_lost_generation_bump_is_made_up_by_the_sweep_on_postgres() {
    a_lost_generation_bump_is_made_up_by_the_sweep(DbKind::Postgres).await;
}

#[tokio::test]
async fn a_lost_generation_bump_is_made_up_by_the_sweep_on_sqlite() {
    a_lost_generation_bump_is_made_up_by_the_sweep(DbKind::Sqlite).await;
}
