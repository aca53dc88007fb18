//! Special treatment's storage: read on every interaction with a customer, so its GET and PUT
//! have ways through of their own, chosen once at start by [`SpecialTreatmentStore::connect`]:
//!
//! - SQLite: the lookup runs on the request's thread on read-only connections of its own
//!   ([`sqlite_reads`]), and PUTs are committed in groups by one writer thread
//!   ([`sqlite_writes`]);
//! - PostgreSQL: lookups are pipelined on a few connections of their own ([`postgres_reads`])
//!   and PUTs committed in groups by a few writers ([`postgres_writes`]), on connections
//!   made as in [`postgres_connection`].
//!
//! Whatever a fast path cannot answer takes the pools, as every other query does. Every call,
//! fast or not, is one of [`Repository::bounded`]'s, so it is bounded, counted and classified
//! like any other. Nothing else in the service uses these paths: this type is their boundary.

pub(super) mod postgres_connection;
pub(super) mod postgres_reads;
pub(super) mod postgres_writes;
pub(super) mod sqlite_reads;
pub(super) mod sqlite_writes;

use std::sync::{
    OnceLock,
    atomic::{AtomicUsize, Ordering},
};

use entity::{
    customer::{Column, Entity},
    history_event,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, QueryTrait,
    Statement, TransactionTrait, sea_query::Expr,
};
use uuid::Uuid;

use super::{
    Repository,
    calls::SelectSql,
    db::{Budget, Pools, RepoSettings},
    errors::DbFailure,
    history::{self, Stamp},
};
use crate::{
    domain::history::{Action, Change},
    error::Error,
};
use postgres_connection::{ConnectionSettings, Failure};
use postgres_reads::PipelinedReads;
use postgres_writes::GroupWrites;
use sqlite_reads::SqliteReads;
use sqlite_writes::{SqliteWrites, WriteError};

/// `SELECT special_treatment FROM customers WHERE id = $1 AND org_id = $2`, as SeaORM writes it.
fn select_sql(backend: DbBackend) -> SelectSql {
    static SQL: [OnceLock<String>; 2] = [OnceLock::new(), OnceLock::new()];
    SelectSql::new(&SQL, backend, || {
        Entity::find_by_id(Uuid::nil())
            .filter(Column::OrgId.eq(""))
            .select_only()
            .column(Column::SpecialTreatment)
            .into_query()
    })
}

/// `UPDATE customers SET special_treatment = $1 WHERE id = $2 AND org_id = $3`, as SeaORM
/// writes it, built once per backend.
fn update_sql(backend: DbBackend) -> &'static str {
    static SQL: [OnceLock<String>; 2] = [OnceLock::new(), OnceLock::new()];
    let slot = match backend {
        DbBackend::Postgres => &SQL[0],
        _ => &SQL[1],
    };
    slot.get_or_init(|| {
        Entity::update_many()
            .col_expr(
                Column::SpecialTreatment,
                Expr::value(entity::SpecialTreatmentValues::default()),
            )
            .filter(Column::Id.eq(Uuid::nil()))
            .filter(Column::OrgId.eq(""))
            .build(backend)
            .sql
    })
}

/// PostgreSQL's special-treatment PUT with its history event, one statement: the `UPDATE` of
/// [`update_sql`], and the event inserted from the row it returns, so there is an event exactly
/// when the customer was updated, in the same transaction even outside one. Parameters: the
/// list, id, organization (as in the `UPDATE`), then the event's id, time, actor, request id,
/// resource id and changes. Rows affected: the events inserted, so the customers updated.
pub(super) fn postgres_update_with_event_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| with_event(update_sql(DbBackend::Postgres), "\"history_events\""))
}

