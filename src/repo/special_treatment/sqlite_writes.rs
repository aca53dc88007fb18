//! SQLite's hot write: special-treatment replaces, committed in groups by one thread.
//!
//! SQLite writes one transaction at a time, and with `synchronous=FULL` every commit waits for
//! an fsync of the WAL. One commit per PUT makes the fsync, plus the hand-offs to sqlx's
//! connection thread and back (and its ping on release), the whole cost of a PUT, in series.
//! Here the PUTs are queued to one thread that owns a connection; it takes every PUT waiting at
//! that moment and applies them in ONE transaction, so a single fsync makes them all durable,
//! then answers each. The guarantees are those of one PUT per commit:
//!
//! - **durable**: a PUT is answered only after the COMMIT that holds it returned (its fsync
//!   done);
//! - **atomic replace**: each PUT is one `UPDATE` of the row's whole list; two PUTs of one
//!   customer in the same group are applied in queue order, so the row holds exactly one of
//!   the lists;
//! - **its history event with it**: a PUT that changed the row inserts its event right after
//!   its `UPDATE`, in the same transaction, so they are committed (or rolled back) together;
//! - **failures stay with their PUT**: if a statement of a group fails, the group is rolled
//!   back and each of its PUTs is applied again in a transaction of its own, so only the PUT
//!   that fails is answered with the failure;
//! - **a 504 means not applied**: a PUT that waited its whole deadline (the statement timeout)
//!   in the queue is answered `Timeout` by the thread without being applied, and a write lock
//!   held elsewhere for longer than the busy timeout rolls the group back (`SQLITE_BUSY`).
//!
//! The thread takes the same turn as the pool's writers (`Repository::write_or`), so it never
//! competes with them for SQLite's write lock.

use std::{
    path::Path,
    sync::{Arc, mpsc},
    thread,
    time::{Duration, Instant},
};

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use tokio::sync::{Mutex, oneshot};
use uuid::Uuid;

use super::PutEvent;

/// At most this many PUTs per transaction: bounds how long one group holds the write lock.
const MAX_GROUP: usize = 128;

/// One PUT: the statement's parameters, the last moment it may start, and where its outcome
/// goes (rows changed, or why not).
struct Job {
    json: String,
    id: Uuid,
    org: String,
    event: PutEvent,
    deadline: Instant,
    reply: oneshot::Sender<Result<usize, WriteError>>,
}

/// Why a queued replace was not applied.
#[derive(Debug)]
pub(in crate::repo) enum WriteError {
    /// It waited its whole deadline in the queue; not applied.
    Expired,
    /// SQLite refused it (the transaction holding it was rolled back).
    Sqlite(rusqlite::Error),
    /// The writer thread is gone.
    Stopped,
}

/// The queue to the writer thread; cheap to share.
pub(in crate::repo) struct SqliteWrites {
    jobs: mpsc::Sender<Job>,
    /// How long a PUT may wait in the queue before it starts: the statement timeout.
    queue_timeout: Duration,
}

impl SqliteWrites {
    /// Opens the writer's connection on the (migrated) database file at `path` and starts its
    /// thread; `sql` is the `UPDATE ... SET special_treatment = ? WHERE id = ? AND org_id = ?`
    /// and the event's `INSERT` (`super::sqlite_event_insert_sql`). The thread ends when the
    /// last handle on the queue is dropped.
    pub(in crate::repo) fn start(
        path: &Path,
        sql: [&'static str; 2],
        turn: Arc<Mutex<()>>,
        statement_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let connection = open_writer(path, statement_timeout)?;
        let (jobs, queue) = mpsc::channel();
        thread::Builder::new()
            .name("sqlite-writer".to_owned())
            .spawn(move || run(connection, sql, &turn, &queue))?;
        Ok(SqliteWrites {
            jobs,
            queue_timeout: statement_timeout,
        })
    }

    /// Replaces the list of customer `id` in `org` with `json`; the number of rows changed (0:
    /// no such customer), once the transaction holding it is committed.
    pub(in crate::repo) async fn replace_special_treatment(
        &self,
        id: Uuid,
        org: &str,
        json: String,
        event: PutEvent,
    ) -> Result<usize, WriteError> {
        let (reply, outcome) = oneshot::channel();
        let job = Job {
            json,
            id,
            org: org.to_owned(),
            event,
            deadline: Instant::now() + self.queue_timeout,
            reply,
        };
        self.jobs.send(job).map_err(|_| WriteError::Stopped)?;
        outcome.await.unwrap_or(Err(WriteError::Stopped))
    }
}

/// The writer's connection: the durability settings of every SQLite connection of the service
/// (see `Repository::connect`), and SQLite's busy timeout for a write lock held by another
/// process.
fn open_writer(path: &Path, busy_timeout: Duration) -> rusqlite::Result<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(busy_timeout)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", true)?;
    connection.pragma_update(None, "cache_size", -1024)?;
    Ok(connection)
}

