//! Connecting: the pools, SQLite's settings, and how `DB_MAX_CONNECTIONS` is shared out.
//!
//! `DB_MAX_CONNECTIONS` is the most connections the process opens to the database, every path
//! together ([`Budget`]). On PostgreSQL one pool serves reads and writes, beside the
//! special-treatment paths' own connections. On SQLite reads and writes have pools of their
//! own: writers take turns (one at a time, as SQLite allows anyway) on a small write pool
//! instead of retrying in SQLite's sleeping busy handler, and never wait behind readers for a
//! connection; the read pool's connections are opened read-only.

use std::{path::Path, sync::Arc, time::Duration};

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, sqlx};
use tokio::sync::{Mutex, MutexGuard};

use crate::error::Error;

/// How long start-up may take to reach the database and apply the migrations: a start on a
/// busy machine or a slow disk is not a request, and must not fail on a request's budget
/// (`DB_ACQUIRE_TIMEOUT_MS`, `DB_STATEMENT_TIMEOUT_MS`).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Added to the client-side guard so that the database's own limit fires first (see
/// [`RepoSettings::call_guard`]).
const GUARD_MARGIN: Duration = Duration::from_millis(250);

/// Pool and timeout settings, from the configuration.
#[derive(Debug, Clone)]
pub struct RepoSettings {
    pub database_url: String,
    /// The most connections the process opens to the database, all paths together.
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    pub statement_timeout: Duration,
}

impl RepoSettings {
    /// The client-side bound on one repository call: waiting for a connection (at most the
    /// acquire timeout, then 503) plus running the statement (at most the statement timeout,
    /// enforced by the database itself, then 504), plus a margin. The database's limit fires
    /// first, so a 504 for a cancelled write means it was not applied, and the connection is
    /// left clean; this guard only ends calls to a database that no longer answers at all.
    pub fn call_guard(&self) -> Duration {
        self.acquire_timeout + self.statement_timeout + GUARD_MARGIN
    }

    pub(super) fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

/// How `DB_MAX_CONNECTIONS` is shared between the paths. The special-treatment paths' share
/// is theirs alone ([`super::special_treatment`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Budget {
    /// The pool every read goes through (on PostgreSQL, every write too).
    pub read_pool: u32,
    /// SQLite: the writers' pool. PostgreSQL: 0 (writes take the read pool).
    pub write_pool: u32,
    /// Special treatment's own read connections (SQLite: read on the request's thread;
    /// PostgreSQL: pipelined lookups).
    pub fast_reads: u32,
    /// Special treatment's own write connections (SQLite: the group-commit thread's;
    /// PostgreSQL: the group-commit writers').
    pub fast_writes: u32,
}

impl Budget {
    /// SQLite: two writers' connections (the second lets the next writer start while sqlx
    /// still checks the previous one on its way back), one for the group-commit thread, one
    /// read connection on the request's thread per core, and the rest for the read pool, which
    /// always keeps at least one. Fewer than 2 cannot serve both reads and writes.
    pub(super) fn sqlite(total: u32, cores: u32) -> Result<Budget, String> {
        if total < 2 {
            return Err(format!(
                "DB_MAX_CONNECTIONS={total}: SQLite needs at least 2 (one to read, one to write)"
            ));
        }
        let write_pool = if total >= 4 { 2 } else { 1 };
        let fast_writes = u32::from(total >= 3);
        let remaining = total - write_pool - fast_writes;
        let fast_reads = cores.min(remaining - 1);
        Ok(Budget {
            read_pool: remaining - fast_reads,
            write_pool,
            fast_reads,
            fast_writes,
        })
    }

    /// PostgreSQL: half the connections are the special-treatment paths' own when they run
    /// (lookups get the larger half of that), the pool has the rest.
    pub(super) fn postgres(total: u32, fast_paths: bool) -> Budget {
        let own = if fast_paths && total >= 2 {
            total / 2
        } else {
            0
        };
        Budget {
            read_pool: total - own,
            write_pool: 0,
            fast_reads: own.div_ceil(2),
            fast_writes: own / 2,
        }
    }

