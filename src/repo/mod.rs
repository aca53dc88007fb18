//! Persistence: the only module that speaks SeaORM (or SQL at all).
//!
//! [`Repository::connect`] builds the pool from the configuration (SQLite pragmas, pool
//! timeouts, PostgreSQL's server-side `statement_timeout`) and runs the migrations. Every call
//! goes through [`Repository::run`], which maps database failures to [`Error`]:
//!
//! - no connection within the acquire timeout, or a connection that is refused, breaks or dies
//!   mid-statement, is `Unavailable` (503), and opens the [`breaker`]: until a probe reaches the
//!   database again, calls answer `Unavailable` at once instead of waiting;
//! - a statement cancelled by the database's own limit (PostgreSQL's `statement_timeout`,
//!   SQLite's busy timeout on the write lock) is `Timeout` (504); so is a call that outlives
//!   the client-side guard, which only a database that stopped answering altogether reaches;
//! - anything unexpected is `Internal` (500, logged, never shown).
//!
//! The special-treatment paths, read on every interaction with a customer, have faster ways
//! through: on SQLite the lookup runs on the request's thread ([`sqlite_reads`]) and PUTs are
//! committed in groups by one writer thread ([`sqlite_writes`]); on PostgreSQL lookups are
//! pipelined on a few connections of their own ([`postgres_reads`]) and PUTs committed in
//! groups by a few writers ([`postgres_writes`]). They take the path above for whatever they
//! cannot answer, and map their failures the same way.

mod breaker;
pub mod customers;
mod migrate;
mod pool;
mod special_treatment;

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

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr, RuntimeErr, sqlx};

use crate::error::Error;
use breaker::Breaker;
use special_treatment::{
    postgres_connection::{ConnectionSettings, Failure},
    postgres_reads::PipelinedReads,
    postgres_writes::GroupWrites,
    sqlite_reads::SqliteReads,
    sqlite_writes::{SqliteWrites, WriteError},
};

/// Added to the client-side guard so that the database's own limit fires first (see
/// [`RepoSettings::call_guard`]).
const GUARD_MARGIN: Duration = Duration::from_millis(250);

/// Pool and timeout settings, from the configuration.
#[derive(Debug, Clone)]
pub struct RepoSettings {
    pub database_url: String,
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
}

/// A handle on the database; cheap to clone (the pool and the breaker are shared).
#[derive(Clone)]
pub struct Repository {
    db: DatabaseConnection,
    call_guard: Duration,
    breaker: Arc<Breaker>,
    /// Repository calls started and not yet finished, for the pool's `waiting` gauge.
    calls: Arc<AtomicUsize>,
    /// SQLite only: every write goes through this pool of two connections, one writer at a
    /// time. SQLite lets one connection write at a time and makes the others retry in its busy
    /// handler, which sleeps 1, 2, 5, ... 100 ms between tries (PUT p99 ~340 ms at 64
    /// connections); writers instead take turns on the lock, in order and without sleeping, and
    /// never wait behind readers for a connection. The second connection lets the next writer
    /// start while sqlx still checks the previous one on its way back to the pool.
    sqlite_writer: Option<(DatabaseConnection, Arc<tokio::sync::Mutex<()>>)>,
    /// How long a SQLite writer may wait for its turn: the statement timeout.
    write_turn_timeout: Duration,
    /// SQLite only (a database file): the special-treatment lookup's own read-only
    /// connections, used on the request's thread (see [`sqlite_reads`]).
    sqlite_reads: Option<Arc<SqliteReads>>,
    /// SQLite only (a database file): the special-treatment replaces' writer thread, which
    /// commits them in groups (see [`sqlite_writes`]).
    sqlite_writes: Option<Arc<SqliteWrites>>,
    /// PostgreSQL only (without TLS): the special-treatment lookup's own connections (see
    /// [`postgres_reads`]).
    postgres_reads: Option<Arc<PipelinedReads>>,
    /// PostgreSQL only (without TLS): the special-treatment replaces' writers (see
    /// [`postgres_writes`]).
    postgres_writes: Option<Arc<GroupWrites>>,
}