/// The writer thread: waits for a PUT, takes every other one already queued, and commits them
/// together.
fn run(mut connection: Connection, sql: [&str; 2], turn: &Mutex<()>, queue: &mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        group.extend(queue.try_iter().take(MAX_GROUP - 1));
        let _turn = turn.blocking_lock();
        // Checked after the turn is taken: waiting for it counts against the deadline too.
        let now = Instant::now();
        let (expired, group): (Vec<Job>, Vec<Job>) =
            group.into_iter().partition(|job| job.deadline <= now);
        for job in expired {
            let _ = job.reply.send(Err(WriteError::Expired));
        }
        if group.is_empty() {
            continue;
        }
        match commit(&mut connection, sql, &group) {
            Ok(changed) => {
                for (job, rows) in group.into_iter().zip(changed) {
                    let _ = job.reply.send(Ok(rows));
                }
            }
            Err(err) if group.len() == 1 => {
                if let Some(job) = group.into_iter().next() {
                    let _ = job.reply.send(Err(WriteError::Sqlite(err)));
                }
            }
            // Rolled back: each on its own, so that only the failing one fails.
            Err(_) => {
                for job in group {
                    let outcome = commit(&mut connection, sql, std::slice::from_ref(&job))
                        .map(|changed| changed.iter().sum())
                        .map_err(WriteError::Sqlite);
                    let _ = job.reply.send(outcome);
                }
            }
        }
    }
}