/// `update` (a PostgreSQL `UPDATE` of one customer with parameters `$1..$3`) inserting its event
/// into `events` (the history table; another in the fast paths' tests).
pub(super) fn with_event(update: &str, events: &str) -> String {
    format!(
        "WITH updated AS ({update} RETURNING \"id\") \
         INSERT INTO {events} ({columns}) \
         SELECT $4::uuid, $3, \"id\", $5::timestamptz, $6::text, $7::text, \
         '{action}', '{resource}', $8::text, $9::text FROM updated",
        columns = history::EVENT_COLUMNS_SQL,
        action = Action::SpecialTreatmentSet.as_str(),
        resource = Action::SpecialTreatmentSet.resource_type().as_str(),
    )
}

/// SQLite's special-treatment event insert, run by the writer thread after an `UPDATE` that
/// changed the row, in the same transaction. Parameters: id, organization, customer id, time,
/// actor, request id, resource id, changes.
pub(super) fn sqlite_event_insert_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "INSERT INTO \"history_events\" ({columns}) \
             VALUES (?, ?, ?, ?, ?, ?, '{action}', '{resource}', ?, ?)",
            columns = history::EVENT_COLUMNS_SQL,
            action = Action::SpecialTreatmentSet.as_str(),
            resource = Action::SpecialTreatmentSet.resource_type().as_str(),
        )
    })
}

/// A special-treatment PUT's event as the fast paths bind it: stamped on the request's task.
#[derive(Clone)]
pub(super) struct PutEvent {
    pub stamp: Stamp,
    pub resource_id: String,
    /// `{"values": [...]}`.
    pub changes: String,
}

impl PutEvent {
    pub(super) fn new(id: Uuid, values: &[String]) -> Self {
        PutEvent {
            stamp: Stamp::now(),
            resource_id: id.to_string(),
            changes: serde_json::json!({ "values": values }).to_string(),
        }
    }
}

/// See the module documentation.
pub(crate) struct SpecialTreatmentStore {
    paths: FastPaths,
    /// Lookups in progress on the fast paths: they hold no connection and never wait for one,
    /// so the pool's `waiting` gauge leaves them out.
    lookups: AtomicUsize,
}

enum FastPaths {
    /// Only the pools (no database, or a connection string the fast paths cannot use).
    Pools,
    Sqlite {
        reads: Option<SqliteReads>,
        writes: Option<SqliteWrites>,
    },
    Postgres {
        reads: PipelinedReads,
        writes: Option<GroupWrites>,
    },
}

impl SpecialTreatmentStore {
    /// No fast paths: every call takes the pools.
    pub(super) fn pools_only() -> Self {
        SpecialTreatmentStore {
            paths: FastPaths::Pools,
            lookups: AtomicUsize::new(0),
        }
    }

    /// Lookups in progress on the fast paths.
    pub(super) fn lookups_in_progress(&self) -> usize {
        self.lookups.load(Ordering::Relaxed)
    }

    /// The fast paths `budget` has connections for, connected now.
    pub(super) async fn connect(
        settings: &RepoSettings,
        budget: Budget,
        pools: &Pools,
        postgres: Option<ConnectionSettings>,
    ) -> anyhow::Result<Self> {
        Ok(SpecialTreatmentStore {
            paths: FastPaths::connect(settings, budget, pools, postgres).await?,
            lookups: AtomicUsize::new(0),
        })
    }

    /// The stored list of customer `id` in `org`; `None`: no such customer.
    pub(super) async fn get(
        &self,
        repo: &Repository,
        org: &str,
        id: Uuid,
    ) -> Result<Option<Vec<String>>, Error> {
        let select = select_sql(repo.pools.backend());
        repo.bounded(None, async {
            if let Some(answer) = self.look_up_fast(select, org, id).await? {
                return Ok(answer);
            }
            let row = repo
                .read_pool()
                .first_row(select, [id.into(), org.into()])
                .await?;
            let stored = row
                .map(|row| row.try_get_by_index::<entity::SpecialTreatmentValues>(0))
                .transpose()?;
            Ok(stored.map(|values| values.0))
        })
        .await
    }

