//! A status or currency the service does not know is refused by the database, and if one
//! is there anyway it is an error, never read as a default (an unknown status used to read
//! as `draft`, an unknown currency as NGN).

use invoice::store::entity::invoice;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use testkit::DbKind;
use uuid::Uuid;

/// Writes `word` into `column` of invoice `id` behind the service's back.
async fn write(
    db: &DatabaseConnection,
    id: Uuid,
    column: invoice::Column,
    word: &str,
) -> Result<u64, DbErr> {
    invoice::Entity::update_many()
        .col_expr(column, Expr::value(word))
        .filter(invoice::Column::Id.eq(id))
        .exec(db)
        .await
        .map(|r| r.rows_affected)
}

use crate::helpers::{id_of, spawn_app_with};

async fn refused_by_the_database_and_never_read_as_a_default(kind: DbKind) {
    let app = spawn_app_with(kind, |_| {}).await;
    let seller = app.seller();
    let id = id_of(&app.draft(&seller, 1).await);
    let db = app.db.connect().await;
    assert_eq!(
        write(&db, id, invoice::Column::Status, "draft")
            .await
            .unwrap(),
        1
    );
    for (column, name, word) in [
        (invoice::Column::Status, "status", "paid"),
        (invoice::Column::Currency, "currency", "XYZ"),
        (invoice::Column::Status, "status", "Draft"),
    ] {
        let err = write(&db, id, column, word)
            .await
            .expect_err("the database refuses a word outside the enum");
        assert!(
            err.to_string().contains(&format!("invoices_{name}_words"))
                || err
                    .to_string()
                    .contains(&format!("invoices.{name} must be one of")),
            "{err}"
        );
    }
    let res = app.get(&format!("/api/invoices/{id}"), &seller.token).await;
    assert_eq!(res.status(), 200, "the row is untouched");

    // A word that got in anyway (written before the rule, or by hand with the rule off):
    // a server error, not a draft.
    match kind {
        DbKind::Postgres => {
            db.execute_unprepared("ALTER TABLE invoices DROP CONSTRAINT invoices_status_words")
                .await
                .unwrap();
        }
        DbKind::Sqlite => {
            db.execute_unprepared("DROP TRIGGER invoices_status_words_update")
                .await
                .unwrap();
        }
    }
    assert_eq!(
        write(&db, id, invoice::Column::Status, "paid")
            .await
            .unwrap(),
        1
    );
    let res = app
        .get(&format!("/api/invoices/{id}"), &app.admin().token)
        .await;
    assert_eq!(res.status(), 500, "never shown as a default");
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        !body.to_string().contains("paid"),
        "the problem does not leak the stored value: {body}"
    );
}

#[tokio::test]
async fn postgres_refuses_an_unknown_status_and_never_reads_one_as_a_default() {
    refused_by_the_database_and_never_read_as_a_default(DbKind::Postgres).await;
}

#[tokio::test]
async fn sqlite_refuses_an_unknown_status_and_never_reads_one_as_a_default() {
    refused_by_the_database_and_never_read_as_a_default(DbKind::Sqlite).await;
}
