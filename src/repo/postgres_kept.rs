//! PostgreSQL's hot paths: the special-treatment lookup and replace on pool connections kept
//! between requests, through sqlx directly.
//!
//! sqlx pings every connection it takes back into its pool, a second round trip that wakes
//! PostgreSQL's backend process: 14% of a GET's CPU in this process, and more on PostgreSQL's
//! side; SeaORM's statement and row mapping add another 4-7% (BENCHMARKS.md). Here the
//! statement runs on a connection kept from one request to the next, so it is never returned
//! (nor pinged) in between.
//!
//! A call waits for one of the kept connections as it would for a pool connection: at most the
//! acquire timeout, past which it fails with the pool's own `PoolTimedOut` (a 503, as on the
//! pool). With a connection at hand it runs the statement; with none (no connection kept yet
//! and none idle in the pool) it returns `None` and the caller takes the regular path. When the
//! statement fails, the connection is dropped (back to the pool, whose ping discards it if it
//! broke) and the failure returned to the caller, which decides
//! (`Repository::on_kept_connection`): a statement timeout is answered 504 as on the pool
//! (trying again would only wait as long once more); a broken connection sends the call to the
//! regular path (a read is safe to repeat, and so is a replace: PUT is idempotent, and this is
//! the retry a client would make), so a kept connection that died meanwhile (PostgreSQL
//! restarted, the network cut) costs one failed attempt, never an error answer; anything else
//! is answered like the same failure on the pool.
//!
//! Kept connections are the pool's own, checked out: at most half of `DB_MAX_CONNECTIONS` (none
//! from a pool of one), so every other call always has the other half, and the special-treatment
//! paths have up to half to themselves. They are taken only from the pool's idle connections,
//! never waited for there, and [`KeptConnections::release_all`] hands them back before the pool
//! closes. A kept connection lives as long as it works: sqlx's idle timeout and maximum
//! lifetime apply to connections in the pool, which these are not between requests. (Measured, BENCHMARKS.md: falling back to the pool when all kept connections were
//! busy, instead of waiting for one, left a third of the GETs paying the ping at 64 connections:
//! waiting gave GET +25% req/s and PUT +9%; and keeping a connection only while the pool had an
//! idle one left gave them back exactly when the pool was busy: no gain at full load.)

use std::{sync::PoisonError, time::Duration};

use sea_orm::sqlx::{self, PgPool, Postgres, pool::PoolConnection, types::Json};
use tokio::sync::{Semaphore, SemaphorePermit};
use uuid::Uuid;

pub(super) struct KeptConnections {
    pool: PgPool,
    /// One permit per connection that may be kept: a call holds one while it uses one.
    permits: Semaphore,
    /// Kept connections not in use.
    idle: std::sync::Mutex<Vec<PoolConnection<Postgres>>>,
    /// How long a call waits for a permit before failing with `PoolTimedOut`: the pool's
    /// acquire timeout.
    wait: Duration,
}

impl KeptConnections {
    /// Room for up to half of `pool`'s connections; `None` when that is none.
    pub(super) fn new(pool: &PgPool) -> Option<Self> {
        let count = pool.options().get_max_connections() as usize / 2;
        (count > 0).then(|| KeptConnections {
            pool: pool.clone(),
            permits: Semaphore::new(count),
            idle: std::sync::Mutex::new(Vec::with_capacity(count)),
            wait: pool.options().get_acquire_timeout(),
        })
    }

    fn idle_connections(&self) -> std::sync::MutexGuard<'_, Vec<PoolConnection<Postgres>>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A permit and a kept connection, or an idle one of the pool's; `None` if no connection
    /// is at hand (or release_all ran). No permit within the wait is the pool's own
    /// `PoolTimedOut`: every kept connection stayed in use for the acquire timeout. While in use
    /// the connection is out of the idle list: if the caller's future is dropped mid-statement,
    /// it goes back to the pool, which checks it, instead of being kept.
    async fn take(&self) -> Option<sqlx::Result<(SemaphorePermit<'_>, PoolConnection<Postgres>)>> {
        let permit = match tokio::time::timeout(self.wait, self.permits.acquire()).await {
            Ok(permit) => permit.ok()?,
            Err(_) => return Some(Err(sqlx::Error::PoolTimedOut)),
        };
        let kept = self.idle_connections().pop();
        let connection = match kept {
            Some(kept) => kept,
            None => self.pool.try_acquire()?,
        };
        Some(Ok((permit, connection)))
    }

