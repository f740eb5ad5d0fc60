//! Database connection for PostgreSQL (production) and SQLite (the embedded default).
//!
//! SQLite runs in WAL mode with a busy timeout, and [`begin_write`] starts write
//! transactions `IMMEDIATE`: a deferred transaction that reads and then writes fails with
//! `SQLITE_BUSY` under concurrency whatever the timeout. Writers of one process also queue
//! on an async lock per database file before `BEGIN`, so they wait their turn in the
//! runtime instead of sleeping in SQLite's busy handler while holding a pool connection
//! (the busy timeout still covers other processes). On PostgreSQL it is a plain `BEGIN`. Atomic state changes are conditional `UPDATE ... WHERE status = ...` checked
//! by rows affected, which is right on both databases (SQLite drops `FOR UPDATE`).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, SqlErr, SqliteTransactionMode,
    Statement, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// Connects to `url` (`postgres://...` or `sqlite://...`), creating the SQLite file's
/// folder when needed; the pool holds up to 16 connections (PostgreSQL) or 8 (SQLite).
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_sized(url, None).await
}

/// [`connect`] with at most `max_connections` (`None`: the defaults above).
pub async fn connect_sized(
    url: &str,
    max_connections: Option<u32>,
) -> Result<DatabaseConnection, DbErr> {
    if let Some(path) = sqlite_path(url)
        && let Some(dir) = std::path::Path::new(&path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10))
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .create_if_missing(true)
        });
    opts.min_connections(1);
    if url.starts_with("sqlite:") {
        // Each SQLite connection is a thread of its own with its page cache: the ones a
        // burst opened are closed after a minute idle, so an idle service gives the
        // memory back (sqlx's default keeps them ten minutes).
        opts.max_connections(max_connections.unwrap_or(8))
            .idle_timeout(Duration::from_secs(60));
    } else {
        opts.max_connections(max_connections.unwrap_or(16));
    }
    Database::connect(opts).await
}

/// Connects and applies every pending migration of `M`.
pub async fn connect_and_migrate<M: MigratorTrait>(url: &str) -> Result<DatabaseConnection, DbErr> {
    let db = connect(url).await?;
    M::up(&db, None).await?;
    Ok(db)
}

/// A write transaction from [`begin_write`]. Use it like a `DatabaseTransaction` (it
/// derefs to one and is a `ConnectionTrait`); on SQLite it also holds the process's write
/// turn for the database until it is committed, rolled back or dropped.
pub struct WriteTxn {
    txn: DatabaseTransaction,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl WriteTxn {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

impl std::ops::Deref for WriteTxn {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }
    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }
    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }
    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }
    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }
    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }
}

/// The write turn of one SQLite database file in this process.
fn sqlite_turn(db: &DatabaseConnection) -> Arc<Mutex<()>> {
    static TURNS: LazyLock<std::sync::Mutex<HashMap<std::path::PathBuf, Arc<Mutex<()>>>>> =
        LazyLock::new(Default::default);
    let file = db
        .get_sqlite_connection_pool()
        .connect_options()
        .get_filename()
        .to_path_buf();
    TURNS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(file)
        .or_default()
        .clone()
}

/// Begins a write transaction: on SQLite, waits for the process's write turn for the file,
/// then `BEGIN IMMEDIATE`; on PostgreSQL, `BEGIN`.
pub async fn begin_write(db: &DatabaseConnection) -> Result<WriteTxn, DbErr> {
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => {
            let turn = sqlite_turn(db).lock_owned().await;
            let txn = db
                .begin_with_options(TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..TransactionOptions::default()
                })
                .await?;
            Ok(WriteTxn {
                txn,
                _turn: Some(turn),
            })
        }
        _ => Ok(WriteTxn {
            txn: db.begin().await?,
            _turn: None,
        }),
    }
}

