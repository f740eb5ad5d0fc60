//! Write transactions under concurrency: every read-then-write commits and none is lost
//! (exactly 40 of 40), on PostgreSQL and SQLite. The read takes the row's lock where the
//! database needs it (`FOR UPDATE` on PostgreSQL; SQLite's IMMEDIATE write transactions
//! already run one at a time).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use sea_orm_migration::{MigrationTrait, SchemaManager};
use service_kit::db::OneOfWords;
use testkit::{DbKind, TestDb};

async fn read_then_write_transactions_all_commit_and_none_is_lost(kind: DbKind) {
    let test_db = TestDb::new(kind).await;
    let db = test_db.connect().await;
    db.execute_unprepared("CREATE TABLE counter (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)")
        .await
        .unwrap();
    db.execute_unprepared("INSERT INTO counter (id, n) VALUES (1, 0)")
        .await
        .unwrap();
    let backend = db.get_database_backend();
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                let txn = service_kit::db::begin_write(&db).await?;
                // Read, then write what was read plus one: lost updates would show.
                let read = match backend {
                    DbBackend::Postgres => "SELECT n FROM counter WHERE id = 1 FOR UPDATE",
                    _ => "SELECT n FROM counter WHERE id = 1",
                };
                let row = txn
                    .query_one_raw(Statement::from_string(backend, read))
                    .await?
                    .expect("row");
                let n: i64 = row.try_get("", "n")?;
                let sql = match backend {
                    DbBackend::Postgres => "UPDATE counter SET n = $1 WHERE id = 1",
                    _ => "UPDATE counter SET n = ? WHERE id = 1",
                };
                txn.execute_raw(Statement::from_sql_and_values(
                    backend,
                    sql,
                    [(n + 1).into()],
                ))
                .await?;
                txn.commit().await
            })
        })
        .collect();
    let mut failures = Vec::new();
    for t in tasks {
        if let Err(e) = t.await.unwrap() {
            failures.push(e.to_string());
        }
    }
    let row = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT n FROM counter WHERE id = 1",
        ))
        .await
        .unwrap()
        .unwrap();
    let n: i64 = row.try_get("", "n").unwrap();
    assert!(failures.is_empty(), "{kind:?}: {failures:?}");
    assert_eq!(n, 40, "{kind:?}: every increment counts");
}

#[tokio::test]
async fn concurrent_write_transactions_on_sqlite_queue_and_all_count() {
    read_then_write_transactions_all_commit_and_none_is_lost(DbKind::Sqlite).await;
}

#[tokio::test]
async fn concurrent_write_transactions_on_postgres_all_commit_and_all_count() {
    read_then_write_transactions_all_commit_and_none_is_lost(DbKind::Postgres).await;
}

/// Each process's increments in [`two_processes_writing_one_sqlite_file_lose_nothing`].
const PER_PROCESS: i64 = 100;

/// One writer process: `PER_PROCESS` read-then-write increments of the counter in the
/// SQLite file at `VESTIO_SQLITE_CHILD`, each its own write transaction. Run by the test
/// below as a child process (ignored on its own).
#[tokio::test]
#[ignore = "a child process of two_processes_writing_one_sqlite_file_lose_nothing"]
async fn sqlite_writer_child() {
    let url = std::env::var("VESTIO_SQLITE_CHILD").expect("run by the parent test");
    let db = service_kit::db::connect(&url).await.unwrap();
    for _ in 0..PER_PROCESS {
        let txn = service_kit::db::begin_write(&db).await.unwrap();
        let row = txn
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT n FROM counter WHERE id = 1",
            ))
            .await
            .unwrap()
            .unwrap();
        let n: i64 = row.try_get("", "n").unwrap();
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "UPDATE counter SET n = ? WHERE id = 1",
            [(n + 1).into()],
        ))
        .await
        .unwrap();
        txn.commit().await.unwrap();
    }
}

/// Two OS processes (two connection pools, two SQLite lock holders) writing one file at
/// once, as two instances of a service on one machine would: WAL, the busy timeout and
/// IMMEDIATE write transactions make every increment count, and none fails.
#[tokio::test]
async fn two_processes_writing_one_sqlite_file_lose_nothing() {
    let test_db = TestDb::new(DbKind::Sqlite).await;
    let db = test_db.connect().await;
    db.execute_unprepared("CREATE TABLE counter (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)")
        .await
        .unwrap();
    db.execute_unprepared("INSERT INTO counter (id, n) VALUES (1, 0)")
        .await
        .unwrap();
    let me = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new(&me)
                .args(["--exact", "sqlite_writer_child", "--ignored", "--nocapture"])
                .env("VESTIO_SQLITE_CHILD", &test_db.url)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success(), "a writer process failed: {status}");
    }
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT n FROM counter WHERE id = 1",
        ))
        .await
        .unwrap()
        .unwrap();
    let n: i64 = row.try_get("", "n").unwrap();
    assert_eq!(
        n,
        2 * PER_PROCESS,
        "every increment of both processes counts"
    );
}

