//! The ledger's store on PostgreSQL and SQLite: postings written once per key, balanced,
//! never a liability below zero (a refused posting changes nothing), and concurrent
//! postings over the same accounts lose no update.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Utc;
use common::ids::{InvoiceId, UserId};
use common::money::Currency;
use payments::domain::PaymentsError;
use payments::domain::ledger::{Account, LedgerError, postings};
use payments::store::ledger::{self, Posted};
use payments::store::migration::Migrator;
use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;
use testkit::{DbKind, TestDb};
use uuid::Uuid;

async fn ledger_db(kind: DbKind) -> (TestDb, DatabaseConnection) {
    let db = TestDb::new(kind).await;
    let conn = db.connect().await;
    Migrator::up(&conn, None).await.unwrap();
    (db, conn)
}

async fn post(
    db: &DatabaseConnection,
    p: &payments::domain::ledger::Posting,
) -> Result<Posted, PaymentsError> {
    let txn = service_kit::db::begin_write(db).await.unwrap();
    let r = ledger::post(&*txn, Utc::now(), p, None).await;
    match r {
        Ok(posted) => {
            txn.commit().await.unwrap();
            Ok(posted)
        }
        Err(e) => {
            txn.rollback().await.unwrap();
            Err(e)
        }
    }
}

async fn each_posting_is_written_once_and_a_negative_liability_changes_nothing(kind: DbKind) {
    let (_db, conn) = ledger_db(kind).await;
    let c = Currency::NGN;
    let invoice = InvoiceId(Uuid::now_v7());
    let seller = UserId(Uuid::now_v7());
    let received = postings::funding_received("payment:1", c, invoice, 145_561_644);
    assert_eq!(post(&conn, &received).await.unwrap(), Posted::Written);
    assert_eq!(post(&conn, &received).await.unwrap(), Posted::AlreadyPosted);
    // Paying the seller before anything is owed to them would take their payable
    // below zero: refused, and nothing of it is written.
    let early = postings::transfer_sent("payment:2", c, Account::SellerPayable(seller), 100);
    let refused = post(&conn, &early).await.unwrap_err();
    assert!(
        matches!(
            refused,
            PaymentsError::Ledger(LedgerError::NegativeLiability { .. })
        ),
        "{refused:?}"
    );
    assert!(!ledger::posted(&conn, "payment:2:sent").await.unwrap());
    assert_eq!(
        ledger::balance(&conn, &Account::ProviderClearing.code(), c)
            .await
            .unwrap(),
        145_561_644
    );
    assert_eq!(
        ledger::balance(&conn, &Account::SellerPayable(seller).code(), c)
            .await
            .unwrap(),
        0
    );
    let allocated =
        postings::funding_allocated("payment:1", c, invoice, seller, 144_061_644, 1_500_000);
    post(&conn, &allocated).await.unwrap();
    post(
        &conn,
        &postings::transfer_sent("payment:2", c, Account::SellerPayable(seller), 144_061_644),
    )
    .await
    .unwrap();
    assert!(ledger::check(&conn).await.unwrap().is_empty());
    let tb = ledger::trial_balance(&conn).await.unwrap();
    assert_eq!(tb.len(), 1);
    assert!(tb[0].balanced);
    assert_eq!(tb[0].debits_minor, 145_561_644 * 2 + 144_061_644);
    assert_eq!(tb[0].revenue_minor, 1_500_000);
    assert_eq!(tb[0].assets_minor, 1_500_000);
}

#[tokio::test]
async fn each_posting_is_written_once_and_a_negative_liability_changes_nothing_postgres() {
    each_posting_is_written_once_and_a_negative_liability_changes_nothing(DbKind::Postgres).await;
}

#[tokio::test]
async fn each_posting_is_written_once_and_a_negative_liability_changes_nothing_sqlite() {
    each_posting_is_written_once_and_a_negative_liability_changes_nothing(DbKind::Sqlite).await;
}

/// 40 tasks post at once over the same clearing and fee accounts: every balance is the
/// sum of its entries (no lost update), and the ledger balances.
async fn concurrent_postings_lose_no_update(kind: DbKind) {
    let (_db, conn) = ledger_db(kind).await;
    let c = Currency::USD;
    let mut tasks = Vec::new();
    for i in 0..40i64 {
        let conn = conn.clone();
        tasks.push(tokio::spawn(async move {
            let invoice = InvoiceId(Uuid::now_v7());
            let seller = UserId(Uuid::now_v7());
            let key = format!("payment:{i}");
            for p in [
                postings::funding_received(&key, c, invoice, 1_000 + i),
                postings::funding_allocated(&key, c, invoice, seller, 990 + i, 10),
            ] {
                post(&conn, &p).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(ledger::check(&conn).await.unwrap().is_empty());
    let expected: i64 = (0..40).map(|i| 1_000 + i).sum();
    assert_eq!(
        ledger::balance(&conn, &Account::ProviderClearing.code(), c)
            .await
            .unwrap(),
        expected
    );
    assert_eq!(
        ledger::balance(&conn, &Account::FeeRevenue.code(), c)
            .await
            .unwrap(),
        400
    );
}

#[tokio::test]
async fn concurrent_postings_lose_no_update_postgres() {
    concurrent_postings_lose_no_update(DbKind::Postgres).await;
}

#[tokio::test]
async fn concurrent_postings_lose_no_update_sqlite() {
    concurrent_postings_lose_no_update(DbKind::Sqlite).await;
}