/// True when the error is a unique-constraint violation (a 409, never a 500).
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// True when the error says the database could not be reached or dropped the connection,
/// not that the statement was wrong: the pool timed out or is closed, the connection broke
/// (I/O, TLS, protocol), PostgreSQL ended the session or refuses new ones (SQLSTATE class
/// 08, 57P01-57P03 as after `pg_terminate_backend` or a restart, 53300 too many
/// connections), or SQLite stayed busy or locked past its timeout. Such a request may be
/// retried: a 503 with `Retry-After`, never a 500. The pool replaces a broken connection
/// (each is tested before it is handed out), so the next request gets a good one.
pub fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as E;
    let sqlx = match err {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
        DbErr::Conn(_) => return true,
        _ => return false,
    };
    match &**sqlx {
        E::Io(_)
        | E::Tls(_)
        | E::Protocol(_)
        | E::PoolTimedOut
        | E::PoolClosed
        | E::WorkerCrashed
        | E::BeginFailed => true,
        E::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<sea_orm::sqlx::postgres::PgDatabaseError>() {
                let code = pg.code();
                code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
            } else if db
                .try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
                .is_some()
            {
                // The primary result code is the extended code's low byte: 5 SQLITE_BUSY,
                // 6 SQLITE_LOCKED.
                db.code()
                    .and_then(|c| c.parse::<i32>().ok())
                    .is_some_and(|c| matches!(c & 0xff, 5 | 6))
            } else {
                false
            }
        }
        _ => false,
    }
}

/// A trivial query, for readiness probes.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}

fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_path_is_taken_from_the_url() {
        assert_eq!(
            sqlite_path("sqlite://data/auth.db?mode=rwc").as_deref(),
            Some("data/auth.db")
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://localhost/x"), None);
    }
}

/// Column shapes every service's migrations use.
pub mod columns {
    use sea_orm_migration::prelude::{ColumnDef, IntoIden};

    /// A required timestamp with time zone.
    pub fn timestamp(c: impl IntoIden) -> ColumnDef {
        ColumnDef::new(c)
            .timestamp_with_time_zone()
            .not_null()
            .to_owned()
    }

    /// An optional timestamp with time zone.
    pub fn timestamp_null(c: impl IntoIden) -> ColumnDef {
        ColumnDef::new(c)
            .timestamp_with_time_zone()
            .null()
            .to_owned()
    }

    /// A required string of at most `len` characters.
    pub fn string(c: impl IntoIden, len: u32) -> ColumnDef {
        ColumnDef::new(c).string_len(len).not_null().to_owned()
    }

    /// The version of a row people decide on (`crate::http::version`): starts at 1,
    /// bumped by every change.
    pub fn version(c: impl IntoIden) -> ColumnDef {
        ColumnDef::new(c)
            .big_integer()
            .not_null()
            .default(1)
            .to_owned()
    }
}

/// Creates the index `name` on `table`'s `cols` (unique if `unique`), unless it exists:
/// what every service's migrations make their indexes with.
pub async fn index(
    m: &sea_orm_migration::SchemaManager<'_>,
    name: &str,
    table: impl sea_orm_migration::prelude::IntoIden,
    cols: &[&str],
    unique: bool,
) -> Result<(), DbErr> {
    use sea_orm_migration::prelude::{Alias, Index};
    let mut idx = Index::create();
    idx.name(name).table(table).if_not_exists();
    for c in cols {
        idx.col(Alias::new(*c));
    }
    if unique {
        idx.unique();
    }
    m.create_index(idx.to_owned()).await
}

/// The migration that gives `table` its `version` column ([`columns::version`]): what
/// people decide on (offers, invoices, KYC submissions) carries a version the decision
/// names in `If-Match` (`crate::http::version`). `name` is the migration's name in the
/// service's migration history.
pub struct AddVersionColumn {
    pub name: &'static str,
    pub table: &'static str,
}

impl sea_orm_migration::MigrationName for AddVersionColumn {
    fn name(&self) -> &str {
        self.name
    }
}

#[async_trait::async_trait]
impl sea_orm_migration::MigrationTrait for AddVersionColumn {
    async fn up(&self, m: &sea_orm_migration::SchemaManager) -> Result<(), DbErr> {
        use sea_orm_migration::prelude::{Alias, Table};
        m.alter_table(
            Table::alter()
                .table(Alias::new(self.table))
                .add_column(columns::version(Alias::new("version")))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &sea_orm_migration::SchemaManager) -> Result<(), DbErr> {
        use sea_orm_migration::prelude::{Alias, Table};
        m.alter_table(
            Table::alter()
                .table(Alias::new(self.table))
                .drop_column(Alias::new("version"))
                .to_owned(),
        )
        .await
    }
}

/// A migration that makes the database refuse any value of `table.column` outside
/// `words` (a status, currency or role: the words of its `string_enum!`), so a bad value
/// cannot be stored by any writer: PostgreSQL by a `CHECK` constraint, SQLite (which
/// cannot add one to an existing table) by triggers before insert and update. `NULL`
/// stays allowed where the column allows it. The reader still checks what it reads
/// ([`common::enums::stored`]).
pub struct OneOfWords {
    pub name: &'static str,
    pub table: &'static str,
    pub column: &'static str,
    pub words: &'static [&'static str],
}

