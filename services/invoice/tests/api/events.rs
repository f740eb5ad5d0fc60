//! What the service tells others: live status on `invoice:{id}`, events through the outbox
//! to the consumers the catalogue names.

use std::collections::{BTreeMap, BTreeSet};

use common::events::{Service, consumers_of};
use sea_orm::EntityTrait;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{DEADLINE, id_of, offer_reserved, payment_changed, spawn_app};

#[tokio::test]
async fn every_status_change_is_published_live_on_the_invoices_channel() {
    let app = spawn_app().await;
    let seller = app.seller();
    let id = id_of(&app.draft(&seller, 1).await);
    let subscriber = service_kit::pubsub::Subscriber::connect(&testkit::redis_url())
        .await
        .unwrap();
    subscriber
        .subscribe(&app.keys.invoice_channel(id))
        .await
        .unwrap();
    let mut live = subscriber.messages();

    app.act(&id.to_string(), "submit", &seller.token).await;
    app.act(&id.to_string(), "verify", &app.admin().token).await;
    app.deliver(&offer_reserved(&app, id)).await;
    app.deliver(&payment_changed(&app, id, "funding", "succeeded"))
        .await;
    app.deliver(&payment_changed(&app, id, "repayment", "succeeded"))
        .await;
    app.deliver(&crate::helpers::settlement_completed(&app, id, "investor"))
        .await;

    for expected in [
        "submitted",
        "listed",
        "accepted",
        "funded",
        "repaid",
        "settled",
    ] {
        let message = tokio::time::timeout(DEADLINE, live.recv())
            .await
            .unwrap_or_else(|_| panic!("no live message for {expected}"))
            .unwrap();
        assert_eq!(message.channel, app.keys.invoice_channel(id));
        let body: Value = message.json().unwrap();
        assert_eq!(body["invoice_id"], id.to_string());
        assert_eq!(body["status"], expected, "{body}");
        assert!(body["updated_at"].is_string(), "{body}");
    }
    let now = app.invoice(id).await;
    assert_eq!(now["status"], "settled");
    subscriber.quit().await.unwrap();
}

#[tokio::test]
async fn every_status_change_reaches_exactly_the_consumers_the_catalogue_names() {
    let app = spawn_app().await;
    let seller = app.seller();
    let admin = app.admin();
    // listed, then cancelled
    let cancelled = id_of(&app.listed(&seller, 1).await);
    app.act(&cancelled.to_string(), "cancel", &seller.token)
        .await;
    // submitted, then rejected
    let rejected = id_of(&app.draft(&seller, 2).await);
    app.act(&rejected.to_string(), "submit", &seller.token)
        .await;
    app.act(&rejected.to_string(), "reject", &admin.token).await;
    // accepted, funded (status_changed, acceptance_confirmed)
    let funded = app.funded(&seller, 3).await;
    // an acceptance refused
    app.deliver(&offer_reserved(&app, cancelled)).await;
    app.wait_for_event(
        Service::Marketplace,
        "invoice.acceptance_refused",
        cancelled,
    )
    .await;

    testkit::wait_until(DEADLINE, "the outbox to be relayed", || async {
        service_kit::outbox::pending(&app.state.db).await.unwrap() == 0
    })
    .await;
    let rows = service_kit::outbox::entity::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    // Where each event went (events:invoice is this service's own queue, drained by its
    // consumer; the catalogue never sends an invoice event there).
    let mut reached: BTreeMap<Uuid, BTreeSet<&str>> = BTreeMap::new();
    for service in Service::ALL {
        if service == Service::Invoice {
            continue;
        }
        for e in app.events_on(service).await {
            assert_eq!(e.producer, Service::Invoice);
            reached.entry(e.id).or_default().insert(service.as_str());
        }
    }
    let mut types = BTreeSet::new();
    for row in &rows {
        assert!(row.sent_at.is_some(), "{} not marked sent", row.event_type);
        let expected: BTreeSet<&str> = consumers_of(&row.event_type)
            .iter()
            .map(|s| s.as_str())
            .collect();
        assert!(!expected.is_empty(), "{} has no consumers", row.event_type);
        assert_eq!(
            reached.get(&row.id).cloned().unwrap_or_default(),
            expected,
            "{} went to the wrong queues",
            row.event_type
        );
        types.insert(row.event_type.as_str());
    }
    assert_eq!(
        types,
        BTreeSet::from([
            "invoice.submitted",
            "invoice.listed",
            "invoice.rejected",
            "invoice.cancelled",
            "invoice.status_changed",
            "invoice.acceptance_confirmed",
            "invoice.acceptance_refused",
        ])
    );
    assert_eq!(reached.len(), rows.len(), "queues hold only outbox events");

    // One event per status change (the draft's creation is not one).
    let changes = {
        let mut n = 0;
        for id in [cancelled, rejected, funded] {
            n += app
                .history(id)
                .await
                .iter()
                .filter(|h| !h["from"].is_null())
                .count();
        }
        n
    };
    let status_events = rows
        .iter()
        .filter(|r| !r.event_type.starts_with("invoice.acceptance_"))
        .count();
    assert_eq!(status_events, changes);

    // The listing carries the invoice's terms, so marketplace needs no call back.
    let listed = &app
        .wait_for_event(Service::Marketplace, "invoice.listed", funded)
        .await;
    assert_eq!(listed.version, 1);
    let p = &listed.payload;
    assert_eq!(p["seller_id"], seller.id.to_string());
    assert_eq!(p["invoice_number"], "INV-0003");
    assert_eq!(p["debtor_name"], "Dangote Cement Plc");
    assert_eq!(p["amount"], "1500000.00");
    assert_eq!(p["amount_minor"], 150_000_000);
    assert_eq!(p["currency"], "NGN");
    assert_eq!(p["from"], "submitted");
    assert_eq!(p["to"], "listed");
    assert_eq!(p["actor"], "admin");
    let rejection = app
        .wait_for_event(Service::Notifications, "invoice.rejected", rejected)
        .await;
    assert_eq!(
        rejection.payload["reason"],
        "The debtor's tax id does not match."
    );
    assert_eq!(rejection.payload["actor_id"], admin.id.to_string());
}
