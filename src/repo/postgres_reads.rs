//! PostgreSQL's hot read: the special-treatment lookup on pool connections kept between
//! requests, through sqlx directly.
//!
//! sqlx pings every connection it takes back into its pool, a second round trip that wakes
//! PostgreSQL's backend process: 14% of a GET's CPU in this process, and more on PostgreSQL's
//! side; SeaORM's row mapping adds another 7% (BENCHMARKS.md). Here the lookup runs on a
//! connection kept in a slot from one request to the next, so it is never returned (nor
//! pinged) in between.
//!
//! Like SQLite's `sqlite_reads`, it only ever *tries*. When no slot is free and no pool
//! connection is idle, it returns `None` and the caller takes the regular path. When the
//! statement fails, the connection is dropped (back to the pool, whose ping discards it if it
//! broke) and the failure returned: the caller answers PostgreSQL's statement timeout as it
//! would on the pool (504; trying again would only wait as long once more), and takes the
//! regular path for anything else, which waits, bounds and maps failures like every other
//! repository call. A kept connection that died meanwhile (PostgreSQL restarted, the network
//! cut) so costs one failed attempt, never an error answer.
//!
//! Kept connections are the pool's own, checked out: at most half of `DB_MAX_CONNECTIONS` (none
//! from a pool of one), so every other call always has the other half. They are taken only
//! from the pool's idle connections, never waited for, and
//! [`PostgresReads::release_all`] hands them back before the pool closes. (Keeping one only
//! while the pool had an idle connection left gave them back exactly when the pool was busy:
//! no gain at full load. Kept for good: GET +16% req/s at 64 connections, BENCHMARKS.md.)

use std::time::Duration;

use sea_orm::sqlx::{PgPool, Postgres, pool::PoolConnection, types::Json};
use tokio::sync::Mutex;
use uuid::Uuid;

pub(super) struct PostgresReads {
    pool: PgPool,
    slots: Box<[Mutex<Option<PoolConnection<Postgres>>>]>,
}

impl PostgresReads {
    /// Slots for up to half of `pool`'s connections; `None` when that is none.
    pub(super) fn new(pool: &PgPool) -> Option<Self> {
        let count = pool.options().get_max_connections() as usize / 2;
        (count > 0).then(|| PostgresReads {
            pool: pool.clone(),
            slots: (0..count).map(|_| Mutex::new(None)).collect(),
        })
    }

    /// The stored special-treatment list of customer `id` in `org`, running `sql` (SeaORM's
    /// SELECT of that one column, parameters id then org). `Some(Ok(None))`: no such customer.
    /// `None`: not tried here (no connection at hand); ask the pool.
    pub(super) async fn special_treatment(
        &self,
        sql: &'static str,
        id: Uuid,
        org: &str,
    ) -> Option<Result<Option<Vec<String>>, sea_orm::sqlx::Error>> {
        let mut slot = self.slots.iter().find_map(|slot| slot.try_lock().ok())?;
        // Out of the slot while in use: if this future is dropped mid-statement, the
        // connection goes back to the pool, which checks it, instead of staying here.
        let mut connection = match slot.take() {
            Some(kept) => kept,
            None => self.pool.try_acquire()?,
        };
        let found = sea_orm::sqlx::query_scalar::<_, Json<Vec<String>>>(sql)
            .bind(id)
            .bind(org)
            .fetch_optional(&mut *connection)
            .await;
        if found.is_ok() {
            *slot = Some(connection);
        }
        Some(found.map(|found| found.map(|Json(values)| values)))
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
            eprintln!("postgres_reads: skipped: needs TEST_DATABASE_URL (PostgreSQL)");
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
        let reads = PostgresReads::new(&pool).unwrap();
        // Every pool connection in use elsewhere: not answered here, never waited for.
        let mut in_use = Vec::new();
        for _ in 0..4 {
            in_use.push(pool.acquire().await.unwrap());
        }
        assert!(
            reads
                .special_treatment(SQL, Uuid::now_v7(), "acme")
                .await
                .is_none()
        );
        drop(in_use);
        tokio::time::sleep(Duration::from_millis(50)).await;

        let lookup = |org: &'static str| reads.special_treatment(SQL, Uuid::now_v7(), org);
        let values = vec!["vip".to_owned(), "vulnerable".to_owned()];
        assert_eq!(lookup("acme").await.unwrap().unwrap(), Some(values));
        assert_eq!(lookup("globex").await.unwrap().unwrap(), None);
        assert_eq!(reads.idle(), 1, "the connection is kept between lookups");

        // A failing statement: its failure, and its connection is not kept.
        let failed = reads
            .special_treatment("SELECT nope", Uuid::now_v7(), "acme")
            .await;
        assert!(matches!(failed, Some(Err(_))), "{failed:?}");
        assert_eq!(reads.idle(), 0);

        reads.release_all(Duration::from_secs(1)).await;
        pool.close().await;
    }

    /// PostgreSQL's statement timeout comes back as such, for the caller to answer 504.
    #[tokio::test]
    async fn a_statement_cancelled_by_the_statement_timeout_is_reported() {
        let Ok(url) = std::env::var("TEST_DATABASE_URL") else {
            eprintln!("postgres_reads: skipped: needs TEST_DATABASE_URL (PostgreSQL)");
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
        let reads = PostgresReads::new(&pool).unwrap();
        let slow = "SELECT '[]'::jsonb FROM pg_sleep(1) WHERE $1::uuid IS NOT NULL AND $2 = 'acme'";
        let outcome = reads.special_treatment(slow, Uuid::now_v7(), "acme").await;
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
        assert!(PostgresReads::new(&pool).is_none());
        pool.close().await;
    }
}