    /// The lookup on a fast path: `Some(answer)`, or `None` when the pool must answer (no fast
    /// path, none free, or a failure that the pool may not have: a read is safe to repeat).
    async fn look_up_fast(
        &self,
        select: SelectSql,
        org: &str,
        id: Uuid,
    ) -> Result<Option<Option<Vec<String>>>, DbFailure> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        let _done = scopeguard(|| {
            self.lookups.fetch_sub(1, Ordering::Relaxed);
        });
        match &self.paths {
            FastPaths::Sqlite {
                reads: Some(reads), ..
            } => Ok(reads.special_treatment(select.sql(), id, org)),
            FastPaths::Postgres { reads, .. } => match reads.special_treatment(id, org).await {
                Some(Ok(answer)) => Ok(Some(answer)),
                Some(Err(Failure::Cancelled)) => Err(DbFailure::Timeout),
                Some(Err(Failure::Stalled)) => Err(DbFailure::Stalled),
                Some(Err(Failure::UseThePool(_) | Failure::Other(_))) | None => Ok(None),
            },
            _ => Ok(None),
        }
    }

    /// Replaces the list of customer `id` in `org`; the rows changed (0: no such customer).
    pub(super) async fn replace(
        &self,
        repo: &Repository,
        org: &str,
        id: Uuid,
        values: Vec<String>,
    ) -> Result<u64, Error> {
        self.paths.replace(repo, org, id, values).await
    }

    pub(super) fn open_connections(&self) -> usize {
        self.paths.open_connections()
    }

    pub(super) fn close(&self) {
        self.paths.close();
    }
}

/// Runs `f` when dropped, however the scope ends (a cancelled request included).
fn scopeguard(f: impl FnOnce()) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}

impl FastPaths {
    /// The fast paths `budget` has connections for, connected now.
    pub(super) async fn connect(
        settings: &RepoSettings,
        budget: Budget,
        pools: &Pools,
        postgres: Option<ConnectionSettings>,
    ) -> anyhow::Result<Self> {
        let call_guard = settings.call_guard();
        if settings.is_sqlite() {
            let path = super::db::sqlite_file(&settings.database_url)?;
            let reads = match budget.fast_reads {
                0 => None,
                count => Some(SqliteReads::open(&path, count as usize)?),
            };
            let writes = match (budget.fast_writes, &pools.turn) {
                (0, _) | (_, None) => None,
                (_, Some(turn)) => Some(SqliteWrites::start(
                    &path,
                    [update_sql(DbBackend::Sqlite), sqlite_event_insert_sql()],
                    turn.clone(),
                    settings.statement_timeout,
                )?),
            };
            return Ok(FastPaths::Sqlite { reads, writes });
        }
        let Some(connection) = postgres.filter(|_| budget.fast_reads > 0) else {
            return Ok(FastPaths::Pools);
        };
        let select = select_sql(DbBackend::Postgres).sql();
        let reads = PipelinedReads::connect(
            connection.clone(),
            budget.fast_reads as usize,
            call_guard,
            select,
        )
        .await?;
        let writes = match budget.fast_writes {
            0 => None,
            count => {
                let update = postgres_update_with_event_sql();
                Some(GroupWrites::start(connection, count as usize, call_guard, update).await?)
            }
        };
        Ok(FastPaths::Postgres { reads, writes })
    }

