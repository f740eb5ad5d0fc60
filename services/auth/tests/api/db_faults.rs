//! PostgreSQL sessions killed under load (`pg_terminate_backend` on every session of the
//! service's database, round after round, while 16 clients read their account): every
//! answer is a 200 or a 503 problem with `Retry-After` (never a 500, never a dropped
//! connection), and once the kills stop every request succeeds again.

use std::collections::BTreeMap;

use testkit::DbKind;

use crate::helpers::spawn_app_with;

const CLIENTS: usize = 16;
const ROUNDS: usize = 40;

#[tokio::test]
async fn killed_database_sessions_cost_at_most_a_retryable_503_and_the_service_recovers() {
    let app = spawn_app_with(DbKind::Postgres, |_| {}).await;
    let (_, token, _) = app.user("seller").await;

    let mut statuses = BTreeMap::<u16, usize>::new();
    let mut ended = 0;
    for _ in 0..ROUNDS {
        let requests =
            futures::future::join_all((0..CLIENTS).map(|_| app.get_auth("/api/auth/me", &token)));
        let (answers, killed) = tokio::join!(requests, app._db.kill_connections());
        ended += killed;
        for res in answers {
            let status = res.status().as_u16();
            if status == 503 {
                assert_eq!(res.headers()["retry-after"], "1");
                assert_eq!(res.headers()["content-type"], "application/problem+json");
            }
            *statuses.entry(status).or_default() += 1;
        }
    }
    println!("answers {statuses:?}; {ended} database sessions ended");
    assert!(ended > 0, "the kills ended the service's sessions");
    assert!(
        statuses.keys().all(|s| [200, 503].contains(s)),
        "only 200 or a retryable 503: {statuses:?}"
    );

    // The kills have stopped: the pool has replaced its connections.
    for _ in 0..CLIENTS {
        assert_eq!(app.get_auth("/api/auth/me", &token).await.status(), 200);
    }
}
