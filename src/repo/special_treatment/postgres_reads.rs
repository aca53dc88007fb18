//! PostgreSQL's special-treatment lookup, pipelined: a few connections of its own, each shared
//! by every request, on which concurrent lookups are sent together and answered in order.
//!
//! Through sqlx, each statement needs a connection to itself for its round trip, and sqlx pings
//! every connection it takes back into its pool (a second round trip, 14% of a GET's CPU here
//! and more on PostgreSQL's side). Here the SELECT is prepared once per connection, and one
//! write and one read carry many lookups, on both sides (BENCHMARKS.md). A call never waits
//! for a connection: it takes the next one in turn. Only reads run here, so no lookup queues
//! behind a commit's flush to disk (writes: [`postgres_writes`](super::postgres_writes)).
//!
//! A connection that broke (PostgreSQL restarted, the network cut) answers its calls with that
//! error, and the caller takes the pool (a read is safe to repeat); it is replaced in the
//! background, at most once per [`RECONNECT_PAUSE`]. A call unanswered within the call guard
//! drops its connection, which is replaced likewise. While none is connected, every call takes
//! the pool.

use std::sync::{
    Arc, PoisonError, RwLock,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use tokio_postgres::types::{Json, ToSql};
use uuid::Uuid;

use super::postgres_connection::{Connection, ConnectionSettings, Failure, RECONNECT_PAUSE};

pub(in crate::repo) struct PipelinedReads {
    shared: Arc<Shared>,
    /// Which connection the next call takes.
    next: AtomicUsize,
}

struct Shared {
    settings: ConnectionSettings,
    select_sql: &'static str,
    /// How long a call may wait for its answer: the repository's call guard.
    call_guard: std::time::Duration,
    connections: Box<[Slot]>,
    /// Set by [`PipelinedReads::close`]: no more replacements.
    closed: AtomicBool,
}

#[derive(Default)]
struct Slot {
    connected: RwLock<Option<Arc<Connection>>>,
    /// A replacement is being connected (or the last attempt failed less than
    /// [`RECONNECT_PAUSE`] ago).
    reconnecting: AtomicBool,
}

impl PipelinedReads {
    /// `count` connections running `select_sql` (the special-treatment SELECT: parameters id
    /// then organization), connected now.
    pub(in crate::repo) async fn connect(
        settings: ConnectionSettings,
        count: usize,
        call_guard: std::time::Duration,
        select_sql: &'static str,
    ) -> anyhow::Result<Self> {
        let shared = Arc::new(Shared {
            settings,
            select_sql,
            call_guard,
            connections: (0..count.max(1)).map(|_| Slot::default()).collect(),
            closed: AtomicBool::new(false),
        });
        for slot in &shared.connections {
            let connection = shared.settings.connect(&[select_sql]).await?;
            *slot.write() = Some(Arc::new(connection));
        }
        Ok(PipelinedReads {
            shared,
            next: AtomicUsize::new(0),
        })
    }

    /// The next live connection in turn, and its index; `None` when none is (replacements are
    /// on their way).
    fn connection(&self) -> Option<(usize, Arc<Connection>)> {
        let slots = &self.shared.connections;
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        (0..slots.len()).find_map(|offset| {
            let index = (first + offset) % slots.len();
            let connection = slots[index].read().clone();
            match connection {
                Some(connection) if !connection.client.is_closed() => Some((index, connection)),
                _ => {
                    self.shared.reconnect(index);
                    None
                }
            }
        })
    }

    /// The stored special-treatment list of customer `id` in `org`; `Ok(None)`: no such
    /// customer. `None`: no connection is live.
    pub(in crate::repo) async fn special_treatment(
        &self,
        id: Uuid,
        org: &str,
    ) -> Option<Result<Option<Vec<String>>, Failure>> {
        let (index, connection) = self.connection()?;
        let lookup = async {
            let params: [&(dyn ToSql + Sync); 2] = [&id, &org];
            let select = &connection.statements[0];
            let row = connection.client.query_opt(select, &params).await?;
            let stored = row.map(|row| row.try_get::<_, Json<Vec<String>>>(0));
            Ok::<_, tokio_postgres::Error>(stored.transpose()?.map(|Json(values)| values))
        };
        match tokio::time::timeout(self.shared.call_guard, lookup).await {
            Ok(outcome) => Some(outcome.map_err(Failure::from)),
            Err(_) => {
                self.shared.discard(index, &connection);
                Some(Err(Failure::Stalled))
            }
        }
    }

    /// Closes every connection, once the server has stopped serving.
    pub(in crate::repo) fn close(&self) {
        self.shared.closed.store(true, Ordering::Relaxed);
        for slot in &self.shared.connections {
            if let Some(connection) = slot.write().take() {
                connection.abort();
            }
        }
    }

    /// Connections live at this instant, for the pool's gauges.
    pub(in crate::repo) fn connected(&self) -> usize {
        self.shared
            .connections
            .iter()
            .filter(|slot| {
                slot.read()
                    .as_ref()
                    .is_some_and(|connection| !connection.client.is_closed())
            })
            .count()
    }
}

impl Shared {
    /// Drops connection `index` if it still is `stalled`, and connects a replacement.
    fn discard(self: &Arc<Self>, index: usize, stalled: &Arc<Connection>) {
        let mut connected = self.connections[index].write();
        if connected
            .as_ref()
            .is_some_and(|current| Arc::ptr_eq(current, stalled))
        {
            connected.take();
            // Its other calls in flight fail at once instead of waiting out their guard.
            stalled.abort();
        }
        drop(connected);
        self.reconnect(index);
    }

    /// Connects a replacement for connection `index` in the background, unless one is on its
    /// way.
    fn reconnect(self: &Arc<Self>, index: usize) {
        let slot = &self.connections[index];
        if self.closed.load(Ordering::Relaxed) || slot.reconnecting.swap(true, Ordering::Relaxed) {
            return;
        }
        let shared = self.clone();
        tokio::spawn(async move {
            let slot = &shared.connections[index];
            match shared.settings.connect(&[shared.select_sql]).await {
                Ok(connection) => {
                    // Checked under the lock `close` takes after setting `closed`.
                    let mut connected = slot.write();
                    if !shared.closed.load(Ordering::Relaxed) {
                        *connected = Some(Arc::new(connection));
                    }
                    drop(connected);
                }
                Err(err) => {
                    tracing::warn!(error = %err, "could not replace a PostgreSQL read connection");
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                }
            }
            slot.reconnecting.store(false, Ordering::Relaxed);
        });
    }
}

impl Slot {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Option<Arc<Connection>>> {
        self.connected
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Option<Arc<Connection>>> {
        self.connected
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::repo::special_treatment::postgres_connection::testing::*;

    /// Answers `["vip"]` after sleeping `$2` seconds (the "organization" is the sleep).
    const SLEEPY_SELECT: &str =
        r#"SELECT '["vip"]'::jsonb FROM pg_sleep($2::text::float8) WHERE $1::uuid IS NOT NULL"#;

    async fn reads(
        url: &str,
        count: usize,
        statement: Duration,
        guard: Duration,
        sql: &'static str,
    ) -> PipelinedReads {
        PipelinedReads::connect(settings(url, statement), count, guard, sql)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn looks_up_many_at_once_each_within_its_organization() {
        let Some(url) = test_database("postgres_reads") else {
            return;
        };
        let admin = admin(&url).await;
        let id = Uuid::now_v7();
        let (table, select, _) = table(&admin, &[id]).await;
        let set = format!("UPDATE {table} SET special_treatment = '[\"vip\",\"vulnerable\"]'");
        admin.batch_execute(&set).await.unwrap();
        let reads = reads(&url, 2, GUARD, GUARD, select).await;
        assert_eq!(reads.connected(), 2);

        // 100 lookups in flight together on two connections, each answered its own.
        let lookups = (0..100).map(|n| {
            let org = if n % 2 == 0 { "acme" } else { "globex" };
            let reads = &reads;
            async move { (org, reads.special_treatment(id, org).await) }
        });
        for (org, found) in futures_util::future::join_all(lookups).await {
            let expected = (org == "acme").then(|| strings(&["vip", "vulnerable"]));
            assert_eq!(found.unwrap().unwrap(), expected, "{org}");
        }
        let unknown = reads.special_treatment(Uuid::now_v7(), "acme").await;
        assert_eq!(unknown.unwrap().unwrap(), None);

        reads.close();
        drop_table(&admin, &table).await;
    }

    #[tokio::test]
    async fn a_lookup_past_the_statement_timeout_is_cancelled() {
        let Some(url) = test_database("postgres_reads") else {
            return;
        };
        let statement = Duration::from_millis(100);
        let reads = reads(&url, 1, statement, GUARD, SLEEPY_SELECT).await;
        let outcome = reads.special_treatment(Uuid::now_v7(), "1").await;
        assert!(
            matches!(outcome, Some(Err(Failure::Cancelled))),
            "{outcome:?}"
        );
        // The connection goes on serving.
        let outcome = reads.special_treatment(Uuid::now_v7(), "0").await;
        assert_eq!(outcome.unwrap().unwrap(), Some(strings(&["vip"])));
        reads.close();
    }

    #[tokio::test]
    async fn a_broken_connection_sends_lookups_to_the_pool_until_it_is_replaced() {
        let Some(url) = test_database("postgres_reads") else {
            return;
        };
        let (named_url, name) = named(&url);
        let reads = reads(&named_url, 1, GUARD, GUARD, SLEEPY_SELECT).await;
        assert_eq!(terminate(&url, &name).await, 1);

        // First the pool (an error that says so, or no connection), then the replacement.
        let started = Instant::now();
        let mut sent_to_the_pool = 0;
        let answered = loop {
            match reads.special_treatment(Uuid::now_v7(), "0").await {
                Some(Ok(found)) => break found,
                None | Some(Err(Failure::UseThePool(_))) => sent_to_the_pool += 1,
                Some(Err(other)) => panic!("{other:?}"),
            }
            assert!(started.elapsed() < GUARD, "no replacement connected");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert_eq!(answered, Some(strings(&["vip"])));
        assert!(sent_to_the_pool >= 1);
        assert_eq!(reads.connected(), 1);
        reads.close();
    }

    #[tokio::test]
    async fn a_lookup_unanswered_within_the_guard_is_stalled_and_its_connection_replaced() {
        let Some(url) = test_database("postgres_reads") else {
            return;
        };
        let guard = Duration::from_millis(300);
        let reads = reads(&url, 1, GUARD, guard, SLEEPY_SELECT).await;
        let started = Instant::now();
        let outcome = reads.special_treatment(Uuid::now_v7(), "2").await;
        let took = started.elapsed();
        assert!(
            matches!(outcome, Some(Err(Failure::Stalled))),
            "{outcome:?}"
        );
        assert!(took >= guard && took < guard * 3, "stalled after {took:?}");

        let answered = loop {
            if let Some(Ok(found)) = reads.special_treatment(Uuid::now_v7(), "0").await {
                break found;
            }
            assert!(started.elapsed() < GUARD, "no replacement connected");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert_eq!(answered, Some(strings(&["vip"])));
        reads.close();
    }

    #[tokio::test]
    async fn once_closed_no_lookup_is_taken() {
        let Some(url) = test_database("postgres_reads") else {
            return;
        };
        let reads = reads(&url, 2, GUARD, GUARD, SLEEPY_SELECT).await;
        reads.close();
        assert!(reads.special_treatment(Uuid::now_v7(), "0").await.is_none());
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(reads.connected(), 0, "nothing reconnected after close");
    }
}
