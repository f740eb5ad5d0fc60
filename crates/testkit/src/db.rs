use sea_orm::{ConnectionTrait, Database};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    Postgres,
    Sqlite,
}

/// A database of the test's own: a new PostgreSQL database on the test server, or a
/// SQLite file in a temporary folder. Both are dropped with the value (PostgreSQL
/// databases older than an hour are also swept at creation, in case a run was killed).
pub struct TestDb {
    pub url: String,
    pub kind: DbKind,
    name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

/// The server on which per-test PostgreSQL databases are created.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let base = match base.rfind('/') {
        Some(i) if i > "postgres://".len() => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

impl TestDb {
    pub async fn new(kind: DbKind) -> Self {
        match kind {
            DbKind::Postgres => Self::postgres().await,
            DbKind::Sqlite => Self::sqlite(),
        }
    }

    pub async fn postgres() -> Self {
        let admin = admin_url();
        let conn = Database::connect(&admin)
            .await
            .expect("connect to TEST_DATABASE_URL");
        let now = chrono::Utc::now().timestamp();
        sweep_old(&conn, now).await;
        let name = format!("vt_{now}_{}", uuid::Uuid::new_v4().simple());
        conn.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create test database");
        let _ = conn.close().await;
        Self {
            url: with_database(&admin, &name),
            kind: DbKind::Postgres,
            name: Some(name),
            _dir: None,
        }
    }

    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/test.db?mode=rwc", dir.path().display());
        Self {
            url,
            kind: DbKind::Sqlite,
            name: None,
            _dir: Some(dir),
        }
    }

    /// Ends every PostgreSQL session on this database (`pg_terminate_backend`, as an
    /// operator, a failover or a restart would): the number ended. Nothing on SQLite.
    pub async fn kill_connections(&self) -> usize {
        let Some(name) = &self.name else { return 0 };
        let conn = Database::connect(&admin_url())
            .await
            .expect("connect to TEST_DATABASE_URL");
        let rows = conn
            .query_all_raw(sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                [name.clone().into()],
            ))
            .await
            .expect("terminate the database's sessions");
        let _ = conn.close().await;
        rows.iter()
            .filter(|r| r.try_get::<bool>("", "ended").unwrap_or(false))
            .count()
    }

    /// Connects with the service's own settings (WAL, busy timeout, ...).
    pub async fn connect(&self) -> sea_orm::DatabaseConnection {
        service_kit::db::connect(&self.url)
            .await
            .expect("connect to test database")
    }
}

async fn sweep_old(conn: &sea_orm::DatabaseConnection, now: i64) {
    use sea_orm::{DbBackend, Statement};
    let Ok(rows) = conn
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT datname FROM pg_database WHERE datname LIKE 'vt\\_%'".to_owned(),
        ))
        .await
    else {
        return;
    };
    for row in rows {
        let Ok(name) = row.try_get::<String>("", "datname") else {
            continue;
        };
        let ts = name.split('_').nth(1).and_then(|t| t.parse::<i64>().ok());
        if ts.is_some_and(|t| now - t > 3600) {
            let _ = conn
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.name.take() else { return };
        let admin = admin_url();
        // Drop on a thread of its own: Drop cannot await, and the test's runtime may be
        // shutting down.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(conn) = Database::connect(&admin).await {
                    let _ = conn
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_name_replaces_the_path() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h/postgres?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