    #[cfg(test)]
    fn total(self) -> u32 {
        self.read_pool + self.write_pool + self.fast_reads + self.fast_writes
    }
}

/// The pools, and SQLite's writers' turn.
#[derive(Clone)]
pub(super) struct Pools {
    pub read: DatabaseConnection,
    /// SQLite: a pool of its own; PostgreSQL: the read pool.
    pub write: DatabaseConnection,
    /// SQLite: held by whoever writes (the write pool's callers and the special-treatment
    /// writer thread), so writers never compete for SQLite's write lock.
    pub turn: Option<Arc<Mutex<()>>>,
    /// How long a writer may wait for its turn: the statement timeout, like the busy wait it
    /// replaces; past it, 504.
    turn_timeout: Duration,
}

impl Pools {
    /// Runs the migrations on a connection of their own, then opens the pools (lazily: their
    /// connections open on first use, within the acquire timeout).
    pub(super) async fn connect(settings: &RepoSettings, budget: Budget) -> anyhow::Result<Pools> {
        let url = settings.database_url.as_str();
        if settings.is_sqlite() {
            create_sqlite_folder(url)?;
        }
        let mut migrations = ConnectOptions::new(url);
        migrations
            .max_connections(1)
            .acquire_timeout(STARTUP_TIMEOUT.max(settings.acquire_timeout))
            .sqlx_logging(false);
        if settings.is_sqlite() {
            migrations.map_sqlx_sqlite_opts(sqlite_settings(false, STARTUP_TIMEOUT));
        }
        let migrations = Database::connect(migrations).await?;
        super::migrate::apply(&migrations).await?;
        migrations.close().await?;

        let mut options = ConnectOptions::new(url);
        options
            .min_connections(0)
            .connect_lazy(true)
            .acquire_timeout(settings.acquire_timeout)
            // sqlx pings a connection on every acquire by default: a round trip per request
            // for nothing, since a broken connection fails the statement anyway.
            .test_before_acquire(false)
            .sqlx_logging(false);
        if !settings.is_sqlite() {
            // The database itself stops work the client has given up on.
            options
                .statement_timeout(settings.statement_timeout)
                .max_connections(budget.read_pool);
            let pool = Database::connect(options).await?;
            return Ok(Pools {
                write: pool.clone(),
                read: pool,
                turn: None,
                turn_timeout: settings.statement_timeout,
            });
        }
        let busy_timeout = settings.statement_timeout;
        let mut write = options.clone();
        write
            .max_connections(budget.write_pool)
            .map_sqlx_sqlite_opts(sqlite_settings(false, busy_timeout));
        options
            .max_connections(budget.read_pool)
            .map_sqlx_sqlite_opts(sqlite_settings(true, busy_timeout));
        Ok(Pools {
            read: Database::connect(options).await?,
            write: Database::connect(write).await?,
            turn: Some(Arc::default()),
            turn_timeout: settings.statement_timeout,
        })
    }

    /// SQLite: waits for the writers' turn, at most the statement timeout (then 504).
    pub(super) async fn take_write_turn(&self) -> Result<Option<MutexGuard<'_, ()>>, Error> {
        let Some(turn) = &self.turn else {
            return Ok(None);
        };
        tokio::time::timeout(self.turn_timeout, turn.lock())
            .await
            .map(Some)
            .map_err(|_| Error::Timeout)
    }

    pub(super) fn backend(&self) -> DbBackend {
        self.read.get_database_backend()
    }

    /// Closes the pools, waiting for checked-out connections to return.
    pub(super) async fn close(self) -> anyhow::Result<()> {
        if self.turn.is_some() {
            self.write.close().await?;
        }
        self.read.close().await?;
        Ok(())
    }

    /// No database: every call fails. For generating the OpenAPI document only.
    pub(super) fn disconnected() -> Pools {
        Pools {
            read: DatabaseConnection::default(),
            write: DatabaseConnection::default(),
            turn: None,
            turn_timeout: Duration::from_secs(1),
        }
    }
}

