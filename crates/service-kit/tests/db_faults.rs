//! A database that drops a connection or stays locked is a 503 the client may retry, never
//! a 500, and the pool recovers by itself: a PostgreSQL session ended under a running
//! query (`pg_terminate_backend`, as an operator, a failover or a restart would), and an
//! SQLite write that finds the file locked past its busy timeout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use actix_web::ResponseError;
use actix_web::http::StatusCode;
use sea_orm::{ConnectOptions, ConnectionTrait, Database};
use service_kit::db::{begin_write, is_unavailable};
use service_kit::http::ApiError;
use testkit::{DbKind, TestDb, wait_until};

const DEADLINE: Duration = Duration::from_secs(30);

/// The answer a handler would give for `err`: 503, `Retry-After: 1`, problem+json.
fn assert_retryable(err: sea_orm::DbErr) {
    assert!(is_unavailable(&err), "{err:?}");
    let api = ApiError::from(err);
    assert_eq!(api.status_code(), StatusCode::SERVICE_UNAVAILABLE);
    let res = api.error_response();
    assert_eq!(res.headers().get("retry-after").unwrap(), "1");
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
}

/// An error that is not about reaching the database (a bad statement): stays a 500.
fn statement_error() -> sea_orm::DbErr {
    sea_orm::DbErr::Custom("not about the connection".into())
}

#[tokio::test]
async fn a_postgres_session_ended_under_a_query_is_a_503_and_the_next_query_succeeds() {
    let test_db = TestDb::new(DbKind::Postgres).await;
    let db = test_db.connect().await;
    let running = {
        let db = db.clone();
        tokio::spawn(async move { db.execute_unprepared("SELECT pg_sleep(30)").await })
    };
    // End every session of the database until the sleeping one is among them.
    wait_until(DEADLINE, "the sleeping query's session ended", || {
        let test_db = &test_db;
        let running = &running;
        async move {
            test_db.kill_connections().await;
            running.is_finished()
        }
    })
    .await;
    let err = running.await.unwrap().expect_err("its session was ended");
    assert_retryable(err.clone());
    // As an unexpected error (anyhow), it is still a 503.
    let wrapped = ApiError::internal(anyhow::Error::from(err).context("reading a user"));
    assert_eq!(wrapped.status_code(), StatusCode::SERVICE_UNAVAILABLE);

    // The pool hands out a good connection next.
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT 1 AS one",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i32>("", "one").unwrap(), 1);
}

#[tokio::test]
async fn an_sqlite_write_that_finds_the_file_locked_is_a_503() {
    let test_db = TestDb::new(DbKind::Sqlite).await;
    let holder = test_db.connect().await;
    holder
        .execute_unprepared("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        .await
        .unwrap();
    // Another pool on the same file that gives up at once when it is locked.
    let mut options = ConnectOptions::new(test_db.url.clone());
    options.max_connections(1).sqlx_logging(false);
    let impatient = Database::connect(options).await.unwrap();
    impatient
        .execute_unprepared("PRAGMA busy_timeout = 0")
        .await
        .unwrap();

    let txn = begin_write(&holder).await.unwrap();
    txn.execute_unprepared("INSERT INTO t (id) VALUES (1)")
        .await
        .unwrap();
    let err = impatient
        .execute_unprepared("INSERT INTO t (id) VALUES (2)")
        .await
        .expect_err("the file is locked by the other writer");
    assert_retryable(err);
    txn.commit().await.unwrap();

    impatient
        .execute_unprepared("INSERT INTO t (id) VALUES (2)")
        .await
        .unwrap();
}

#[test]
fn an_error_about_the_statement_is_not_unavailability() {
    assert!(!is_unavailable(&statement_error()));
    assert!(!is_unavailable(&sea_orm::DbErr::RecordNotFound("x".into())));
    assert_eq!(
        ApiError::from(statement_error()).status_code(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let wrapped = ApiError::internal(anyhow::Error::from(statement_error()).context("loading"));
    assert_eq!(wrapped.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
}