/// Applies `group` in one transaction, each `UPDATE` followed by its event's `INSERT` when it
/// changed the row; the rows each `UPDATE` changed. On failure the transaction is rolled back
/// (dropped uncommitted).
fn commit(
    connection: &mut Connection,
    [update_sql, event_sql]: [&str; 2],
    group: &[Job],
) -> rusqlite::Result<Vec<usize>> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let changed = {
        let mut update = transaction.prepare_cached(update_sql)?;
        let mut insert = transaction.prepare_cached(event_sql)?;
        let mut changed = Vec::with_capacity(group.len());
        for job in group {
            let id = job.id.as_bytes().as_slice();
            let rows = update.execute((&job.json, id, &job.org))?;
            if rows > 0 {
                let event = &job.event;
                insert.execute((
                    event.stamp.id.as_bytes().as_slice(),
                    &job.org,
                    id,
                    // As sqlx writes a `DateTime<Utc>`, so that SeaORM reads it back.
                    event
                        .stamp
                        .occurred_at
                        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false),
                    &event.stamp.actor,
                    &event.stamp.request_id,
                    &event.resource_id,
                    &event.changes,
                ))?;
            }
            changed.push(rows);
        }
        changed
    };
    transaction.commit()?;
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPDATE: &str = "UPDATE customers SET special_treatment = ? WHERE id = ? AND org_id = ?";

    fn sql() -> [&'static str; 2] {
        [UPDATE, super::super::sqlite_event_insert_sql()]
    }

    fn event(id: Uuid) -> PutEvent {
        PutEvent::new(id, &[])
    }

    fn events(connection: &Connection) -> i64 {
        connection
            .query_row("SELECT count(*) FROM history_events", [], |row| row.get(0))
            .unwrap()
    }

    fn database() -> (tempfile::TempDir, std::path::PathBuf, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        let setup = Connection::open(&path).unwrap();
        setup
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 CREATE TABLE customers (id BLOB PRIMARY KEY, org_id TEXT, special_treatment TEXT);
                 CREATE TABLE history_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, id BLOB,
                   org_id TEXT, customer_id BLOB, occurred_at TEXT, actor TEXT, request_id TEXT,
                   action TEXT, resource_type TEXT, resource_id TEXT, changes TEXT);
                 -- A statement that fails for one organization only.
                 CREATE TRIGGER refuse BEFORE UPDATE ON customers WHEN NEW.org_id = 'refused'
                 BEGIN SELECT RAISE(ABORT, 'refused'); END;",
            )
            .unwrap();
        (dir, path, setup)
    }

    fn insert(connection: &Connection, org: &str) -> Uuid {
        let id = Uuid::now_v7();
        connection
            .execute(
                "INSERT INTO customers VALUES (?, ?, '[]')",
                (id.as_bytes().as_slice(), org),
            )
            .unwrap();
        id
    }

    fn stored(connection: &Connection, id: Uuid) -> String {
        connection
            .query_row(
                "SELECT special_treatment FROM customers WHERE id = ?",
                [id.as_bytes().as_slice()],
                |row| row.get(0),
            )
            .unwrap()
    }

    #[test]
    fn the_writer_connection_is_durable_at_each_commit() {
        let (_dir, path, _setup) = database();
        let writer = open_writer(&path, Duration::from_secs(1)).unwrap();
        let pragma = |name: &str| -> String {
            writer
                .query_row(&format!("PRAGMA {name}"), [], |row| {
                    row.get::<_, String>(0)
                        .or_else(|_| row.get::<_, i64>(0).map(|n| n.to_string()))
                })
                .unwrap()
        };
        assert_eq!(pragma("journal_mode"), "wal");
        assert_eq!(pragma("synchronous"), "2", "2 is FULL");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_replaces_are_all_committed_and_failures_stay_with_their_put() {
        let (_dir, path, setup) = database();
        let ids: Vec<Uuid> = (0..200).map(|_| insert(&setup, "acme")).collect();
        let refused = insert(&setup, "refused");
        let writes = Arc::new(
            SqliteWrites::start(&path, sql(), Arc::default(), Duration::from_secs(5)).unwrap(),
        );
        let puts = ids.iter().map(|&id| {
            let writes = writes.clone();
            tokio::spawn(async move {
                let json = format!(r#"["{id}"]"#);
                writes
                    .replace_special_treatment(id, "acme", json, event(id))
                    .await
            })
        });
        let failing = {
            let writes = writes.clone();
            tokio::spawn(async move {
                writes
                    .replace_special_treatment(refused, "refused", "[]".to_owned(), event(refused))
                    .await
            })
        };
        for put in futures::future::join_all(puts).await {
            assert_eq!(put.unwrap().unwrap(), 1);
        }
        assert!(matches!(failing.await.unwrap(), Err(WriteError::Sqlite(_))));
        for id in ids {
            assert_eq!(stored(&setup, id), format!(r#"["{id}"]"#));
        }
        // No such customer in that organization: nothing changed.
        let nobody = Uuid::now_v7();
        let unknown = writes
            .replace_special_treatment(nobody, "acme", "[]".to_owned(), event(nobody))
            .await
            .unwrap();
        assert_eq!(unknown, 0);
        // One event per applied PUT: none for the refused one or the unknown customer.
        assert_eq!(events(&setup), 200);
    }

    #[tokio::test]
    async fn a_put_that_waited_past_its_deadline_is_not_applied() {
        let (_dir, path, setup) = database();
        let id = insert(&setup, "acme");
        let turn = Arc::new(Mutex::new(()));
        let writes =
            SqliteWrites::start(&path, sql(), turn.clone(), Duration::from_millis(100)).unwrap();
        // Another writer holds the turn past the PUT's deadline.
        let held = turn.lock().await;
        let put = writes.replace_special_treatment(id, "acme", r#"["late"]"#.to_owned(), event(id));
        let release = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            drop(held);
        };
        let (outcome, ()) = tokio::join!(put, release);
        assert!(matches!(outcome, Err(WriteError::Expired)));
        assert_eq!(stored(&setup, id), "[]");
        assert_eq!(events(&setup), 0);
    }
}
