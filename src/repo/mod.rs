//! Persistence: the only module that speaks SeaORM.
//!
//! [`Repository::connect`] builds the pool from the configuration (SQLite pragmas, pool
//! timeouts, PostgreSQL's server-side `statement_timeout`) and runs the migrations. Every call
//! goes through [`Repository::run`], which bounds it by the statement timeout and maps database
//! failures to [`Error`]: no connection in time is `Unavailable` (503), a call past the timeout
//! is `Timeout` (504), anything unexpected is `Internal` (500, logged, never shown).

pub mod customers;
mod migrate;
mod pool;

pub use pool::PoolStats;

use std::{
    future::Future,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr};

use crate::error::Error;

/// Pool and timeout settings, from the configuration.
#[derive(Debug, Clone)]
pub struct RepoSettings {
    pub database_url: String,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    pub statement_timeout: Duration,
}

/// A handle on the database; cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct Repository {
    db: DatabaseConnection,
    statement_timeout: Duration,
    /// Repository calls started and not yet finished, for the pool's `waiting` gauge.
    calls: Arc<AtomicUsize>,
    /// SQLite only: every write goes through this pool of two connections, one writer at a
    /// time. SQLite lets one connection write at a time and makes the others retry in its busy
    /// handler, which sleeps 1, 2, 5, ... 100 ms between tries (PUT p99 ~340 ms at 64
    /// connections); writers instead take turns on the lock, in order and without sleeping, and
    /// never wait behind readers for a connection. The second connection lets the next writer
    /// start while sqlx still checks the previous one on its way back to the pool.
    sqlite_writer: Option<(DatabaseConnection, Arc<tokio::sync::Mutex<()>>)>,
}

impl Repository {
    /// Connects (creating the SQLite file and its folder when needed) and migrates.
    pub async fn connect(settings: &RepoSettings) -> anyhow::Result<Self> {
        let url = settings.database_url.as_str();
        let is_sqlite = url.starts_with("sqlite:");
        if is_sqlite {
            create_sqlite_folder(url)?;
        }
        let mut options = ConnectOptions::new(url);
        options
            .max_connections(settings.max_connections)
            .min_connections(0)
            .acquire_timeout(settings.acquire_timeout)
            // sqlx pings a connection on every acquire by default: a round trip per request
            // for nothing, since a broken connection fails the statement anyway.
            .test_before_acquire(false)
            .sqlx_logging(false);
        if is_sqlite {
            let busy_timeout = settings.statement_timeout;
            options.map_sqlx_sqlite_opts(move |o| {
                use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
                // WAL lets readers run beside the writer; synchronous=FULL fsyncs the WAL at
                // every commit, so a 204 survives a power loss as well as a process crash.
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(busy_timeout)
                    // Page cache per connection: 1 MiB instead of SQLite's 2 MB. It holds the
                    // B-trees' inner pages, which is what a primary-key lookup reuses; leaf pages
                    // come from the OS page cache either way. Peak RSS -4 MiB with 6
                    // connections, GET throughput unchanged (BENCHMARKS.md).
                    .pragma("cache_size", "-1024")
            });
        } else {
            // The database itself stops work the client has given up on.
            options.statement_timeout(settings.statement_timeout);
        }
        let sqlite_writer = if is_sqlite {
            let mut writer = options.clone();
            writer.max_connections(2);
            Some((Database::connect(writer).await?, Arc::default()))
        } else {
            None
        };
        let db = Database::connect(options).await?;
        migrate::apply(sqlite_writer.as_ref().map_or(&db, |(writer, _)| writer)).await?;
        Ok(Repository {
            db,
            statement_timeout: settings.statement_timeout,
            calls: Arc::default(),
            sqlite_writer,
        })
    }

    /// Applies pending migrations and returns.
    pub async fn migrate(settings: &RepoSettings) -> anyhow::Result<()> {
        Self::connect(settings).await?.close().await
    }

