//! Live messages, counters (rebuilt when missing), trending by the clock, and stats.

use common::events::Service;
use fred::prelude::KeysInterface;
use serde_json::{Value, json};
use service_kit::pubsub::Subscriber;

use crate::helpers::{DEADLINE, spawn_app};

#[tokio::test]
async fn the_seller_hears_new_offers_and_everyone_hears_offer_changes() {
    let app = spawn_app().await;
    let seller = app.seller();
    let invoice = app.listed(&seller).await;
    let sub = Subscriber::connect(&testkit::redis_url()).await.unwrap();
    let seller_channel = app.keys.seller_channel(seller.id);
    sub.subscribe(&seller_channel).await.unwrap();
    let mut messages = sub.messages();
    let investor = app.investor();
    let o = app.offer(&investor, &invoice, "18").await;
    let msg = tokio::time::timeout(DEADLINE, messages.recv())
        .await
        .unwrap()
        .unwrap();
    let live: Value = msg.json().unwrap();
    assert_eq!(live["change"], "placed");
    assert_eq!(live["offer"]["id"], o["id"]);
    assert_eq!(live["offer"]["price"], "1455616.44");
    // Changes of the offer on offer:{id}.
    let offer_channel = app
        .keys
        .offer_channel(o["id"].as_str().unwrap().parse().unwrap());
    sub.subscribe(&offer_channel).await.unwrap();
    let id = o["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/api/marketplace/offers/{id}/withdraw"),
            &investor.token,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let live: Value = loop {
        let msg = tokio::time::timeout(DEADLINE, messages.recv())
            .await
            .unwrap()
            .unwrap();
        // On a cluster a message crosses the cluster bus to the subscriber's node: the
        // placing's copy on this channel, published before the subscription, may still
        // arrive after it.
        let live: Value = msg.json().unwrap();
        if msg.channel == offer_channel && live["change"] != "placed" {
            break live;
        }
    };
    assert_eq!(live["status"], "withdrawn");
    assert_eq!(live["change"], "withdrawn");
    sub.quit().await.ok();
}