impl OneOfWords {
    fn constraint(&self) -> String {
        format!("{}_{}_words", self.table, self.column)
    }

    fn list(&self) -> Result<String, DbErr> {
        let safe =
            |w: &&str| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if self.words.is_empty() || !self.words.iter().all(safe) {
            return Err(DbErr::Migration(format!(
                "{}: the words of {}.{} must be plain identifiers",
                self.name, self.table, self.column
            )));
        }
        Ok(self
            .words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(", "))
    }
}

impl OneOfWords {
    /// SQLite has no `ADD CONSTRAINT`: the two triggers (insert, update) that refuse
    /// another word. Public for a migration that rebuilds a table and must make them
    /// again in the same batch.
    pub fn sqlite_triggers(&self) -> Result<[String; 2], DbErr> {
        let (t, c, name, list) = (self.table, self.column, self.constraint(), self.list()?);
        let message = format!("{t}.{c} must be one of {}", self.words.join(", "));
        let trigger = |when: &str, on: &str| {
            format!(
                "CREATE TRIGGER \"{name}_{when}\" BEFORE {on} ON \"{t}\" \
                 WHEN NEW.\"{c}\" NOT IN ({list}) \
                 BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )
        };
        Ok([
            trigger("insert", "INSERT"),
            trigger("update", &format!("UPDATE OF \"{c}\"")),
        ])
    }
}

/// SQLite cannot drop a NOT NULL or change a primary key: a migration moves the rows of
/// `table` into a table made from `next` (its columns; the name is set here), copying
/// `columns` from the `select` expressions (the same columns, or constants for new
/// ones), then runs `then` (indexes, triggers: dropped with the old table). One batch,
/// in one transaction, on one connection: on a pool, the other connections would act on
/// the schema they read before (a trigger "already exists"), and a crash halfway would
/// leave the rows in a table of another name.
pub async fn rebuild_sqlite_table(
    m: &sea_orm_migration::SchemaManager<'_>,
    table: &str,
    next: &sea_orm_migration::prelude::TableCreateStatement,
    columns: &str,
    select: &str,
    then: &[String],
) -> Result<(), DbErr> {
    let temporary = format!("{table}_next");
    let mut next = next.clone();
    next.table(sea_orm_migration::prelude::Alias::new(&temporary));
    let create = m.get_database_backend().build(&next).to_string();
    let mut batch = format!(
        "BEGIN IMMEDIATE; {create}; \
         INSERT INTO \"{temporary}\" ({columns}) SELECT {select} FROM \"{table}\"; \
         DROP TABLE \"{table}\"; \
         ALTER TABLE \"{temporary}\" RENAME TO \"{table}\"; "
    );
    for statement in then {
        batch.push_str(statement);
        batch.push_str("; ");
    }
    batch.push_str("COMMIT;");
    m.get_connection().execute_unprepared(&batch).await?;
    Ok(())
}

impl sea_orm_migration::MigrationName for OneOfWords {
    fn name(&self) -> &str {
        self.name
    }
}

#[async_trait::async_trait]
impl sea_orm_migration::MigrationTrait for OneOfWords {
    async fn up(&self, m: &sea_orm_migration::SchemaManager) -> Result<(), DbErr> {
        let (t, c, name, list) = (self.table, self.column, self.constraint(), self.list()?);
        let db = m.get_connection();
        match m.get_database_backend() {
            sea_orm::DatabaseBackend::Sqlite => {
                for trigger in self.sqlite_triggers()? {
                    db.execute_unprepared(&trigger).await?;
                }
            }
            _ => {
                db.execute_unprepared(&format!(
                    "ALTER TABLE \"{t}\" ADD CONSTRAINT \"{name}\" CHECK (\"{c}\" IN ({list}))"
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, m: &sea_orm_migration::SchemaManager) -> Result<(), DbErr> {
        let (t, name) = (self.table, self.constraint());
        let db = m.get_connection();
        match m.get_database_backend() {
            sea_orm::DatabaseBackend::Sqlite => {
                for when in ["insert", "update"] {
                    db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS \"{name}_{when}\""))
                        .await?;
                }
            }
            _ => {
                db.execute_unprepared(&format!(
                    "ALTER TABLE \"{t}\" DROP CONSTRAINT IF EXISTS \"{name}\""
                ))
                .await?;
            }
        }
        Ok(())
    }
}