    pub async fn close(self) -> anyhow::Result<()> {
        if let Some((writer, _)) = self.sqlite_writer {
            writer.close().await?;
        }
        self.db.close().await?;
        Ok(())
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// One round trip to the database, for readiness.
    pub async fn ping(&self) -> Result<(), Error> {
        self.run(|db| async move { db.ping().await }).await
    }

    /// Runs one repository call within the statement timeout, mapping its failure.
    pub(crate) async fn run<'a, T, F, Fut>(&'a self, call: F) -> Result<T, Error>
    where
        F: FnOnce(&'a DatabaseConnection) -> Fut,
        Fut: Future<Output = Result<T, DbErr>> + 'a,
    {
        self.run_with(call, map_db_error).await
    }

    /// [`Repository::run`] for a caller that turns some failures (a constraint it knows the
    /// meaning of) into errors of its own; the rest it hands to [`map_db_error`].
    pub(crate) async fn run_with<'a, T, F, Fut>(
        &'a self,
        call: F,
        on_error: impl FnOnce(DbErr) -> Error,
    ) -> Result<T, Error>
    where
        F: FnOnce(&'a DatabaseConnection) -> Fut,
        Fut: Future<Output = Result<T, DbErr>> + 'a,
    {
        let _counted = CallInProgress::start(&self.calls);
        match tokio::time::timeout(self.statement_timeout, call(&self.db)).await {
            Ok(result) => result.map_err(on_error),
            Err(_) => Err(Error::Timeout),
        }
    }
}

impl Repository {
    /// [`Repository::run_with`] for a call that writes: on SQLite it waits for its turn (within
    /// the statement timeout, like the busy wait it replaces) and runs on the writers' pool.
    pub(crate) async fn write_with<'a, T, F, Fut>(
        &'a self,
        call: F,
        on_error: impl FnOnce(DbErr) -> Error,
    ) -> Result<T, Error>
    where
        F: FnOnce(&'a DatabaseConnection) -> Fut + 'a,
        Fut: Future<Output = Result<T, DbErr>> + 'a,
    {
        self.run_with(
            |db| async move {
                match &self.sqlite_writer {
                    Some((writer, turn)) => {
                        let _turn = turn.lock().await;
                        call(writer).await
                    }
                    None => call(db).await,
                }
            },
            on_error,
        )
        .await
    }

    /// [`Repository::write_with`] with the default error mapping.
    pub(crate) async fn write<'a, T, F, Fut>(&'a self, call: F) -> Result<T, Error>
    where
        F: FnOnce(&'a DatabaseConnection) -> Fut + 'a,
        Fut: Future<Output = Result<T, DbErr>> + 'a,
    {
        self.write_with(call, map_db_error).await
    }
}

/// Counts a repository call while it runs, however it ends.
struct CallInProgress<'a>(&'a AtomicUsize);

impl<'a> CallInProgress<'a> {
    fn start(calls: &'a AtomicUsize) -> Self {
        calls.fetch_add(1, Ordering::Relaxed);
        CallInProgress(calls)
    }
}

impl Drop for CallInProgress<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Repository {
    pub(crate) fn calls_in_progress(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }
}

/// Classifies a database failure. Constraint violations are handled by the caller, which
/// knows which rule they stand for.
pub(crate) fn map_db_error(err: DbErr) -> Error {
    match &err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => Error::Unavailable(err.to_string()),
        _ if is_timeout(&err) => Error::Timeout,
        _ => Error::Internal(anyhow::Error::new(err).context("repository call failed")),
    }
}

/// PostgreSQL cancelled the statement (57014, `statement_timeout`), or SQLite's busy timeout ran
/// out waiting for the write lock (codes 5 and 6, `SQLITE_BUSY` / `SQLITE_LOCKED`).
fn is_timeout(err: &DbErr) -> bool {
    let runtime = match err {
        DbErr::Exec(e) | DbErr::Query(e) => e,
        _ => return false,
    };
    let sea_orm::RuntimeErr::SqlxError(sqlx_err) = runtime else {
        return false;
    };
    let Some(db_err) = sqlx_err.as_database_error() else {
        return false;
    };
    matches!(db_err.code().as_deref(), Some("57014" | "5" | "6" | "517"))
}

fn create_sqlite_folder(url: &str) -> anyhow::Result<()> {
    let path = url
        .trim_start_matches("sqlite:")
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path.starts_with(":memory:") {
        return Ok(());
    }
    if let Some(folder) = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(folder)?;
    }
    Ok(())
}

impl Repository {
    /// A repository with no database: every call fails. Only for generating the OpenAPI
    /// document, which needs the API's handlers but never calls them.
    pub fn disconnected() -> Self {
        Repository {
            db: DatabaseConnection::default(),
            statement_timeout: Duration::from_secs(1),
            calls: Arc::default(),
            sqlite_writer: None,
        }
    }
}
