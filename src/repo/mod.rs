//! Persistence: the only module that speaks SeaORM (or SQL at all).
//!
//! # Layout
//!
//! - one file per resource with its queries, as `impl Repository` blocks: [`customers`] (and
//!   its special treatment, whose storage is [`special_treatment`]'s);
//! - [`db`]: connecting: the pools, SQLite's settings, how `DB_MAX_CONNECTIONS` is shared;
//! - [`calls`]: the one bounded-call function every call goes through, and the [`calls::Reader`] and
//!   [`calls::Writer`] handles that keep reads and writes apart;
//! - [`errors`]: what each driver's failure means (503, 504, 409 through a [`ConflictRule`],
//!   500), decided once;
//! - [`breaker`]: answering 503 at once while the database is unreachable;
//! - [`migrate`]: the schema migrations at start-up; [`pool`]: the pools' gauges;
//! - [`special_treatment`]: the special-treatment GET's and PUT's fast paths, behind one type.
//!
//! A new resource adds a file here with its queries, each through [`Repository::read`],
//! [`Repository::write`] or, where a unique or foreign-key constraint stands for a rule of the
//! contract, [`Repository::write_checked`] with that rule.

pub mod accounts;
mod breaker;
mod calls;
pub mod categories;
pub mod credentials;
pub mod customers;
mod db;
mod errors;
pub mod history;
pub mod identification;
mod migrate;
mod pool;
mod special_treatment;

pub use db::RepoSettings;
pub use pool::PoolStats;

pub(crate) use errors::ConflictRule;

use std::{
    sync::{Arc, atomic::AtomicUsize},
    time::Duration,
};

use sea_orm::DbBackend;

use crate::error::Error;
use breaker::Breaker;
use db::{Budget, Pools};
use special_treatment::SpecialTreatmentStore;

/// A handle on the database; cheap to clone (the pools, the breaker and the fast paths are
/// shared).
#[derive(Clone)]
pub struct Repository {
    pools: Pools,
    breaker: Arc<Breaker>,
    /// Repository calls started and not yet finished, for the pool's `waiting` gauge.
    calls: Arc<AtomicUsize>,
    /// The bound on one call (see [`RepoSettings::call_guard`]).
    call_guard: Duration,
    /// `DB_ACQUIRE_TIMEOUT_MS`: also how long other bounded work may wait for its turn.
    acquire_timeout: Duration,
    special_treatment: Arc<SpecialTreatmentStore>,
}

impl Repository {
    /// Connects (creating the SQLite file and its folder when needed), migrates, and starts
    /// the special-treatment paths, within `DB_MAX_CONNECTIONS` connections in all.
    pub async fn connect(settings: &RepoSettings) -> anyhow::Result<Self> {
        db::refuse_in_memory(&settings.database_url)?;
        let (budget, postgres) = if settings.is_sqlite() {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
            let budget =
                Budget::sqlite(settings.max_connections, cores).map_err(anyhow::Error::msg)?;
            (budget, None)
        } else {
            let postgres = special_treatment::postgres_settings(settings);
            (
                Budget::postgres(settings.max_connections, postgres.is_some()),
                postgres,
            )
        };
        let pools = Pools::connect(settings, budget).await?;
        let special_treatment =
            SpecialTreatmentStore::connect(settings, budget, &pools, postgres).await?;
        Ok(Repository {
            breaker: Arc::new(Breaker::new(settings.call_guard(), budget.read_pool)),
            pools,
            calls: Arc::default(),
            call_guard: settings.call_guard(),
            acquire_timeout: settings.acquire_timeout,
            special_treatment: Arc::new(special_treatment),
        })
    }

    /// Applies pending migrations and returns.
    pub async fn migrate(settings: &RepoSettings) -> anyhow::Result<()> {
        Self::connect(settings).await?.close().await
    }

    /// Stops the probe and the fast paths and closes the pools, waiting for checked-out
    /// connections to return.
    pub async fn close(self) -> anyhow::Result<()> {
        self.breaker.shut_down();
        self.special_treatment.close();
        self.pools.close().await
    }

    /// How long a request may wait for a database connection (`DB_ACQUIRE_TIMEOUT_MS`).
    pub fn acquire_timeout(&self) -> Duration {
        self.acquire_timeout
    }

    pub fn backend(&self) -> DbBackend {
        self.pools.backend()
    }

    /// One round trip to the database, for readiness.
    pub async fn ping(&self) -> Result<(), Error> {
        self.read(|db| db.ping()).await
    }

    /// A repository with no database: every call fails. Only for generating the OpenAPI
    /// document, which needs the API's handlers but never calls them.
    pub fn disconnected() -> Self {
        Repository {
            pools: Pools::disconnected(),
            breaker: Arc::new(Breaker::new(Duration::from_secs(1), 1)),
            calls: Arc::default(),
            call_guard: Duration::from_secs(1),
            acquire_timeout: Duration::from_secs(1),
            special_treatment: Arc::new(SpecialTreatmentStore::pools_only()),
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Statement};

    use super::*;

    async fn sqlite_repository(dir: &tempfile::TempDir) -> Repository {
        let settings = RepoSettings {
            database_url: format!("sqlite://{}/t.sqlite?mode=rwc", dir.path().display()),
            max_connections: 4,
            acquire_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_secs(2),
        };
        Repository::connect(&settings).await.unwrap()
    }

    /// The settings that make a 204 durable are those of every write connection.
    #[tokio::test]
    async fn sqlite_connections_use_wal_with_a_full_sync_at_each_commit() {
        let dir = tempfile::tempdir().unwrap();
        let repo = sqlite_repository(&dir).await;
        for db in [&repo.pools.write, &repo.pools.read] {
            let pragma = |name: &str| {
                let sql = format!("PRAGMA {name}");
                async move {
                    let row = db
                        .query_one_raw(Statement::from_string(DbBackend::Sqlite, sql))
                        .await
                        .unwrap()
                        .unwrap();
                    row.try_get_by_index::<String>(0)
                        .or_else(|_| row.try_get_by_index::<i64>(0).map(|n| n.to_string()))
                        .unwrap()
                }
            };
            assert_eq!(pragma("journal_mode").await, "wal");
            assert_eq!(pragma("synchronous").await, "2", "2 is FULL");
        }
        repo.close().await.unwrap();
    }

    /// The read pool cannot write, even through a raw statement.
    #[tokio::test]
    async fn sqlite_reads_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let repo = sqlite_repository(&dir).await;
        let write = repo
            .pools
            .read
            .execute_unprepared("DELETE FROM customers")
            .await;
        assert!(write.is_err(), "the read pool wrote: {write:?}");
        repo.close().await.unwrap();
    }
}