impl Repository {
    /// Connects (creating the SQLite file and its folder when needed) and migrates.
    pub async fn connect(settings: &RepoSettings) -> anyhow::Result<Self> {
        let url = settings.database_url.as_str();
        let is_sqlite = url.starts_with("sqlite:");
        if is_sqlite {
            create_sqlite_folder(url)?;
        }
        // PostgreSQL without TLS: half the connections are the special-treatment paths' own
        // (lookups first, then writers: see `postgres_reads`, `postgres_writes`), and the pool
        // has the other half.
        let own_connections = if url.starts_with("postgres") && settings.max_connections >= 2 {
            own_connection_settings(settings).await?
        } else {
            None
        };
        let own = own_connections
            .as_ref()
            .map_or(0, |_| settings.max_connections / 2);
        let mut options = ConnectOptions::new(url);
        options
            .max_connections(settings.max_connections - own)
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
            let turn: Arc<tokio::sync::Mutex<()>> = Arc::default();
            Some((Database::connect(writer).await?, turn))
        } else {
            None
        };
        let db = Database::connect(options).await?;
        migrate::apply(sqlite_writer.as_ref().map_or(&db, |(writer, _)| writer)).await?;
        let (sqlite_reads, sqlite_writes) = match (&sqlite_writer, sqlite_file(url)?) {
            (Some((_, turn)), Some(path)) => {
                let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
                let readers = threads.min(settings.max_connections as usize);
                let writes = SqliteWrites::start(
                    &path,
                    customers::update_treatment_sql(DbBackend::Sqlite),
                    turn.clone(),
                    settings.statement_timeout,
                )?;
                (
                    Some(Arc::new(SqliteReads::open(&path, readers)?)),
                    Some(Arc::new(writes)),
                )
            }
            _ => (None, None),
        };
        let call_guard = settings.call_guard();
        let (readers, writers) = (own.div_ceil(2) as usize, own as usize / 2);
        let (mut postgres_reads, mut postgres_writes) = (None, None);
        if let Some(connection) = own_connections {
            let select = customers::select_treatment_sql(DbBackend::Postgres);
            let reads = PipelinedReads::connect(connection.clone(), readers, call_guard, select);
            postgres_reads = Some(Arc::new(reads.await?));
            if writers > 0 {
                let update = customers::update_treatment_sql(DbBackend::Postgres);
                let writes = GroupWrites::start(connection, writers, call_guard, update);
                postgres_writes = Some(Arc::new(writes.await?));
            }
        }
        Ok(Repository {
            db,
            call_guard: settings.call_guard(),
            breaker: Arc::new(Breaker::new(
                settings.call_guard(),
                settings.max_connections,
            )),
            calls: Arc::default(),
            sqlite_writer,
            write_turn_timeout: settings.statement_timeout,
            sqlite_reads,
            sqlite_writes,
            postgres_reads,
            postgres_writes,
        })
    }

    /// Applies pending migrations and returns.
    pub async fn migrate(settings: &RepoSettings) -> anyhow::Result<()> {
        Self::connect(settings).await?.close().await
    }

    /// Stops the probe and closes the pool, waiting for checked-out connections to return.
    pub async fn close(self) -> anyhow::Result<()> {
        self.breaker.shut_down();
        if let Some(reads) = &self.postgres_reads {
            reads.close();
        }
        if let Some(writes) = &self.postgres_writes {
            writes.close();
        }
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

    /// Runs one repository call within the call guard, mapping its failure.
    pub(crate) async fn run<'a, T, F, Fut>(&'a self, call: F) -> Result<T, Error>
    where
        F: FnOnce(&'a DatabaseConnection) -> Fut,
        Fut: Future<Output = Result<T, DbErr>> + 'a,
    {
        self.run_or(call, |_| None).await
    }

    /// Like [`run`](Self::run), with `recognize` first turning the failures the caller
    /// understands (a constraint violation standing for one of its rules) into its own error.
    pub(crate) async fn run_or<'a, T, F, Fut>(
        &'a self,
        call: F,
        recognize: impl FnOnce(&DbErr) -> Option<Error>,
    ) -> Result<T, Error>
    where
        F: FnOnce(&'a DatabaseConnection) -> Fut,
        Fut: Future<Output = Result<T, DbErr>> + 'a,
    {
        self.run_on(&self.db, call, recognize).await
    }

    /// [`run_or`](Self::run_or) on the given pool (SQLite's writes have one of their own).
    async fn run_on<'a, T, F, Fut>(
        &'a self,
        db: &'a DatabaseConnection,
        call: F,
        recognize: impl FnOnce(&DbErr) -> Option<Error>,
    ) -> Result<T, Error>
    where
        F: FnOnce(&'a DatabaseConnection) -> Fut,
        Fut: Future<Output = Result<T, DbErr>> + 'a,
    {
        self.refuse_while_open()?;
        let _counted = CallInProgress::start(&self.calls);
        match tokio::time::timeout(self.call_guard, call(db)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(match recognize(&err) {
                Some(known) => known,
                None => self.failed(err),
            }),
            Err(_) => {
                // Neither the acquire timeout nor the database's own limit ended the call: the
                // database stopped answering. The client still learns 504 (the outcome of a
                // write is unknown), and the breaker checks whether the database is there.
                self.breaker
                    .trip(&self.db, "a repository call outlived its guard");
                Err(Error::Timeout)
            }
        }
    }

    /// SQLite: the special-treatment lookup on this thread, without the pool (see
    /// [`sqlite_reads`]); `None` when it must take the regular path: another backend, an open
    /// breaker (which the regular path answers), or a read the fast path leaves to the pool.
    fn read_special_treatment_on_this_thread(
        &self,
        sql: &str,
        id: uuid::Uuid,
        org: &str,
    ) -> Option<Option<Vec<String>>> {
        let reads = self.sqlite_reads.as_ref()?;
        if self.breaker.is_open() {
            return None;
        }
        reads.special_treatment(sql, id, org)
    }

    /// A special-treatment replace through SQLite's writer thread, bounded and mapped like
    /// [`write_or`](Self::write_or): a PUT that waited its deadline in the queue is a 504 and was
    /// not applied; the guard (queue deadline + call guard) only ends a wait on a thread that
    /// stopped answering altogether.
    async fn write_in_group(
        &self,
        writes: &SqliteWrites,
        id: uuid::Uuid,
        org: &str,
        json: String,
    ) -> Result<usize, Error> {
        self.refuse_while_open()?;
        let _counted = CallInProgress::start(&self.calls);
        let guard = self.write_turn_timeout + self.call_guard;
        match tokio::time::timeout(guard, writes.replace_special_treatment(id, org, json)).await {
            Ok(Ok(rows)) => Ok(rows),
            Ok(Err(WriteError::Expired)) => Err(Error::Timeout),
            Ok(Err(WriteError::Sqlite(err))) => {
                let error = map_sqlite_error(err);
                if let Error::Unavailable(cause) = &error {
                    self.breaker.trip(&self.db, cause);
                }
                Err(error)
            }
            Ok(Err(WriteError::Stopped)) => Err(Error::Internal(anyhow::anyhow!(
                "the SQLite writer thread stopped"
            ))),
            Err(_) => {
                self.breaker
                    .trip(&self.db, "the SQLite writer outlived its guard");
                Err(Error::Timeout)
            }
        }
    }

    /// PostgreSQL: `call` on the special-treatment paths' own connections (see
    /// [`postgres_reads`], [`postgres_writes`]); `None` when it must take the regular path:
    /// another backend, an open breaker (which the regular path answers), no connection live,
    /// nothing applied and the pool likely to do better (a broken connection, a lock not
    /// granted at once), and, for a read, any failure but the statement timeout. Other failures
    /// are answered here, mapped as on the pool.
    async fn on_own_connections<T>(
        &self,
        read_only: bool,
        call: impl Future<Output = Option<Result<T, Failure>>>,
    ) -> Option<Result<T, Error>> {
        if self.breaker.is_open() {
            return None;
        }
        // A PUT queues for a writer, as for a connection (the `waiting` gauge); a lookup never
        // waits for one.
        let _counted = (!read_only).then(|| CallInProgress::start(&self.calls));
        match call.await? {
            Ok(value) => Some(Ok(value)),
            Err(Failure::UseThePool(err)) => {
                if let Some(err) = err {
                    tracing::debug!(error = %err, "special-treatment call left to the pool");
                }
                None
            }
            Err(Failure::Cancelled) => Some(Err(Error::Timeout)),
            Err(Failure::Other(_)) if read_only => None,
            Err(Failure::Other(err)) => Some(Err(Error::Internal(
                anyhow::Error::new(err).context("repository call failed"),
            ))),
            Err(Failure::Stalled) => {
                // As on the pool: the client learns 504, the breaker checks the database.
                self.breaker
                    .trip(&self.db, "a repository call outlived its guard");
                Some(Err(Error::Timeout))
            }
        }
    }

    /// While the breaker is open, calls answer 503 at once instead of waiting.
    fn refuse_while_open(&self) -> Result<(), Error> {
        if self.breaker.is_open() {
            return Err(Error::Unavailable(
                "the database was found unreachable; waiting for a probe to reach it".to_owned(),
            ));
        }
        Ok(())
    }

    fn failed(&self, err: DbErr) -> Error {
        let error = map_db_error(err);
        if let Error::Unavailable(cause) = &error {
            self.breaker.trip(&self.db, cause);
        }
        error
    }
}

