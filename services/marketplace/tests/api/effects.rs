//! What follows a commit in Redis (counters, cards, trending) is redone by the sweep's
//! catch-up when a process died before doing it: counters set to the database's figures
//! once a listing has been quiet, cards marked stale. PostgreSQL and SQLite.

use fred::prelude::KeysInterface;
use marketplace::jobs::sweep::{self, EffectsMark, QUIET_SECS};
use testkit::DbKind;

use crate::helpers::{TestApp, spawn_app_with};

async fn counter(app: &TestApp, key: &str) -> Option<i64> {
    app.redis.get(key).await.unwrap()
}

async fn lost_follow_ups_are_redone_once_the_listing_is_quiet(kind: DbKind) {
    let app = spawn_app_with(kind, |_| {}).await;
    let mark = EffectsMark::default();
    let seller = app.seller();
    let invoice = app.listed(&seller).await;
    let quiet = app.listed(&seller).await;
    app.offer(&app.investor(), &invoice, "18").await;
    let withdrawn = app.offer(&app.investor(), &invoice, "19").await;
    app.offer(&app.investor(), &quiet, "18").await;
    // The card is cached with the figures of now.
    assert_eq!(
        app.listing(invoice.id).await.unwrap()["offers"]["active"],
        2
    );
    // A process died after committing a withdrawal and before its follow-up: the
    // database has it, Redis does not (the counters as they were, the card cached).
    let id = withdrawn["id"].as_str().unwrap();
    withdraw_without_follow_up(&app, id).await;
    // And a lost increment on the other listing.
    let active = app.keys.offers_count(quiet.id);
    let placed = app.keys.metrics_offers(quiet.id);
    let _: i64 = app.redis.decr(&active).await.unwrap();
    let _: i64 = app.redis.decr(&placed).await.unwrap();
    let total = app.keys.metrics_total_offers();
    let _: i64 = app.redis.decr(&total).await.unwrap();
    assert_eq!(
        app.listing(invoice.id).await.unwrap()["offers"]["active"],
        2
    );

    // Not quiet yet: nothing is touched (a follow-up may still be on its way).
    assert_eq!(sweep::catch_up(&app.state, &mark).await.unwrap(), 0);
    assert_eq!(counter(&app, &active).await, Some(0));

    app.clock.advance(chrono::Duration::seconds(QUIET_SECS + 1));
    let caught = sweep::catch_up(&app.state, &mark).await.unwrap();
    assert_eq!(caught, 2, "both listings changed and are quiet");
    assert_eq!(counter(&app, &active).await, Some(1));
    assert_eq!(counter(&app, &placed).await, Some(1));
    assert_eq!(counter(&app, &total).await, Some(3));
    let l = app.listing(invoice.id).await.unwrap();
    assert_eq!(l["offers"]["active"], 1, "the card was marked stale: {l}");
    assert_eq!(l["offers"]["placed"], 2);
    assert_eq!(
        counter(&app, &app.keys.offers_count(invoice.id)).await,
        Some(1)
    );
    // The next round looks back over its overlap (a harmless redo: the same figures),
    // the one after that has nothing left.
    app.clock.advance(chrono::Duration::seconds(60));
    sweep::catch_up(&app.state, &mark).await.unwrap();
    assert_eq!(counter(&app, &active).await, Some(1));
    app.clock.advance(chrono::Duration::seconds(60));
    assert_eq!(sweep::catch_up(&app.state, &mark).await.unwrap(), 0);
}

/// Withdraws offer `id` in the database the way the route does, without the follow-up
/// (as a process that died right after the commit would leave it).
async fn withdraw_without_follow_up(app: &TestApp, id: &str) {
    use marketplace::store::offers::{self, Change, OfferStatus};
    let id: common::ids::OfferId = id.parse().unwrap();
    let current = offers::find(&app.state.db, id).await.unwrap().unwrap();
    offers::close(
        &app.state,
        &current,
        None,
        OfferStatus::Withdrawn,
        Change::Withdrawn,
        None,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn lost_follow_ups_are_redone_once_the_listing_is_quiet_on_postgres() {
    lost_follow_ups_are_redone_once_the_listing_is_quiet(DbKind::Postgres).await;
}

#[tokio::test]
async fn lost_follow_ups_are_redone_once_the_listing_is_quiet_on_sqlite() {
    lost_follow_ups_are_redone_once_the_listing_is_quiet(DbKind::Sqlite).await;
}

/// A listing that keeps changing is left to a later round, then caught up.
#[tokio::test]
async fn a_busy_listing_is_caught_up_by_a_later_round() {
    let app = spawn_app_with(DbKind::Postgres, |_| {}).await;
    let mark = EffectsMark::default();
    let invoice = app.listed(&app.seller()).await;
    app.offer(&app.investor(), &invoice, "18").await;
    let active = app.keys.offers_count(invoice.id);
    app.clock.advance(chrono::Duration::seconds(QUIET_SECS + 1));
    assert_eq!(sweep::catch_up(&app.state, &mark).await.unwrap(), 1);
    // A new offer whose increment was lost, just now: busy this round.
    app.offer(&app.investor(), &invoice, "19").await;
    let _: i64 = app.redis.decr(&active).await.unwrap();
    assert_eq!(sweep::catch_up(&app.state, &mark).await.unwrap(), 0);
    assert_eq!(counter(&app, &active).await, Some(1));
    // Quiet by the next round (well past the last round's line): caught up.
    app.clock.advance(chrono::Duration::seconds(QUIET_SECS + 1));
    assert_eq!(sweep::catch_up(&app.state, &mark).await.unwrap(), 1);
    assert_eq!(counter(&app, &active).await, Some(2));
}
