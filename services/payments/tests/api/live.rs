//! `payment:{id}`, the live status screens read: written after each change over older
//! versions only, and rewritten by the sweep when a change's write never happened (the
//! process died after the commit, or Redis was away).

use fred::prelude::HashesInterface;
use payments::store::entity::payment;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use std::collections::HashMap;
use uuid::Uuid;

use crate::helpers::{DEADLINE, TestApp, spawn_app};

async fn live(app: &TestApp, id: Uuid) -> HashMap<String, String> {
    app.redis.hgetall(app.keys.payment(id)).await.unwrap()
}

#[tokio::test]
async fn the_live_status_follows_the_newest_version_and_the_sweep_rewrites_a_lost_one() {
    let app = spawn_app().await;
    let seller = app.seller();
    let (financing, investor) = app.paid(&seller).await;
    // The payment's last change (the webhook's) done.
    app.wait_for_financing_status(&financing, &investor, "funded")
        .await;
    let financing: Uuid = financing.parse().unwrap();
    let p = payment::Entity::find()
        .filter(payment::Column::FinancingId.eq(financing))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    // Written after the change that made it (and any since), at its version.
    let now = testkit::wait_for(
        DEADLINE,
        "the live status at the database's version",
        || async {
            let p = payment::Entity::find_by_id(p.id)
                .one(&app.state.db)
                .await
                .unwrap()
                .unwrap();
            let held = live(&app, p.id).await;
            (held.get("version") == Some(&p.version.to_string())).then_some(p)
        },
    )
    .await;
    assert_eq!(live(&app, now.id).await["status"], now.status);
    // With every write done, the sweep has nothing to rewrite. (Waited for: the funding's
    // payout may still be between its commit and its own live write; on a cluster, with
    // its slower round trips, the sweep can meet it there.)
    testkit::wait_until(DEADLINE, "nothing behind for the sweep", || async {
        payments::outbound::reconcile_live(&app.state)
            .await
            .unwrap()
            == 0
    })
    .await;

    // A change committed whose write never happened: the sweep writes it, once.
    let mut changed: payment::ActiveModel = now.clone().into();
    changed.note = Set(Some("changed behind Redis's back".into()));
    changed.version = Set(now.version + 1);
    changed.updated_at = Set(app.state.clock.now());
    let changed = changed.update(&app.state.db).await.unwrap();
    assert_eq!(live(&app, now.id).await["version"], now.version.to_string());
    assert_eq!(
        payments::outbound::reconcile_live(&app.state)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        live(&app, now.id).await["version"],
        changed.version.to_string()
    );
    assert_eq!(
        payments::outbound::reconcile_live(&app.state)
            .await
            .unwrap(),
        0
    );

    // An older change's write arriving late leaves the newer status in place.
    payments::outbound::after(&app.state, std::slice::from_ref(&now)).await;
    assert_eq!(
        live(&app, now.id).await["version"],
        changed.version.to_string()
    );

    // A status lost with Redis's data comes back at the next round.
    let _: i64 = fred::prelude::KeysInterface::del(&app.redis, app.keys.payment(now.id))
        .await
        .unwrap();
    assert_eq!(
        payments::outbound::reconcile_live(&app.state)
            .await
            .unwrap(),
        1
    );
    assert_eq!(live(&app, now.id).await["status"], changed.status);
}
