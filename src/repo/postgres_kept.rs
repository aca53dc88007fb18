//! PostgreSQL's hot paths: the special-treatment lookup and replace on pool connections kept
//! between requests, through sqlx directly.
//!
//! sqlx pings every connection it takes back into its pool, a second round trip that wakes
//! PostgreSQL's backend process: 14% of a GET's CPU in this process, and more on PostgreSQL's
//! side; SeaORM's statement and row mapping add another 4-7% (BENCHMARKS.md). Here the
//! statement runs on a connection kept in a slot from one request to the next, so it is never
//! returned (nor pinged) in between.
//!
//! It only ever *tries*. When no slot is free and no pool connection is idle, it returns `None`
//! and the caller takes the regular path. When the statement fails, the connection is dropped
//! (back to the pool, whose ping discards it if it broke) and the failure returned to the
//! caller, which decides (`Repository::on_kept_connection`): a statement timeout is answered
//! 504 as on the pool (trying again would only wait as long once more); a broken connection
//! sends the call to the regular path (a read is safe to repeat, and so is a replace: PUT is
//! idempotent, and this is the retry a client would make), so a kept connection that died
//! meanwhile (PostgreSQL restarted, the network cut) costs one failed attempt, never an error
//! answer; anything else is answered like the same failure on the pool.
//!
//! Kept connections are the pool's own, checked out: at most half of `DB_MAX_CONNECTIONS` (none
//! from a pool of one), so every other call always has the other half. They are taken only
//! from the pool's idle connections, never waited for, and [`KeptConnections::release_all`]
//! hands them back before the pool closes. (Keeping one only while the pool had an idle
//! connection left gave them back exactly when the pool was busy: no gain at full load. Kept
//! for good: GET +16% req/s at 64 connections, BENCHMARKS.md.)

use std::time::Duration;

use sea_orm::sqlx::{self, PgPool, Postgres, pool::PoolConnection, types::Json};
use tokio::sync::{Mutex, MutexGuard};
use uuid::Uuid;

type Slot = Option<PoolConnection<Postgres>>;

pub(super) struct KeptConnections {
    pool: PgPool,
    slots: Box<[Mutex<Option<PoolConnection<Postgres>>>]>,
}

impl KeptConnections {
    /// Slots for up to half of `pool`'s connections; `None` when that is none.
    pub(super) fn new(pool: &PgPool) -> Option<Self> {
        let count = pool.options().get_max_connections() as usize / 2;
        (count > 0).then(|| KeptConnections {
            pool: pool.clone(),
            slots: (0..count).map(|_| Mutex::new(None)).collect(),
        })
    }

    /// A kept connection and its slot, or an idle one of the pool's; `None` if neither is at
    /// hand. The connection is out of its slot while in use: if the caller's future is dropped
    /// mid-statement, it goes back to the pool, which checks it, instead of staying here.
    fn take(&self) -> Option<(MutexGuard<'_, Slot>, PoolConnection<Postgres>)> {
        let mut slot = self.slots.iter().find_map(|slot| slot.try_lock().ok())?;
        let connection = match slot.take() {
            Some(kept) => kept,
            None => self.pool.try_acquire()?,
        };
        Some((slot, connection))
    }

    /// Keeps `connection` after a success; after a failure it is dropped (see the module
    /// documentation).
    fn settle<T>(
        mut slot: MutexGuard<'_, Slot>,
        connection: PoolConnection<Postgres>,
        outcome: sqlx::Result<T>,
    ) -> sqlx::Result<T> {
        if outcome.is_ok() {
            *slot = Some(connection);
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
        let (slot, mut connection) = self.take()?;
        let found = sqlx::query_scalar::<_, Json<Vec<String>>>(sql)
            .bind(id)
            .bind(org)
            .fetch_optional(&mut *connection)
            .await;
        let found = Self::settle(slot, connection, found);
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
        let (slot, mut connection) = self.take()?;
        let done = sqlx::query(sql)
            .bind(Json(values))
            .bind(id)
            .bind(org)
            .execute(&mut *connection)
            .await;
        Some(Self::settle(slot, connection, done).map(|done| done.rows_affected()))
    }

    /// Kept connections not in use at this instant, for the pool's `idle` gauge.
    pub(super) fn idle(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| slot.try_lock().is_ok_and(|kept| kept.is_some()))
            .count()
    }

    /// Hands every kept connection back to the pool, waiting at most `limit` for one in use.
    pub(super) async fn release_all(&self, limit: Duration) {
        for slot in &self.slots {
            if let Ok(mut kept) = tokio::time::timeout(limit, slot.lock()).await {
                kept.take();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::sqlx::postgres::PgPoolOptions;

    use super::*;

    /// Stands in for the customers table: one stored list, for organization `acme` only.
    const SQL: &str =
        r#"SELECT '["vip","vulnerable"]'::jsonb WHERE $1::uuid IS NOT NULL AND $2 = 'acme'"#;

    async fn pool(max: u32) -> Option<PgPool> {
        let Ok(url) = std::env::var("TEST_DATABASE_URL") else {
            eprintln!("postgres_kept: skipped: needs TEST_DATABASE_URL (PostgreSQL)");
            return None;
        };
        Some(
            PgPoolOptions::new()
                .max_connections(max)
                .connect(&url)
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

        kept.release_all(Duration::from_secs(1)).await;
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

        kept.release_all(Duration::from_secs(1)).await;
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {table}")))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }

    /// PostgreSQL's statement timeout comes back as such, for the caller to answer 504.
    #[tokio::test]
    async fn a_statement_cancelled_by_the_statement_timeout_is_reported() {
        let Ok(url) = std::env::var("TEST_DATABASE_URL") else {
            eprintln!("postgres_kept: skipped: needs TEST_DATABASE_URL (PostgreSQL)");
            return;
        };
        let options = url
            .parse::<sea_orm::sqlx::postgres::PgConnectOptions>()
            .unwrap()
            .options([("statement_timeout", "100")]);
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

    #[tokio::test]
    async fn a_pool_of_one_keeps_nothing() {
        let Some(pool) = pool(1).await else {
            return;
        };
        assert!(KeptConnections::new(&pool).is_none());
        pool.close().await;
    }
}