    /// Replaces the list of customer `id` in `org`; the rows changed (0: no such customer).
    pub(super) async fn replace(
        &self,
        repo: &Repository,
        org: &str,
        id: Uuid,
        values: Vec<String>,
    ) -> Result<u64, Error> {
        let event = PutEvent::new(id, &values);
        match self {
            FastPaths::Sqlite {
                writes: Some(writes),
                ..
            } => {
                let json = serde_json::to_string(&values)
                    .map_err(|err| Error::Internal(anyhow::Error::new(err)))?;
                return repo
                    .bounded(None, async {
                        match writes.replace_special_treatment(id, org, json, event).await {
                            Ok(changed) => Ok(changed as u64),
                            Err(WriteError::Expired) => Err(DbFailure::Timeout),
                            Err(WriteError::Sqlite(err)) => Err(err.into()),
                            Err(WriteError::Stopped) => Err(DbFailure::Other(anyhow::anyhow!(
                                "the SQLite writer thread stopped"
                            ))),
                        }
                    })
                    .await;
            }
            FastPaths::Postgres {
                writes: Some(writes),
                ..
            } => {
                let grouped = repo
                    .bounded(None, async {
                        let put =
                            writes.replace_special_treatment(values.clone(), id, org, &event);
                        match put.await {
                            Some(Ok(changed)) => Ok(Some(changed)),
                            Some(Err(Failure::Cancelled)) => Err(DbFailure::Timeout),
                            Some(Err(Failure::Stalled)) => Err(DbFailure::Stalled),
                            Some(Err(Failure::Other(err))) => Err(err.into()),
                            // Nothing applied, and the pool may well do better; a replace is
                            // safe to repeat (PUT is idempotent).
                            Some(Err(Failure::UseThePool(err))) => {
                                if let Some(err) = err {
                                    tracing::debug!(error = %err, "special-treatment PUT left to the pool");
                                }
                                Ok(None)
                            }
                            None => Ok(None),
                        }
                    })
                    .await?;
                if let Some(changed) = grouped {
                    return Ok(changed);
                }
            }
            _ => {}
        }
        let change = Change::of_customer(
            id,
            Action::SpecialTreatmentSet,
            serde_json::json!({ "values": values }),
        );
        let values = entity::SpecialTreatmentValues(values);
        repo.write(|writer| async move {
            let txn = writer.db().begin().await?;
            let backend = txn.get_database_backend();
            let statement = Statement::from_sql_and_values(
                backend,
                update_sql(backend),
                [values.into(), id.into(), org.into()],
            );
            let changed = txn.execute_raw(statement).await?.rows_affected();
            if changed > 0 {
                let row = history::event_row_stamped(org, change, event.stamp);
                history_event::Entity::insert(row)
                    .exec_without_returning(&txn)
                    .await?;
            }
            txn.commit().await?;
            Ok(changed)
        })
        .await
    }

    /// Connections open at this instant on these paths (the pools' gauges count them).
    pub(super) fn open_connections(&self) -> usize {
        match self {
            FastPaths::Pools => 0,
            FastPaths::Sqlite { reads, writes } => {
                reads.as_ref().map_or(0, SqliteReads::len) + usize::from(writes.is_some())
            }
            FastPaths::Postgres { reads, writes } => {
                reads.connected() + writes.as_ref().map_or(0, GroupWrites::connected)
            }
        }
    }

    /// Closes the PostgreSQL connections (SQLite's close when the store is dropped).
    pub(super) fn close(&self) {
        if let FastPaths::Postgres { reads, writes } = self {
            reads.close();
            if let Some(writes) = writes {
                writes.close();
            }
        }
    }
}

/// The PostgreSQL fast paths' connection settings, with TLS exactly when and as the pool's
/// (see [`ConnectionSettings`]). `None`, with a warning, for a connection string that
/// tokio-postgres does not understand (an sqlx-only parameter) or TLS files that cannot be
/// read: the special-treatment calls then take the pool.
pub(super) fn postgres_settings(settings: &RepoSettings) -> Option<ConnectionSettings> {
    if settings.max_connections < 2 {
        return None;
    }
    let own = ConnectionSettings::new(
        &settings.database_url,
        settings.acquire_timeout,
        settings.statement_timeout,
    );
    own.inspect_err(|err| {
        let what = "DATABASE_URL not understood by tokio-postgres";
        tracing::warn!(error = %err, "{what}; the special-treatment calls take the pool");
    })
    .ok()
}