#[tokio::test]
async fn counters_follow_offers_and_are_rebuilt_when_missing() {
    let app = spawn_app().await;
    let seller = app.seller();
    let invoice = app.listed(&seller).await;
    let count = app.keys.offers_count(invoice.id);
    let metrics = app.keys.metrics_offers(invoice.id);
    let total = app.keys.metrics_total_offers();
    let get = |k: String| {
        let app = &app;
        async move { app.redis.get::<Option<i64>, _>(k).await.unwrap() }
    };
    let a = app.offer(&app.investor(), &invoice, "18").await;
    app.offer(&app.investor(), &invoice, "19").await;
    assert_eq!(get(count.clone()).await, Some(2));
    assert_eq!(get(metrics.clone()).await, Some(2));
    assert_eq!(get(total.clone()).await, Some(2));
    // Withdrawn: active down, placed unchanged.
    let id = a["id"].as_str().unwrap();
    let res = app
        .post_at(
            &format!("/api/marketplace/offers/{id}/reject"),
            &seller.token,
            testkit::api::version_of(&a),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(get(count.clone()).await, Some(1));
    assert_eq!(get(metrics.clone()).await, Some(2));
    // Redis lost them: the next offer rebuilds each from the database.
    for key in [&count, &metrics, &total] {
        let _: i64 = app.redis.del(key).await.unwrap();
    }
    app.offer(&app.investor(), &invoice, "20").await;
    assert_eq!(get(count.clone()).await, Some(2));
    assert_eq!(get(metrics.clone()).await, Some(3));
    assert_eq!(get(total.clone()).await, Some(3));
    // Lost again: a read of the listing rebuilds them; a decrement too.
    for key in [&count, &metrics] {
        let _: i64 = app.redis.del(key).await.unwrap();
    }
    let l = app.listing(invoice.id).await.unwrap();
    assert_eq!(l["offers"]["active"], 2);
    assert_eq!(l["offers"]["placed"], 3);
    assert_eq!(get(count.clone()).await, Some(2));
    let _: i64 = app.redis.del(count.clone()).await.unwrap();
    let b = app.offer(&app.investor(), &invoice, "21").await;
    let id = b["id"].as_str().unwrap();
    let _: i64 = app.redis.del(count.clone()).await.unwrap();
    let res = app
        .post_at(
            &format!("/api/marketplace/offers/{id}/reject"),
            &seller.token,
            testkit::api::version_of(&b),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(get(count).await, Some(2));
}

async fn trending_ids(app: &crate::helpers::TestApp, query: &str) -> Vec<(String, i64)> {
    let res = app
        .get(
            &format!("/api/marketplace/trending{query}"),
            &app.investor().token,
        )
        .await;
    assert_eq!(res.status(), 200);
    let page: Value = res.json().await.unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["invoice_id"].as_str().unwrap().to_owned(),
                i["views"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn trending_counts_distinct_views_of_the_last_hour_of_listed_invoices() {
    let app = spawn_app().await;
    let (hot, warm, gone) = (
        app.listed(&app.seller()).await,
        app.listed(&app.seller()).await,
        app.listed(&app.seller()).await,
    );
    let view = |id: uuid::Uuid, token: String| {
        let app = &app;
        async move {
            let res = app
                .get(&format!("/api/marketplace/invoices/{id}"), &token)
                .await;
            assert_eq!(res.status(), 200);
        }
    };
    // One investor viewing five times in a minute counts once.
    let keen = app.investor();
    for _ in 0..5 {
        view(hot.id, keen.token.clone()).await;
    }
    view(hot.id, app.investor().token).await;
    view(hot.id, app.investor().token).await;
    view(warm.id, app.investor().token).await;
    for _ in 0..4 {
        view(gone.id, app.investor().token).await;
    }
    // Two hours ago's views of `hot` are not in the window later; first, right now:
    let top = trending_ids(&app, "").await;
    assert_eq!(top[0], (gone.id.to_string(), 4));
    assert_eq!(top[1], (hot.id.to_string(), 3));
    assert_eq!(top[2], (warm.id.to_string(), 1));
    // A minute later the same investor's view counts again.
    app.clock.advance(chrono::Duration::minutes(1));
    let keen = app.refreshed(&keen);
    view(hot.id, keen.token.clone()).await;
    // `gone` is cancelled: no longer trending.
    app.deliver(&app.invoice_event("invoice.cancelled", &gone, "listed", "cancelled"))
        .await;
    app.wait_for_listing(gone.id, "cancelled").await;
    let top = trending_ids(&app, "?limit=2").await;
    assert_eq!(top, vec![(hot.id.to_string(), 4), (warm.id.to_string(), 1)]);
    // 61 minutes after the first views only the later one is left; two hours on, none.
    app.clock.advance(chrono::Duration::minutes(59));
    let top = trending_ids(&app, "").await;
    assert_eq!(top, vec![(hot.id.to_string(), 1)]);
    app.clock.advance(chrono::Duration::hours(1));
    assert!(trending_ids(&app, "").await.is_empty());
    // The limit is checked.
    for bad in ["?limit=0", "?limit=51", "?limit=x", "?top=3"] {
        let res = app
            .get(
                &format!("/api/marketplace/trending{bad}"),
                &app.admin().token,
            )
            .await;
        testkit::assert_problem(res, 422).await;
    }
}

#[tokio::test]
async fn stats_sum_the_market_and_are_cached() {
    let app = spawn_app().await;
    let seller = app.seller();
    let a = app.listed(&seller).await;
    app.listed(&app.seller()).await;
    let o1 = app.offer(&app.investor(), &a, "18").await;
    app.offer(&app.investor(), &a, "19.5").await;
    app.accept(&seller, &o1).await;
    app.deliver(&app.answer("invoice.acceptance_confirmed", &o1, None))
        .await;
    app.wait_for_offer(&o1["id"], "accepted").await;
    app.wait_for_listing(a.id, "accepted").await;
    let res = app
        .get("/api/marketplace/stats", &app.investor().token)
        .await;
    assert_eq!(res.status(), 200);
    let stats: Value = res.json().await.unwrap();
    assert_eq!(stats["listed_count"], 1);
    assert_eq!(stats["listed_volume"], json!({"NGN": "1500000.00"}));
    assert_eq!(stats["offers_today"], 2);
    assert_eq!(stats["accepted_count"], 1);
    assert_eq!(stats["accepted_volume"], json!({"NGN": "1455616.44"}));
    // The second offer was rejected on acceptance: no active offers left.
    assert_eq!(stats["average_discount_rate"], Value::Null);
    // Cached: a new listing does not show until the entry expires.
    let cached: Option<String> = app.redis.get(app.keys.marketplace_stats()).await.unwrap();
    assert!(cached.is_some());
    let b = app.listed(&app.seller()).await;
    app.offer(&app.investor(), &b, "10").await;
    app.offer(&app.investor(), &b, "11.25").await;
    let again: Value = app
        .get("/api/marketplace/stats", &app.admin().token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["listed_count"], 1);
    let _: i64 = app.redis.del(app.keys.marketplace_stats()).await.unwrap();
    let fresh: Value = app
        .get("/api/marketplace/stats", &app.admin().token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fresh["listed_count"], 2);
    assert_eq!(fresh["average_discount_rate"], "10.63");
    assert!(
        app.events_on(Service::Invoice)
            .await
            .iter()
            .any(|e| e.event_type == "offer.placed")
    );
}

async fn trending_page(app: &crate::helpers::TestApp) -> Value {
    let res = app
        .get("/api/marketplace/trending", &app.investor().token)
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The listing view and the trending page are served from Redis (the listing's card,
/// the rendered page), and never show figures older than the last committed change.
#[tokio::test]
async fn cached_listing_views_and_trending_follow_every_committed_change() {
    let app = spawn_app().await;
    let seller = app.seller();
    let invoice = app.listed(&seller).await;
    let viewer = app.investor();
    let look = |token: String| {
        let app = &app;
        async move {
            let res = app
                .get(&format!("/api/marketplace/invoices/{}", invoice.id), &token)
                .await;
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, l) = look(viewer.token.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(l["offers"]["placed"], 0);
    assert_eq!(l["offers"]["best_rate"], Value::Null);
    // The card is cached, and so is the trending page.
    let card: Option<String> = app
        .redis
        .get(app.keys.listing_card(invoice.id))
        .await
        .unwrap();
    assert!(card.is_some());
    let top = trending_ids(&app, "").await;
    assert_eq!(top, vec![(invoice.id.to_string(), 1)]);
    assert_eq!(
        trending_page(&app).await["items"][0]["listing"]["offers"]["placed"],
        0
    );

    // An offer: both show it at once.
    app.offer(&app.investor(), &invoice, "18").await;
    let (_, l) = look(viewer.token.clone()).await;
    assert_eq!(l["offers"]["placed"], 1);
    assert_eq!(l["offers"]["best_rate"], "18");
    let p = trending_page(&app).await;
    assert_eq!(p["items"][0]["listing"]["offers"]["best_rate"], "18");
    assert_eq!(p["items"][0]["views"], 1);
    // A better one.
    app.offer(&app.investor(), &invoice, "16.5").await;
    let (_, l) = look(viewer.token.clone()).await;
    assert_eq!(l["offers"]["active"], 2);
    assert_eq!(l["offers"]["best_rate"], "16.5");

    // Cancelled by its seller: investors no longer see it, trending drops it, the seller
    // sees it cancelled.
    app.deliver(&app.invoice_event("invoice.cancelled", &invoice, "listed", "cancelled"))
        .await;
    app.wait_for_listing(invoice.id, "cancelled").await;
    assert_eq!(look(viewer.token.clone()).await.0, 404);
    assert!(trending_ids(&app, "").await.is_empty());
    let (status, l) = look(seller.token.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(l["status"], "cancelled");
    assert_eq!(l["offers"]["active"], 0);
}

/// Sets the listing's status in the database behind the cache's back (no generation bump),
/// as a change whose bump has not happened yet would leave it.
async fn set_status_unannounced(app: &crate::helpers::TestApp, invoice: uuid::Uuid, status: &str) {
    use marketplace::store::entity::listing;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let res = listing::Entity::update_many()
        .col_expr(listing::Column::Status, Expr::value(status))
        .filter(listing::Column::Id.eq(invoice))
        .exec(&app.state.db)
        .await
        .unwrap();
    assert_eq!(res.rows_affected, 1);
}

#[tokio::test]
async fn an_offer_is_judged_on_the_listing_row_never_on_its_cached_card() {
    let app = spawn_app().await;
    let seller = app.seller();
    let invoice = app.listed(&seller).await;
    let investor = app.investor();
    let view = |token: String| {
        let app = &app;
        async move {
            app.get(&format!("/api/marketplace/invoices/{}", invoice.id), &token)
                .await
                .status()
                .as_u16()
        }
    };
    let place = |token: String| {
        let app = &app;
        async move {
            let res = app
                .post(
                    "/api/marketplace/offers",
                    &token,
                    &json!({"invoice_id": invoice.id, "discount_rate": "18"}),
                )
                .await;
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // The card is cached as listed; then the row leaves the market unannounced.
    assert_eq!(view(investor.token.clone()).await, 200);
    set_status_unannounced(&app, invoice.id, "cancelled").await;
    let (status, body) = place(investor.token.clone()).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("cancelled"),
        "{body}"
    );
    assert_eq!(
        app.get("/api/marketplace/offers", &investor.token)
            .await
            .json::<Value>()
            .await
            .unwrap()["total"],
        0
    );

    // The other way round: the card (read again after a bump) says cancelled, the row is
    // listed again: the offer is placed.
    let _: i64 = app
        .redis
        .incr(
            app.keys
                .cache_generation(&common::keys::Keys::listing_scope(invoice.id)),
        )
        .await
        .unwrap();
    assert_eq!(view(seller.token.clone()).await, 200);
    set_status_unannounced(&app, invoice.id, "listed").await;
    let (status, body) = place(investor.token.clone()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "pending");
}
