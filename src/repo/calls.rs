//! The one way a repository call runs: [`Repository::bounded`].
//!
//! Every call, on the pools or on the special-treatment paths, goes through it: refused at once
//! while the breaker is open, counted while it runs (the pool's `waiting` gauge), bounded by the
//! call guard, its failure classified ([`DbFailure`]) and, when the database looks gone, the
//! breaker tripped.
//!
//! Queries reach the pools through [`Repository::read`] and [`Repository::write`] only, and
//! the two are different types: a read gets a [`Reader`], which can run SELECTs and nothing
//! else, on the read pool; a write gets a [`Writer`] on the write pool, after taking its turn
//! on SQLite (one writer at a time, as SQLite allows anyway). So a write cannot take the read
//! pool by mistake: it does not compile. On SQLite the read pool's connections are opened
//! read-only as well.

use std::{
    future::Future,
    sync::atomic::{AtomicUsize, Ordering},
};

use sea_orm::{
    DatabaseConnection, DbBackend, DbErr, EntityTrait, FromQueryResult, QueryResult, Select,
    SelectorTrait, Statement, Value, sea_query::SelectStatement,
};

use super::{
    Repository,
    errors::{ConflictRule, DbFailure},
};
use crate::error::Error;

/// What a read may do: run SELECTs on the read pool. `Copy`, so a closure can hand it on.
#[derive(Clone, Copy)]
pub(crate) struct Reader<'a>(&'a DatabaseConnection);

/// A SELECT whose SQL is built once per backend and only bound at each call (building it with
/// sea-query at every call was ~9% of a special-treatment GET, BENCHMARKS.md). Made from a
/// [`SelectStatement`], so it is a SELECT by construction.
#[derive(Clone, Copy)]
pub(crate) struct SelectSql(&'static str);

impl SelectSql {
    pub(crate) fn new(
        cache: &'static [std::sync::OnceLock<String>; 2],
        backend: DbBackend,
        build: impl FnOnce() -> SelectStatement,
    ) -> Self {
        let slot = match backend {
            DbBackend::Postgres => &cache[0],
            _ => &cache[1],
        };
        SelectSql(slot.get_or_init(|| backend.build(&build()).sql))
    }

    pub(crate) fn sql(self) -> &'static str {
        self.0
    }
}

/// Rows a [`Reader`] can fetch: SeaORM's SELECT builders.
pub(crate) trait Rows: Send {
    type Item: Send;
    fn fetch(
        self,
        db: &DatabaseConnection,
    ) -> impl Future<Output = Result<Vec<Self::Item>, DbErr>> + Send;
}

impl<E> Rows for Select<E>
where
    E: EntityTrait,
    E::Model: FromQueryResult + Send + Sync,
{
    type Item = E::Model;
    fn fetch(
        self,
        db: &DatabaseConnection,
    ) -> impl Future<Output = Result<Vec<E::Model>, DbErr>> + Send {
        self.all(db)
    }
}

impl<S> Rows for sea_orm::Selector<S>
where
    S: SelectorTrait + Send + Sync,
    S::Item: Send,
{
    type Item = S::Item;
    fn fetch(
        self,
        db: &DatabaseConnection,
    ) -> impl Future<Output = Result<Vec<S::Item>, DbErr>> + Send {
        self.all(db)
    }
}

impl<'a> Reader<'a> {
    /// Every row of `query`. (No `.one()`: it binds `LIMIT ?`, which SQLite re-plans at every
    /// binding; a key lookup needs no limit.)
    pub(crate) fn all<Q: Rows + 'a>(
        self,
        query: Q,
    ) -> impl Future<Output = Result<Vec<Q::Item>, DbErr>> + Send + 'a {
        query.fetch(self.0)
    }

    /// The first row of `select` bound to `values`, if any.
    pub(crate) async fn first_row(
        self,
        select: SelectSql,
        values: impl IntoIterator<Item = Value>,
    ) -> Result<Option<QueryResult>, DbErr> {
        use sea_orm::ConnectionTrait;
        let statement =
            Statement::from_sql_and_values(self.0.get_database_backend(), select.0, values);
        self.0.query_one_raw(statement).await
    }

    /// One round trip, for readiness.
    pub(crate) async fn ping(self) -> Result<(), DbErr> {
        self.0.ping().await
    }
}