impl Repository {
    /// [`Repository::run_or`] for a call that writes: on SQLite it waits for its turn (within
    /// the statement timeout, like the busy wait it replaces) and runs on the writers' pool.
    pub(crate) async fn write_or<'a, T, F, Fut>(
        &'a self,
        call: F,
        recognize: impl FnOnce(&DbErr) -> Option<Error>,
    ) -> Result<T, Error>
    where
        F: FnOnce(&'a DatabaseConnection) -> Fut + 'a,
        Fut: Future<Output = Result<T, DbErr>> + 'a,
    {
        // An open breaker answers first: no point queueing for a database that is not there.
        self.refuse_while_open()?;
        let Some((writer, turn)) = &self.sqlite_writer else {
            return self.run_or(call, recognize).await;
        };
        // The turn is taken before the call's own bound starts, and waiting for it is bounded
        // by the statement timeout: a writer queued too long is a 504, as a busy wait was.
        let _turn = tokio::time::timeout(self.write_turn_timeout, turn.lock())
            .await
            .map_err(|_| Error::Timeout)?;
        self.run_on(writer, call, recognize).await
    }

    /// [`Repository::write_or`] with the default error mapping.
    pub(crate) async fn write<'a, T, F, Fut>(&'a self, call: F) -> Result<T, Error>
    where
        F: FnOnce(&'a DatabaseConnection) -> Fut + 'a,
        Fut: Future<Output = Result<T, DbErr>> + 'a,
    {
        self.write_or(call, |_| None).await
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
    if is_unreachable(&err) {
        Error::Unavailable(err.to_string())
    } else if is_timeout(&err) {
        Error::Timeout
    } else {
        Error::Internal(anyhow::Error::new(err).context("repository call failed"))
    }
}

/// The sqlx error under a statement's failure, if any.
fn sqlx_error(err: &DbErr) -> Option<&sqlx::Error> {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            Some(e.as_ref())
        }
        _ => None,
    }
}