/// Every SQLite connection of the pools: WAL, a full sync at each commit, foreign keys, the
/// busy timeout, and read-only for the read pool.
fn sqlite_settings(
    read_only: bool,
    busy_timeout: Duration,
) -> impl Fn(sqlx::sqlite::SqliteConnectOptions) -> sqlx::sqlite::SqliteConnectOptions + Clone {
    move |o| {
        use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
        // WAL lets readers run beside the writer; synchronous=FULL fsyncs the WAL at every
        // commit, so a 204 survives a power loss as well as a process crash.
        o.journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(busy_timeout)
            .read_only(read_only)
            // Page cache per connection: 1 MiB instead of SQLite's 2 MB. It holds the B-trees'
            // inner pages, which is what a primary-key lookup reuses; leaf pages come from the
            // OS page cache either way. Peak RSS -4 MiB with 6 connections, GET throughput
            // unchanged (BENCHMARKS.md).
            .pragma("cache_size", "-1024")
    }
}

/// Refuses an in-memory SQLite database: each of the service's connections (several pools,
/// its own reader and writer connections) would see a database of its own, or one that
/// vanishes when the pools close their idle connections.
pub(super) fn refuse_in_memory(url: &str) -> anyhow::Result<()> {
    if !url.starts_with("sqlite:") {
        return Ok(());
    }
    let options: sqlx::sqlite::SqliteConnectOptions = url.parse()?;
    let memory = url.contains(":memory:") || url.contains("mode=memory");
    anyhow::ensure!(
        !memory && !options.get_filename().as_os_str().is_empty(),
        "DATABASE_URL={url:?} is an in-memory SQLite database, which this service does not \
         support (its connections would not share it, and it would not survive the pool \
         closing idle connections); use a file, e.g. sqlite://data/customers-api.sqlite?mode=rwc"
    );
    Ok(())
}

/// The path of the SQLite database file of `url`.
pub(super) fn sqlite_file(url: &str) -> anyhow::Result<std::path::PathBuf> {
    let options: sqlx::sqlite::SqliteConnectOptions = url.parse()?;
    Ok(options.get_filename().to_owned())
}

fn create_sqlite_folder(url: &str) -> anyhow::Result<()> {
    let path = sqlite_file(url)?;
    if let Some(folder) = Path::new(&path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(folder)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_never_exceeds_db_max_connections() {
        for total in 2..=64 {
            for cores in 1..=16 {
                let budget = Budget::sqlite(total, cores).unwrap();
                assert_eq!(budget.total(), total, "{budget:?}");
                assert!(
                    budget.read_pool >= 1 && budget.write_pool >= 1,
                    "{budget:?}"
                );
            }
            for fast_paths in [false, true] {
                let budget = Budget::postgres(total, fast_paths);
                assert_eq!(budget.total(), total, "{budget:?}");
                assert!(budget.read_pool >= 1, "{budget:?}");
            }
        }
        assert!(Budget::sqlite(1, 2).is_err());
        assert_eq!(Budget::postgres(1, true).total(), 1);
    }

    #[test]
    fn the_default_sqlite_budget_keeps_two_fast_readers_on_two_cores() {
        let budget = Budget::sqlite(8, 2).unwrap();
        assert_eq!(
            budget,
            Budget {
                read_pool: 3,
                write_pool: 2,
                fast_reads: 2,
                fast_writes: 1
            }
        );
    }

    #[test]
    fn an_in_memory_sqlite_database_is_refused_with_a_clear_message() {
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://file.db?mode=memory",
        ] {
            let err = refuse_in_memory(url).unwrap_err().to_string();
            assert!(err.contains("in-memory SQLite"), "{url}: {err}");
        }
        refuse_in_memory("sqlite://data/x.sqlite?mode=rwc").unwrap();
        refuse_in_memory("postgres://localhost/x").unwrap();
    }
}