    /// Keeps `connection` after a success; after a failure, or once [`release_all`] ran, it
    /// is dropped (see the module documentation).
    ///
    /// [`release_all`]: Self::release_all
    fn settle<T>(
        &self,
        _permit: SemaphorePermit<'_>,
        connection: PoolConnection<Postgres>,
        outcome: sqlx::Result<T>,
    ) -> sqlx::Result<T> {
        if outcome.is_ok() && !self.permits.is_closed() {
            self.idle_connections().push(connection);
        }
        outcome
    }

    /// The stored special-treatment list of customer `id` in `org`, running `sql` (SeaORM's
    /// SELECT of that one column, parameters id then org). `Some(Ok(None))`: no such customer.
    pub(super) async fn special_treatment(
        &self,
        sql: &'static str,
        id: Uuid,
        org: &str,
    ) -> Option<sqlx::Result<Option<Vec<String>>>> {
        let (permit, mut connection) = match self.take().await? {
            Ok(taken) => taken,
            Err(err) => return Some(Err(err)),
        };
        let found = sqlx::query_scalar::<_, Json<Vec<String>>>(sql)
            .bind(id)
            .bind(org)
            .fetch_optional(&mut *connection)
            .await;
        let found = self.settle(permit, connection, found);
        Some(found.map(|found| found.map(|Json(values)| values)))
    }

    /// Replaces the list of customer `id` in `org`, running `sql` (SeaORM's UPDATE of that one
    /// column, parameters list, id, org); the number of rows changed (0: no such customer).
    pub(super) async fn replace_special_treatment(
        &self,
        sql: &'static str,
        values: &[String],
        id: Uuid,
        org: &str,
    ) -> Option<sqlx::Result<u64>> {
        let (permit, mut connection) = match self.take().await? {
            Ok(taken) => taken,
            Err(err) => return Some(Err(err)),
        };
        let done = sqlx::query(sql)
            .bind(Json(values))
            .bind(id)
            .bind(org)
            .execute(&mut *connection)
            .await;
        Some(
            self.settle(permit, connection, done)
                .map(|done| done.rows_affected()),
        )
    }

    /// Kept connections not in use at this instant, for the pool's `idle` gauge.
    pub(super) fn idle(&self) -> usize {
        self.idle_connections().len()
    }

    /// Hands every kept connection back to the pool; those in use go back when their call ends.
    pub(super) fn release_all(&self) {
        self.permits.close();
        self.idle_connections().clear();
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};

    use super::*;

    /// Stands in for the customers table: one stored list, for organization `acme` only.
    const SQL: &str =
        r#"SELECT '["vip","vulnerable"]'::jsonb WHERE $1::uuid IS NOT NULL AND $2 = 'acme'"#;

    /// The test database's connect options; `None` (the test is skipped) without one.
    fn test_database() -> Option<PgConnectOptions> {
        let Ok(url) = std::env::var("TEST_DATABASE_URL") else {
            eprintln!("postgres_kept: skipped: needs TEST_DATABASE_URL (PostgreSQL)");
            return None;
        };
        Some(url.parse().unwrap())
    }

    async fn pool(max: u32) -> Option<PgPool> {
        let options = test_database()?;
        Some(
            PgPoolOptions::new()
                .max_connections(max)
                .connect_with(options)
                .await
                .unwrap(),
        )
    }

    #[tokio::test]
    async fn answers_on_a_kept_connection_and_drops_one_that_failed() {
        let Some(pool) = pool(4).await else {
            return;
        };
        let kept = KeptConnections::new(&pool).unwrap();
        // Every pool connection in use elsewhere: not answered here, never waited for.
        let mut in_use = Vec::new();
        for _ in 0..4 {
            in_use.push(pool.acquire().await.unwrap());
        }
        assert!(
            kept.special_treatment(SQL, Uuid::now_v7(), "acme")
                .await
                .is_none()
        );
        drop(in_use);
        tokio::time::sleep(Duration::from_millis(50)).await;

        let lookup = |org: &'static str| kept.special_treatment(SQL, Uuid::now_v7(), org);
        let values = vec!["vip".to_owned(), "vulnerable".to_owned()];
        assert_eq!(lookup("acme").await.unwrap().unwrap(), Some(values));
        assert_eq!(lookup("globex").await.unwrap().unwrap(), None);
        assert_eq!(kept.idle(), 1, "the connection is kept between lookups");

        // A failing statement: its failure, and its connection is not kept.
        let failed = kept
            .special_treatment("SELECT nope", Uuid::now_v7(), "acme")
            .await;
        assert!(matches!(failed, Some(Err(_))), "{failed:?}");
        assert_eq!(kept.idle(), 0);

        kept.release_all();
        pool.close().await;
    }

