//! Tampering with the audit log is detected, and `verify` names where: a row edited
//! (even with a fresh plain hash), a row removed, the newest rows removed with the head
//! rewound to match, on PostgreSQL and SQLite.

use admin::store::entity::{audit_entry, audit_head};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
};
use serde_json::Value;
use testkit::DbKind;
use uuid::Uuid;

use crate::audit::registered;
use crate::helpers::{TestApp, spawn_app};

async fn row(app: &TestApp, seq: i64) -> audit_entry::Model {
    audit_entry::Entity::find_by_id(seq)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
}

fn bad(verified: &Value) -> (i64, String) {
    assert_eq!(verified["ok"], false, "{verified}");
    (
        verified["first_bad"]["seq"].as_i64().unwrap(),
        verified["first_bad"]["reason"].as_str().unwrap().to_owned(),
    )
}

/// Edits row `seq` with `edit`, checks that `verify` names it, and puts it back.
async fn edited(app: &TestApp, seq: i64, edit: impl FnOnce(&mut audit_entry::ActiveModel)) {
    let original = row(app, seq).await;
    let mut changed = original.clone().into_active_model();
    edit(&mut changed);
    changed.update(&app.state.db).await.unwrap();
    let (bad_seq, reason) = bad(&app.verify().await);
    assert_eq!(bad_seq, seq, "{reason}");
    original
        .into_active_model()
        .reset_all()
        .update(&app.state.db)
        .await
        .unwrap();
    assert_eq!(app.verify().await["ok"], true);
}

async fn tampering_is_detected(kind: DbKind) {
    let app = spawn_app(kind).await;
    for _ in 0..10 {
        app.apply(&app.envelope(registered(Uuid::now_v7()))).await;
    }
    // The head copied outside the database, as the job does.
    admin::jobs::head_copy::run_once(&app.state).await.unwrap();
    let ok = app.verify().await;
    assert_eq!(ok["ok"], true, "{ok}");
    assert_eq!(ok["copied_head"]["count"], 10);

    // An edited payload.
    edited(&app, 4, |r| {
        let payload = r.payload.clone().unwrap();
        r.payload = ActiveValue::Set(payload.replace("seller", "admin"));
    })
    .await;
    // An edited row given a hash of its own making: without the chain key its link
    // cannot be made, and the next row no longer links to it either.
    edited(&app, 5, |r| {
        r.actor_role = ActiveValue::Set("admin".into());
        r.hash = ActiveValue::Set(format!("{:064x}", 5));
    })
    .await;

    // A removed row.
    let removed = row(&app, 6).await;
    audit_entry::Entity::delete_by_id(6)
        .exec(&app.state.db)
        .await
        .unwrap();
    let (seq, reason) = bad(&app.verify().await);
    assert_eq!(seq, 6, "{reason}");
    assert!(reason.contains("missing"), "{reason}");
    removed
        .into_active_model()
        .reset_all()
        .insert(&app.state.db)
        .await
        .unwrap();
    assert_eq!(app.verify().await["ok"], true);

    // The newest rows removed: the head names them.
    audit_entry::Entity::delete_many()
        .filter(audit_entry::Column::Seq.gt(8))
        .exec(&app.state.db)
        .await
        .unwrap();
    let (seq, reason) = bad(&app.verify().await);
    assert_eq!(seq, 9, "{reason}");
    // ... and with the head rewound to match, the copy outside the database does.
    let eighth = row(&app, 8).await;
    audit_head::Entity::update_many()
        .col_expr(audit_head::Column::Count, 8_i64.into())
        .col_expr(audit_head::Column::Hash, eighth.hash.clone().into())
        .filter(audit_head::Column::Id.eq(1))
        .exec(&app.state.db)
        .await
        .unwrap();
    let (seq, reason) = bad(&app.verify().await);
    assert_eq!(seq, 9, "{reason}");
    assert!(reason.contains("copied"), "{reason}");
    // The copy refuses to move back to the rewound head.
    assert_eq!(
        admin::jobs::head_copy::run_once(&app.state).await.unwrap(),
        admin::outbound::Copied::WentBack
    );
    assert_eq!(app.verify().await["copied_head"]["count"], 10);

    // Everything truncated: still caught.
    audit_entry::Entity::delete_many()
        .exec(&app.state.db)
        .await
        .unwrap();
    audit_head::Entity::update_many()
        .col_expr(audit_head::Column::Count, 0_i64.into())
        .col_expr(
            audit_head::Column::Hash,
            admin::domain::audit::GENESIS.into(),
        )
        .filter(audit_head::Column::Id.eq(1))
        .exec(&app.state.db)
        .await
        .unwrap();
    let (seq, reason) = bad(&app.verify().await);
    assert_eq!(seq, 1, "{reason}");
}

#[tokio::test]
async fn tampering_is_detected_and_named_postgres() {
    tampering_is_detected(DbKind::Postgres).await;
}

#[tokio::test]
async fn tampering_is_detected_and_named_sqlite() {
    tampering_is_detected(DbKind::Sqlite).await;
}

#[tokio::test]
async fn seeded_rows_extend_the_chain_and_it_still_verifies() {
    let app = spawn_app(DbKind::Sqlite).await;
    app.apply(&app.envelope(registered(Uuid::now_v7()))).await;
    let count = admin::store::seed::seed(
        &app.state.db,
        crate::helpers::CHAIN_KEY.as_bytes(),
        2_500,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(count, 2_501);
    app.apply(&app.envelope(registered(Uuid::now_v7()))).await;
    let verified = app.verify().await;
    assert_eq!(verified["ok"], true, "{verified}");
    assert_eq!(verified["rows"], 2_502);
    let page = app.search("action=offer.placed&limit=5").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
}