/// No connection could be had, or the one in use broke: the database is unreachable (or
/// refusing connections), not wrong. A connection lost mid-statement surfaces as an I/O error
/// (broken pipe, reset, unexpected end of stream) on the statement, not as a connection error.
fn is_unreachable(err: &DbErr) -> bool {
    if matches!(err, DbErr::ConnectionAcquire(_) | DbErr::Conn(_)) {
        return true;
    }
    match sqlx_error(err) {
        Some(
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed,
        ) => true,
        Some(sqlx::Error::Database(db_err)) => db_err
            .code()
            .is_some_and(|code| is_postgres_unreachable(&code)),
        _ => false,
    }
}

/// A PostgreSQL SQLSTATE saying the database, not the statement, failed: a connection exception
/// (class 08), the server shutting down or starting (57P01-57P03), no connection slot left
/// (53300).
pub(crate) fn is_postgres_unreachable(sqlstate: &str) -> bool {
    sqlstate.starts_with("08") || matches!(sqlstate, "57P01" | "57P02" | "57P03" | "53300")
}

/// PostgreSQL's SQLSTATE for a statement its `statement_timeout` cancelled.
pub(crate) const POSTGRES_QUERY_CANCELED: &str = "57014";

/// PostgreSQL cancelled the statement (57014, `statement_timeout`), or SQLite's busy timeout ran
/// out waiting for the write lock (`SQLITE_BUSY` 5, `SQLITE_LOCKED` 6, `SQLITE_BUSY_SNAPSHOT`
/// 517).
fn is_timeout(err: &DbErr) -> bool {
    let Some(sqlx::Error::Database(db_err)) = sqlx_error(err) else {
        return false;
    };
    matches!(
        db_err.code().as_deref(),
        Some(POSTGRES_QUERY_CANCELED | "5" | "6" | "517")
    )
}

/// The special-treatment paths' own PostgreSQL connections, with TLS exactly when and as the
/// pool's (see `ConnectionSettings`). `None`, with a warning, for a connection string that
/// tokio-postgres does not understand (an sqlx-only parameter) or TLS files that cannot be read.
async fn own_connection_settings(
    settings: &RepoSettings,
) -> anyhow::Result<Option<ConnectionSettings>> {
    let own = ConnectionSettings::new(
        &settings.database_url,
        settings.acquire_timeout,
        settings.statement_timeout,
    );
    Ok(own
        .inspect_err(|err| {
            let what = "DATABASE_URL not understood by tokio-postgres";
            tracing::warn!(error = %err, "{what}; the special-treatment calls take the pool");
        })
        .ok())
}

