//! What the service hears on `events:invoice`: marketplace's reserved offers and
//! payments' results become transitions here, each applied once.

use common::events::Service;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{
    DEADLINE, TestApp, events_about, id_of, offer_reserved, payment_changed, payment_with,
    settlement_completed, spawn_app, steps,
};

#[tokio::test]
async fn a_reserved_offer_on_a_listed_invoice_is_accepted_and_confirmed() {
    let app = spawn_app().await;
    let seller = app.seller();
    let id = id_of(&app.listed(&seller, 1).await);
    let offer = offer_reserved(&app, id);
    app.deliver(&offer).await;
    app.wait_for_status(id, "accepted").await;

    for consumer in [Service::Marketplace, Service::Payments] {
        let confirmed = app
            .wait_for_event(consumer, "invoice.acceptance_confirmed", id)
            .await;
        assert_eq!(confirmed.producer, Service::Invoice);
        assert_eq!(confirmed.payload["offer_id"], offer.payload["offer_id"]);
        assert_eq!(
            confirmed.payload["investor_id"],
            offer.payload["investor_id"]
        );
        assert_eq!(confirmed.payload["seller_id"], seller.id.to_string());
    }
    let changed = app
        .wait_for_event(Service::Marketplace, "invoice.status_changed", id)
        .await;
    assert_eq!(changed.payload["from"], "listed");
    assert_eq!(changed.payload["to"], "accepted");
    assert_eq!(changed.payload["actor"], "marketplace");
    let history = app.history(id).await;
    let last = history.last().unwrap();
    assert_eq!(
        (&last["from"], &last["to"], &last["actor"]),
        (&json!("listed"), &json!("accepted"), &json!("marketplace"))
    );
    // Investors no longer see it among the listings.
    let res = app
        .get(&format!("/api/invoices/{id}"), &app.investor().token)
        .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn a_reserved_offer_on_a_cancelled_or_unknown_invoice_is_refused_naming_its_status() {
    let app = spawn_app().await;
    let seller = app.seller();
    let id = id_of(&app.listed(&seller, 1).await);
    app.act(&id.to_string(), "cancel", &seller.token).await;
    let offer = offer_reserved(&app, id);
    app.deliver(&offer).await;
    let refused = app
        .wait_for_event(Service::Marketplace, "invoice.acceptance_refused", id)
        .await;
    assert_eq!(refused.payload["status"], "cancelled");
    assert_eq!(refused.payload["offer_id"], offer.payload["offer_id"]);
    assert_eq!(app.invoice(id).await["status"], "cancelled");
    assert_eq!(
        steps(&app, id).await.last().unwrap().1,
        "cancelled",
        "no step after the cancellation"
    );
    assert_eq!(app.history(id).await.len(), 4);
    assert!(
        events_about(
            &app,
            Service::Marketplace,
            "invoice.acceptance_confirmed",
            id
        )
        .await
        .is_empty()
    );
    assert!(
        events_about(&app, Service::Payments, "invoice.acceptance_refused", id)
            .await
            .is_empty(),
        "a refusal concerns marketplace only"
    );

    let unknown = Uuid::now_v7();
    app.deliver(&offer_reserved(&app, unknown)).await;
    let refused = app
        .wait_for_event(Service::Marketplace, "invoice.acceptance_refused", unknown)
        .await;
    assert_eq!(
        refused.payload["status"],
        json!(null),
        "no status: there is no such invoice"
    );
}

#[tokio::test]
async fn the_same_reserved_offer_delivered_twice_is_applied_once() {
    let app = spawn_app().await;
    let seller = app.seller();
    let id = id_of(&app.listed(&seller, 1).await);
    let offer = offer_reserved(&app, id);
    app.deliver(&offer).await;
    app.deliver(&offer).await;
    // The consumer takes events in order: once a later one is answered, both copies have
    // been handled.
    let later = id_of(&app.listed(&seller, 2).await);
    app.deliver(&offer_reserved(&app, later)).await;
    app.wait_for_event(Service::Marketplace, "invoice.acceptance_confirmed", later)
        .await;
    testkit::wait_until(DEADLINE, "the outbox to be relayed", || async {
        service_kit::outbox::pending(&app.state.db).await.unwrap() == 0
    })
    .await;

    assert_eq!(app.invoice(id).await["status"], "accepted");
    let accepted_steps = steps(&app, id)
        .await
        .into_iter()
        .filter(|(_, to, _)| to == "accepted")
        .count();
    assert_eq!(accepted_steps, 1, "one history row");
    let confirmations = events_about(
        &app,
        Service::Marketplace,
        "invoice.acceptance_confirmed",
        id,
    )
    .await;
    assert_eq!(confirmations.len(), 1, "one confirmation");
    assert_eq!(
        confirmations[0].payload["offer_id"],
        offer.payload["offer_id"]
    );
    assert!(
        events_about(&app, Service::Marketplace, "invoice.acceptance_refused", id)
            .await
            .is_empty(),
        "the copy was not answered as a second, refused acceptance"
    );
    assert_eq!(
        events_about(&app, Service::Marketplace, "invoice.status_changed", id)
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn an_expired_funding_lists_the_invoice_again_and_a_successful_one_funds_it() {
    let app = spawn_app().await;
    let seller = app.seller();
    let id = id_of(&app.listed(&seller, 1).await);
    app.deliver(&offer_reserved(&app, id)).await;
    app.wait_for_status(id, "accepted").await;

    app.deliver(&payment_changed(&app, id, "funding", "expired"))
        .await;
    app.wait_for_status(id, "listed").await;
    let released = testkit::wait_for(DEADLINE, "the release on marketplace's queue", || async {
        events_about(&app, Service::Marketplace, "invoice.status_changed", id)
            .await
            .into_iter()
            .find(|e| e.payload["to"] == "listed")
    })
    .await;
    assert_eq!(released.payload["from"], "accepted");
    assert_eq!(released.payload["actor"], "payments");
    // Listed again: investors see it.
    let res = app
        .get(&format!("/api/invoices/{id}"), &app.investor().token)
        .await;
    assert_eq!(res.status(), 200);

    app.deliver(&offer_reserved(&app, id)).await;
    app.wait_for_status(id, "accepted").await;
    app.deliver(&payment_changed(&app, id, "funding", "succeeded"))
        .await;
    app.wait_for_status(id, "funded").await;
    assert_eq!(
        steps(&app, id).await[3..],
        [
            (json!("listed"), json!("accepted"), json!("marketplace")),
            (json!("accepted"), json!("listed"), json!("payments")),
            (json!("listed"), json!("accepted"), json!("marketplace")),
            (json!("accepted"), json!("funded"), json!("payments")),
        ]
    );
    for consumer in [
        Service::Marketplace,
        Service::Payments,
        Service::Admin,
        Service::Notifications,
    ] {
        testkit::wait_until(
            DEADLINE,
            "the funding on every consumer's queue",
            || async {
                events_about(&app, consumer, "invoice.status_changed", id)
                    .await
                    .iter()
                    .any(|e| e.payload["to"] == "funded")
            },
        )
        .await;
    }
}

/// `events_refused_total` of invoice's consumer for `event_type`, from `/metrics`.
async fn refused(app: &TestApp, event_type: &str) -> u64 {
    let metrics = app.metrics().await;
    let series = format!("events_refused_total{{consumer=\"invoice\",type=\"{event_type}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .map_or(0, |n| n.trim().parse().unwrap())
}

#[tokio::test]
async fn repayment_and_settlement_close_a_funded_invoice_and_inapplicable_payments_change_nothing()
{
    let app = spawn_app().await;
    let seller = app.seller();
    let id = app.funded(&seller, 1).await;
    let refused_before = (
        refused(&app, "settlement.completed").await,
        refused(&app, "payment.status_changed").await,
    );
    // Not applicable now (or not about invoices at all): dropped, not retried.
    app.deliver(&settlement_completed(&app, id, "investor"))
        .await;
    app.deliver(&settlement_completed(&app, id, "seller")).await;
    for (kind, status) in [
        ("funding", "succeeded"),
        ("funding", "expired"),
        ("repayment", "failed"),
        ("payout", "succeeded"),
    ] {
        app.deliver(&payment_changed(&app, id, kind, status)).await;
    }
    app.deliver(&payment_changed(&app, id, "repayment", "succeeded"))
        .await;
    app.wait_for_status(id, "repaid").await;
    app.deliver(&settlement_completed(&app, id, "seller")).await;
    app.deliver(&settlement_completed(&app, id, "investor"))
        .await;
    app.wait_for_status(id, "settled").await;
    assert_eq!(
        steps(&app, id).await[4..],
        [
            (json!("accepted"), json!("funded"), json!("payments")),
            (json!("funded"), json!("repaid"), json!("payments")),
            (json!("repaid"), json!("settled"), json!("payments")),
        ]
    );
    let queue = app.keys.events(Service::Invoice);
    assert!(
        service_kit::queue::dead_letters(&app.redis, &queue, 10)
            .await
            .unwrap()
            .is_empty(),
        "inapplicable events are dropped, not dead-lettered"
    );
    // ... and recorded: the investor's settlement before the repayment, the funding and
    // the expiry of an invoice already funded (a seller's settlement, a failed repayment
    // and a payout change no status: nothing to refuse).
    assert_eq!(
        refused(&app, "settlement.completed").await - refused_before.0,
        1
    );
    assert_eq!(
        refused(&app, "payment.status_changed").await - refused_before.1,
        2
    );
    assert_eq!(
        service_kit::queue::delayed_len(&app.redis, &queue)
            .await
            .unwrap(),
        0,
        "nor retried"
    );
}

/// The payment contract: a part-payment leaves the invoice funded, the repayment that
/// leaves nothing outstanding repays it, and a repayment that does not say what is
/// outstanding repays nothing: it fails (retried, then dead-lettered), never guessed.
#[tokio::test]
async fn only_a_repayment_that_leaves_nothing_outstanding_repays_the_invoice() {
    use fred::prelude::SortedSetsInterface;
    let app = spawn_app().await;
    let seller = app.seller();
    let id = app.funded(&seller, 1).await;

    let unclear = payment_with(&app, id, "repayment", "succeeded", None);
    app.deliver(&unclear).await;
    let queue = app.keys.events(Service::Invoice);
    testkit::wait_until(
        DEADLINE,
        "the unclear repayment set aside to retry",
        || async { app.redis.zcard::<i64, _>(queue.delayed()).await.unwrap() == 1 },
    )
    .await;
    app.deliver(&payment_with(
        &app,
        id,
        "repayment",
        "succeeded",
        Some(50_000_000),
    ))
    .await;
    // A later event is handled after the part-payment: the invoice is still funded then.
    let marker = payment_changed(&app, id, "payout", "succeeded");
    app.deliver(&marker).await;
    testkit::wait_until(DEADLINE, "the queue drained", || async {
        service_kit::queue::len(&app.redis, &queue).await.unwrap() == 0
    })
    .await;
    assert_eq!(app.invoice(id).await["status"], "funded");

    app.deliver(&payment_with(&app, id, "repayment", "succeeded", Some(0)))
        .await;
    app.wait_for_status(id, "repaid").await;
    assert_eq!(
        steps(&app, id).await.last().unwrap(),
        &(json!("funded"), json!("repaid"), json!("payments"))
    );
}

/// What the consumer cannot use goes to the dead letters at once, with the reason: a type
/// it does not accept, a payload that does not decode, a version newer than it knows.
/// Fields it does not know are ignored.
#[tokio::test]
async fn events_the_consumer_cannot_use_are_dead_lettered_with_the_reason_and_change_nothing() {
    let app = spawn_app().await;
    let seller = app.seller();
    let id = app.funded(&seller, 1).await;
    let queue = app.keys.events(Service::Invoice);

    let not_ours = common::events::Envelope::untyped(
        Service::Auth,
        "user.registered",
        json!({"user_id": seller.id}),
        app.clock.as_ref(),
    )
    .unwrap();
    let mut undecodable = payment_changed(&app, id, "repayment", "succeeded");
    undecodable.payload["kind"] = json!("settlement");
    let mut newer = payment_changed(&app, id, "repayment", "succeeded");
    newer.version = 2;
    for e in [&not_ours, &undecodable, &newer] {
        app.deliver(e).await;
    }
    let dead = testkit::wait_for(DEADLINE, "three dead letters", || async {
        let dead = service_kit::queue::dead_letters(&app.redis, &queue, 10)
            .await
            .unwrap();
        (dead.len() == 3).then_some(dead)
    })
    .await;
    let reason_of = |e: &common::events::Envelope| {
        let job = dead
            .iter()
            .find(|j| j.payload["id"] == json!(e.id))
            .expect("dead-lettered");
        assert_eq!(job.attempts, 1, "not retried");
        job.last_error.clone().unwrap()
    };
    assert!(reason_of(&not_ours).contains("events:invoice does not accept user.registered"));
    assert!(
        reason_of(&undecodable).contains("unknown variant `settlement`"),
        "{}",
        reason_of(&undecodable)
    );
    assert!(reason_of(&newer).contains("version 2 is newer than the version 1"));
    assert_eq!(app.invoice(id).await["status"], "funded");

    // A field it does not know is ignored: the same repayment with one more field repays.
    let mut extended = payment_changed(&app, id, "repayment", "succeeded");
    extended.payload["added_in_a_later_version"] = json!(true);
    app.deliver(&extended).await;
    app.wait_for_status(id, "repaid").await;
}

#[tokio::test]
async fn a_killed_consumer_is_restarted_and_applies_the_event_once() {
    let app = spawn_app().await;
    let seller = app.seller();
    let id = id_of(&app.listed(&seller, 1).await);
    testkit::wait_until(DEADLINE, "ready with every task running", || async {
        app.get("/readyz", "").await.status() == 200
    })
    .await;
    let body: serde_json::Value = app.get("/readyz", "").await.json().await.unwrap();
    assert_eq!(
        body["tasks"],
        json!({"consumer": "running", "relay": "running", "sweep": "running"})
    );

    // The event arrives and the consumer dies at once: before, during or after the job.
    let offer = offer_reserved(&app, id);
    app.deliver(&offer).await;
    assert!(app.tasks.kill("consumer"));
    testkit::wait_until(DEADLINE, "the consumer restarted", || async {
        app.tasks.restarts("consumer") == Some(1)
    })
    .await;
    app.wait_for_status(id, "accepted").await;
    testkit::wait_until(DEADLINE, "ready again", || async {
        app.get("/readyz", "").await.status() == 200
    })
    .await;

    // Applied once: one transition, one confirmation per consumer.
    let accepted = steps(&app, id)
        .await
        .into_iter()
        .filter(|(_, to, _)| to == "accepted")
        .count();
    assert_eq!(accepted, 1);
    for consumer in [Service::Marketplace, Service::Payments] {
        app.wait_for_event(consumer, "invoice.acceptance_confirmed", id)
            .await;
        let confirmed = events_about(&app, consumer, "invoice.acceptance_confirmed", id).await;
        assert_eq!(confirmed.len(), 1, "{consumer:?}");
    }
}