    #[tokio::test]
    async fn replaces_on_a_kept_connection() {
        let Some(pool) = pool(4).await else {
            return;
        };
        let table = format!("kept_test_{}", Uuid::now_v7().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE {table} (id uuid PRIMARY KEY, org_id text, special_treatment jsonb)"
        )))
        .execute(&pool)
        .await
        .unwrap();
        let id = Uuid::now_v7();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {table} VALUES ($1, 'acme', '[]')"
        )))
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
        let update: &'static str =
            format!("UPDATE {table} SET special_treatment = $1 WHERE id = $2 AND org_id = $3")
                .leak();
        let kept = KeptConnections::new(&pool).unwrap();
        let values = ["vip".to_owned(), "vulnerable".to_owned()];

        let changed = kept.replace_special_treatment(update, &values, id, "acme");
        assert_eq!(changed.await.unwrap().unwrap(), 1);
        assert_eq!(kept.idle(), 1, "the connection is kept between requests");
        let other_org = kept.replace_special_treatment(update, &[], id, "globex");
        assert_eq!(other_org.await.unwrap().unwrap(), 0);
        let stored: Json<Vec<String>> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT special_treatment FROM {table} WHERE id = $1"
        )))
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(stored.0, values);

        kept.release_all();
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {table}")))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }

    /// PostgreSQL's statement timeout comes back as such, for the caller to answer 504.
    #[tokio::test]
    async fn a_statement_cancelled_by_the_statement_timeout_is_reported() {
        let Some(options) = test_database() else {
            return;
        };
        let options = options.options([("statement_timeout", "100")]);
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .unwrap();
        let kept = KeptConnections::new(&pool).unwrap();
        let slow = "SELECT '[]'::jsonb FROM pg_sleep(1) WHERE $1::uuid IS NOT NULL AND $2 = 'acme'";
        let outcome = kept.special_treatment(slow, Uuid::now_v7(), "acme").await;
        let Some(Err(sea_orm::sqlx::Error::Database(err))) = outcome else {
            panic!("expected a database error, got {outcome:?}");
        };
        assert_eq!(err.code().as_deref(), Some("57014"));
        pool.close().await;
    }

    /// All kept connections busy for the acquire timeout: the pool's own PoolTimedOut.
    #[tokio::test]
    async fn waits_for_a_kept_connection_at_most_the_acquire_timeout() {
        let Some(options) = test_database() else {
            return;
        };
        let wait = Duration::from_millis(200);
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(wait)
            .connect_with(options)
            .await
            .unwrap();
        let kept = KeptConnections::new(&pool).unwrap();
        let slow = "SELECT '[]'::jsonb FROM pg_sleep(1) WHERE $1::uuid IS NOT NULL AND $2 = 'acme'";
        let busy = kept.special_treatment(slow, Uuid::now_v7(), "acme");
        let waiting = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let started = std::time::Instant::now();
            let outcome = kept.special_treatment(SQL, Uuid::now_v7(), "acme").await;
            (outcome, started.elapsed())
        };
        let (busy, (outcome, took)) = tokio::join!(busy, waiting);
        assert!(matches!(busy, Some(Ok(Some(_)))), "{busy:?}");
        assert!(
            matches!(outcome, Some(Err(sqlx::Error::PoolTimedOut))),
            "{outcome:?}"
        );
        assert!(took >= wait && took < wait * 3, "waited {took:?}");
        // The pool closes once the kept connection is handed back.
        kept.release_all();
        pool.close().await;
    }

    #[tokio::test]
    async fn a_pool_of_one_keeps_nothing() {
        let Some(pool) = pool(1).await else {
            return;
        };
        assert!(KeptConnections::new(&pool).is_none());
        pool.close().await;
    }
}