common::string_enum! {
    enum Light { Red = "red", Amber = "amber", Green = "green" }
}

const WORDS: OneOfWords = OneOfWords {
    name: "m_lights_words",
    table: "lights",
    column: "colour",
    words: Light::WORDS,
};

/// `service_kit::db::OneOfWords`: the database itself refuses a status, currency or role that
/// is not one of its enum's words, on PostgreSQL and on SQLite.
async fn lights(kind: DbKind) -> (TestDb, DatabaseConnection) {
    let test_db = TestDb::new(kind).await;
    let db = test_db.connect().await;
    db.execute_unprepared("CREATE TABLE lights (id INTEGER PRIMARY KEY, colour TEXT)")
        .await
        .unwrap();
    WORDS.up(&SchemaManager::new(&db)).await.unwrap();
    (test_db, db)
}

async fn count(db: &DatabaseConnection) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM lights",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

async fn refuses_words_outside_the_enum(kind: DbKind) {
    let (_keep, db) = lights(kind).await;
    db.execute_unprepared("INSERT INTO lights VALUES (1, 'red'), (2, NULL)")
        .await
        .unwrap();
    let bad_insert = db
        .execute_unprepared("INSERT INTO lights VALUES (3, 'blue')")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        bad_insert.contains("lights_colour_words")
            || bad_insert.contains("lights.colour must be one of red, amber, green"),
        "{bad_insert}"
    );
    assert!(
        db.execute_unprepared("UPDATE lights SET colour = 'Red' WHERE id = 1")
            .await
            .is_err(),
        "a word in another case is another word"
    );
    db.execute_unprepared("UPDATE lights SET colour = 'green' WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(count(&db).await, 2, "the refused insert stored nothing");

    // Down removes the rule.
    WORDS.down(&SchemaManager::new(&db)).await.unwrap();
    db.execute_unprepared("INSERT INTO lights VALUES (3, 'blue')")
        .await
        .unwrap();
}

#[tokio::test]
async fn postgres_refuses_words_outside_the_enum() {
    refuses_words_outside_the_enum(DbKind::Postgres).await;
}

#[tokio::test]
async fn sqlite_refuses_words_outside_the_enum() {
    refuses_words_outside_the_enum(DbKind::Sqlite).await;
}

/// SQLite's table rebuild: the rows move to a table whose column may now be null, the
/// statements given after it (an index, word triggers) are made again, and what was
/// there before is gone under the old name.
#[tokio::test]
async fn a_sqlite_table_is_rebuilt_with_its_rows_indexes_and_triggers() {
    use sea_orm_migration::prelude::{ColumnDef, Table};
    let test_db = TestDb::new(DbKind::Sqlite).await;
    let db = test_db.connect().await;
    db.execute_unprepared(
        "CREATE TABLE notes (id INTEGER NOT NULL PRIMARY KEY, colour TEXT NOT NULL, body TEXT NOT NULL)",
    )
    .await
    .unwrap();
    db.execute_unprepared("INSERT INTO notes VALUES (1, 'red', 'kept'), (2, 'blue', 'kept too')")
        .await
        .unwrap();
    let m = SchemaManager::new(&db);
    let words = OneOfWords {
        name: "test_notes_colour_words",
        table: "notes",
        column: "colour",
        words: &["red", "blue"],
    };
    let [on_insert, on_update] = words.sqlite_triggers().unwrap();
    let next = Table::create()
        .col(ColumnDef::new("id").integer().not_null().primary_key())
        .col(ColumnDef::new("colour").string().not_null())
        .col(ColumnDef::new("body").string().null())
        .to_owned();
    service_kit::db::rebuild_sqlite_table(
        &m,
        "notes",
        &next,
        "id, colour, body",
        "id, colour, body",
        &[
            "CREATE INDEX idx_notes_colour ON notes (colour)".into(),
            on_insert,
            on_update,
        ],
    )
    .await
    .unwrap();
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT body FROM notes ORDER BY id",
        ))
        .await
        .unwrap();
    let bodies: Vec<String> = rows
        .iter()
        .map(|r| r.try_get("", "body").unwrap())
        .collect();
    assert_eq!(bodies, ["kept", "kept too"]);
    // The column takes null now; the word check still holds; the index is there.
    db.execute_unprepared("INSERT INTO notes VALUES (3, 'red', NULL)")
        .await
        .unwrap();
    assert!(
        db.execute_unprepared("INSERT INTO notes VALUES (4, 'green', 'x')")
            .await
            .is_err()
    );
    let objects = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT name FROM sqlite_master WHERE name LIKE '%notes%' ORDER BY name",
        ))
        .await
        .unwrap();
    let names: Vec<String> = objects
        .iter()
        .map(|r| r.try_get("", "name").unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "idx_notes_colour",
            "notes",
            "notes_colour_words_insert",
            "notes_colour_words_update"
        ]
    );
}