/// What a write may do: anything, on the write pool, in its turn.
#[derive(Clone, Copy)]
pub(crate) struct Writer<'a>(&'a DatabaseConnection);

impl<'a> Writer<'a> {
    /// The write pool: for SeaORM's insert, update and delete builders and transactions.
    pub(crate) fn db(self) -> &'a DatabaseConnection {
        self.0
    }
}

impl Repository {
    /// The read pool, for a read already inside a [`Repository::bounded`] call.
    pub(super) fn read_pool(&self) -> Reader<'_> {
        Reader(&self.pools.read)
    }

    /// A read on the read pool.
    pub(crate) async fn read<'a, T, F, Fut>(&'a self, call: F) -> Result<T, Error>
    where
        F: FnOnce(Reader<'a>) -> Fut,
        Fut: Future<Output = Result<T, DbErr>> + 'a,
    {
        let reader = Reader(&self.pools.read);
        self.bounded(
            None,
            async move { call(reader).await.map_err(DbFailure::from) },
        )
        .await
    }

    /// A write on the write pool, in its turn. A constraint violation here is a bug (500):
    /// writes that can break a rule use [`Repository::write_checked`].
    pub(crate) async fn write<'a, T, F, Fut>(&'a self, call: F) -> Result<T, Error>
    where
        F: FnOnce(Writer<'a>) -> Fut,
        Fut: Future<Output = Result<T, DbErr>> + 'a,
    {
        self.write_with(None, call).await
    }

    /// A write whose unique or foreign-key constraint stands for `rule`: its violation is
    /// answered `409 conflict` naming the rule's field.
    pub(crate) async fn write_checked<'a, T, F, Fut>(
        &'a self,
        rule: ConflictRule,
        call: F,
    ) -> Result<T, Error>
    where
        F: FnOnce(Writer<'a>) -> Fut,
        Fut: Future<Output = Result<T, DbErr>> + 'a,
    {
        self.write_with(Some(rule), call).await
    }

    async fn write_with<'a, T, F, Fut>(
        &'a self,
        conflict: Option<ConflictRule>,
        call: F,
    ) -> Result<T, Error>
    where
        F: FnOnce(Writer<'a>) -> Fut,
        Fut: Future<Output = Result<T, DbErr>> + 'a,
    {
        // No point queueing for a turn on a database that is not there.
        self.refuse_while_open()?;
        let _turn = self.pools.take_write_turn().await?;
        let writer = Writer(&self.pools.write);
        self.bounded(conflict, async move {
            call(writer).await.map_err(DbFailure::from)
        })
        .await
    }

    /// Runs one repository call: see the module documentation. `conflict` says what a
    /// constraint violation stands for.
    pub(crate) async fn bounded<T>(
        &self,
        conflict: Option<ConflictRule>,
        call: impl Future<Output = Result<T, DbFailure>>,
    ) -> Result<T, Error> {
        self.refuse_while_open()?;
        let _counted = CallInProgress::start(&self.calls);
        let mut call = std::pin::pin!(call);
        // A call answered at its first poll (SQLite's special-treatment lookup on the
        // request's thread, which never waits) needs no timer: the hottest path arms none.
        let outcome = match futures_util::poll!(call.as_mut()) {
            std::task::Poll::Ready(outcome) => Ok(outcome),
            std::task::Poll::Pending => tokio::time::timeout(self.call_guard, call).await,
        };
        let failure = match outcome {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(failure)) => failure,
            // Neither the acquire timeout nor the database's own limit ended the call: the
            // database stopped answering. The client still learns 504 (the outcome of a write
            // is unknown), and the breaker checks whether the database is there.
            Err(_) => DbFailure::Stalled,
        };
        match &failure {
            DbFailure::Unreachable(cause) => self.breaker.trip(&self.pools.read, cause),
            DbFailure::Stalled => self
                .breaker
                .trip(&self.pools.read, "a repository call outlived its guard"),
            _ => {}
        }
        Err(failure.into_error(conflict))
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

    pub(crate) fn calls_in_progress(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
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
