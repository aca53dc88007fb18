//! SQLite's hot read: the special-treatment lookup, on connections of our own, run on the
//! request's own thread.
//!
//! Through sqlx, every SQLite statement is handed to a thread that owns the connection and its
//! answer handed back, and the pool then pings the connection on its way back: four
//! cross-thread wake-ups around a ~10 µs primary-key lookup, a quarter of a GET's CPU
//! (BENCHMARKS.md). A read of a WAL database never waits for the writer (it reads the last
//! committed snapshot), so this lookup can run where the request already is, as a minimal
//! server would run it.
//!
//! It only ever *tries*. When no connection is free, or SQLite answers anything but a row or
//! no row (busy, an I/O error, a stored value that is not a list of strings), it returns `None`
//! and the caller takes the regular path through the pool, which waits, bounds and maps the
//! failure like every other repository call. So this path adds no behaviour of its own: it can
//! only answer what the regular path would have answered, sooner.

use std::{path::Path, sync::Mutex, time::Duration};

use rusqlite::{Connection, OpenFlags, OptionalExtension, types::ValueRef};
use uuid::Uuid;

/// A few read-only connections, each used by one thread at a time.
pub(in crate::repo) struct SqliteReads {
    connections: Box<[Mutex<Connection>]>,
}

impl SqliteReads {
    /// Opens `count` read-only connections on the (migrated) database file at `path`.
    pub(in crate::repo) fn open(path: &Path, count: usize) -> rusqlite::Result<Self> {
        let connections = (0..count.max(1))
            .map(|_| {
                let connection = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                // Never wait on the request's thread: a busy database (rare for a WAL reader,
                // e.g. while the WAL index is rebuilt) is the regular path's to wait for.
                connection.busy_timeout(Duration::ZERO)?;
                // Same page cache as the pool's connections (see `Repository::connect`).
                connection.pragma_update(None, "cache_size", -1024)?;
                Ok(Mutex::new(connection))
            })
            .collect::<rusqlite::Result<_>>()?;
        Ok(SqliteReads { connections })
    }

    /// The stored special-treatment list of customer `id` in `org`, running `sql` (SeaORM's
    /// SELECT of that one column, parameters id then org). `Some(None)`: no such customer.
    /// `None`: not answered here; ask the pool.
    pub(in crate::repo) fn special_treatment(
        &self,
        sql: &str,
        id: Uuid,
        org: &str,
    ) -> Option<Option<Vec<String>>> {
        self.with_free_connection(|connection| {
            let mut statement = connection.prepare_cached(sql).ok()?;
            // The id is stored as its 16 bytes (sqlx's encoding of a UUID), the list as JSON.
            let found = statement
                .query_row((id.as_bytes().as_slice(), org), |row| {
                    Ok(match row.get_ref(0)? {
                        ValueRef::Text(json) | ValueRef::Blob(json) => {
                            serde_json::from_slice::<Vec<String>>(json).ok()
                        }
                        _ => None,
                    })
                })
                .optional()
                .ok()?;
            match found {
                None => Some(None),
                Some(Some(values)) => Some(Some(values)),
                // Not a list of strings: the regular path reports it.
                Some(None) => None,
            }
        })
    }

    /// How many connections it has.
    pub(in crate::repo) fn len(&self) -> usize {
        self.connections.len()
    }

    /// Runs `read` on the first connection no other thread holds; `None` if all are held.
    /// Trying from the first one each time keeps the work, and so the page cache that fills,
    /// on as few connections as the concurrency needs.
    fn with_free_connection<T>(&self, read: impl FnOnce(&Connection) -> Option<T>) -> Option<T> {
        self.connections
            .iter()
            .find_map(|slot| slot.try_lock().ok())
            .and_then(|connection| read(&connection))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQL: &str = "SELECT special_treatment FROM customers WHERE id = ? AND org_id = ?";

    fn database() -> (tempfile::TempDir, std::path::PathBuf, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 CREATE TABLE customers (id BLOB PRIMARY KEY, org_id TEXT, special_treatment TEXT);",
            )
            .unwrap();
        (dir, path, writer)
    }

    fn insert(writer: &Connection, id: Uuid, org: &str, json: &str) {
        writer
            .execute(
                "INSERT INTO customers VALUES (?, ?, ?)",
                (id.as_bytes().as_slice(), org, json),
            )
            .unwrap();
    }

    #[test]
    fn finds_the_list_scoped_by_organization_and_sees_every_commit() {
        let (_dir, path, writer) = database();
        let id = Uuid::now_v7();
        insert(&writer, id, "acme", r#"["vip","vulnerable"]"#);
        let reads = SqliteReads::open(&path, 2).unwrap();
        assert_eq!(
            reads.special_treatment(SQL, id, "acme"),
            Some(Some(vec!["vip".to_owned(), "vulnerable".to_owned()]))
        );
        assert_eq!(reads.special_treatment(SQL, id, "globex"), Some(None));
        assert_eq!(
            reads.special_treatment(SQL, Uuid::now_v7(), "acme"),
            Some(None)
        );
        // A commit made after the first read is seen by the next one: no read is left open.
        writer
            .execute("UPDATE customers SET special_treatment = '[]'", ())
            .unwrap();
        assert_eq!(reads.special_treatment(SQL, id, "acme"), Some(Some(vec![])));
    }

    #[test]
    fn leaves_to_the_pool_what_it_cannot_answer() {
        let (_dir, path, writer) = database();
        let corrupted = Uuid::now_v7();
        insert(&writer, corrupted, "acme", r#"{"not":"a list"}"#);
        let reads = SqliteReads::open(&path, 1).unwrap();
        assert_eq!(reads.special_treatment(SQL, corrupted, "acme"), None);
        assert_eq!(
            reads.special_treatment("SELECT nope FROM nowhere", corrupted, "acme"),
            None
        );
        // Every connection held by another thread: not answered, never waited for.
        let held = reads.connections[0].lock().unwrap();
        assert_eq!(reads.special_treatment(SQL, corrupted, "acme"), None);
        drop(held);
    }
}