/// The path of a SQLite database file; `None` for an in-memory database, which other
/// connections than the pool's cannot open.
fn sqlite_file(url: &str) -> anyhow::Result<Option<std::path::PathBuf>> {
    if !url.starts_with("sqlite:") {
        return Ok(None);
    }
    let options: sqlx::sqlite::SqliteConnectOptions = url.parse()?;
    let path = options.get_filename();
    Ok(path.is_file().then(|| path.to_owned()))
}

/// Classifies a failure of SQLite itself (the writer thread's): busy past the busy timeout is
/// `Timeout`, as on the pool; a file that cannot be read, written or opened is `Unavailable`.
fn map_sqlite_error(err: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode;
    match err.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Error::Timeout,
        Some(ErrorCode::SystemIoFailure | ErrorCode::CannotOpen | ErrorCode::DiskFull) => {
            Error::Unavailable(err.to_string())
        }
        _ => Error::Internal(anyhow::Error::new(err).context("repository call failed")),
    }
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
            call_guard: Duration::from_secs(1),
            breaker: Arc::new(Breaker::new(Duration::from_secs(1), 1)),
            calls: Arc::default(),
            sqlite_writer: None,
            write_turn_timeout: Duration::from_secs(1),
            sqlite_reads: None,
            sqlite_writes: None,
            postgres_reads: None,
            postgres_writes: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{io, sync::Arc};

    use sea_orm::{ConnAcquireErr, ConnectionTrait, Statement};

    use super::*;

    fn on_statement(err: sqlx::Error) -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(Arc::new(err)))
    }

    #[test]
    fn connection_failures_are_unavailable_and_the_rest_internal() {
        let unavailable = [
            DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
            DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
            DbErr::Conn(RuntimeErr::Internal("refused".to_owned())),
            on_statement(sqlx::Error::Io(io::ErrorKind::BrokenPipe.into())),
            on_statement(sqlx::Error::Io(io::ErrorKind::UnexpectedEof.into())),
            on_statement(sqlx::Error::PoolTimedOut),
            on_statement(sqlx::Error::WorkerCrashed),
        ];
        for err in unavailable {
            let shown = err.to_string();
            assert!(
                matches!(map_db_error(err), Error::Unavailable(_)),
                "{shown}"
            );
        }
        let internal = [
            on_statement(sqlx::Error::Protocol("garbled".to_owned())),
            on_statement(sqlx::Error::ColumnNotFound("x".to_owned())),
            DbErr::Json("invalid type: map, expected a sequence".to_owned()),
            DbErr::Type("bad".to_owned()),
        ];
        for err in internal {
            let shown = err.to_string();
            assert!(matches!(map_db_error(err), Error::Internal(_)), "{shown}");
        }
    }

    #[test]
    fn the_writer_threads_sqlite_failures_map_like_the_pools() {
        let failure = |code| {
            rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some("x".to_owned()))
        };
        use rusqlite::ffi;
        for code in [ffi::SQLITE_BUSY, ffi::SQLITE_LOCKED] {
            assert!(matches!(map_sqlite_error(failure(code)), Error::Timeout));
        }
        for code in [
            ffi::SQLITE_IOERR_FSYNC,
            ffi::SQLITE_CANTOPEN,
            ffi::SQLITE_FULL,
        ] {
            assert!(matches!(
                map_sqlite_error(failure(code)),
                Error::Unavailable(_)
            ));
        }
        for code in [ffi::SQLITE_CORRUPT, ffi::SQLITE_CONSTRAINT] {
            assert!(matches!(
                map_sqlite_error(failure(code)),
                Error::Internal(_)
            ));
        }
    }

    /// The settings that make a 204 durable are those of the pool's own connections.
    #[tokio::test]
    async fn sqlite_connections_use_wal_with_a_full_sync_at_each_commit() {
        let dir = tempfile::tempdir().unwrap();
        let settings = RepoSettings {
            database_url: format!("sqlite://{}/t.sqlite?mode=rwc", dir.path().display()),
            max_connections: 1,
            acquire_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_secs(2),
        };
        let repo = Repository::connect(&settings).await.unwrap();
        let pragma = |name: &str| {
            let sql = format!("PRAGMA {name}");
            let db = repo.db.clone();
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
        repo.close().await.unwrap();
    }
}
