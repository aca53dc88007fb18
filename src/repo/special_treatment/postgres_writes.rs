//! PostgreSQL's special-treatment replaces, committed in groups: PUTs queue for a few writers,
//! each with a connection of its own, and a writer commits all that waited together in one
//! transaction: one flush of PostgreSQL's WAL to disk for the group, where PUTs one per
//! connection would each wait for their own (BENCHMARKS.md). A PUT is answered after its
//! group's COMMIT returns, so a 204 is as durable as one from a single-statement transaction.
//!
//! - **Atomic replace.** Each PUT is the same single-row UPDATE as on the pool; two PUTs to one
//!   customer in a group apply one after the other, as if committed in turn, so the stored list
//!   is one of them, whole.
//! - **Failures stay with their PUT.** When one UPDATE fails, its group is rolled back: that
//!   PUT gets its own failure (a statement timeout is a 504, a lock not granted within
//!   [`LOCK_WAIT`](super::postgres_connection::LOCK_WAIT) is repeated on the pool), and every
//!   other PUT of the group, not applied, is repeated on the pool, as is a group whose
//!   connection broke (a replace is safe to repeat: PUT is idempotent).
//! - **Bounded.** A PUT waits for a writer at most the call guard, and a group runs at most the
//!   call guard, after which its connection is dropped and its PUTs answered 504 (outcome
//!   unknown, as with any answer lost in transit). A PUT whose caller stopped waiting before its
//!   group started is not applied.
//! - A writer whose connection broke connects a new one, at most once per
//!   [`RECONNECT_PAUSE`]; while no writer is connected, PUTs take the pool.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_postgres::types::{Json, ToSql};
use uuid::Uuid;

use super::{
    PutEvent,
    postgres_connection::{Connection, ConnectionSettings, Failure, RECONNECT_PAUSE},
};

/// The most PUTs committed together: enough to take all 64 benchmark connections' PUTs in a
/// few groups, few enough that a group's statements stay one write on the socket.
const MAX_GROUP: usize = 64;

pub(in crate::repo) struct GroupWrites {
    queue: mpsc::UnboundedSender<Pending>,
    /// Writers with a live connection.
    connected: Arc<AtomicUsize>,
    writers: Vec<tokio::task::AbortHandle>,
    closed: AtomicBool,
    call_guard: Duration,
}

/// One PUT waiting for its group.
struct Pending {
    values: Vec<String>,
    id: Uuid,
    org: String,
    event: PutEvent,
    reply: oneshot::Sender<Result<u64, Failure>>,
}

impl GroupWrites {
    /// `count` writers running `update_sql` (the special-treatment UPDATE with its event,
    /// `super::postgres_update_with_event_sql`: parameters list, id, organization, then the
    /// event's), connected now.
    pub(in crate::repo) async fn start(
        settings: ConnectionSettings,
        count: usize,
        call_guard: Duration,
        update_sql: &'static str,
    ) -> anyhow::Result<Self> {
        let (queue, receiver) = mpsc::unbounded_channel();
        let receiver = Arc::new(Mutex::new(receiver));
        let settings = Arc::new(settings);
        let connected = Arc::new(AtomicUsize::new(0));
        let mut writers = Vec::with_capacity(count);
        for _ in 0..count.max(1) {
            let connection = settings.connect(&[update_sql]).await?;
            connected.fetch_add(1, Ordering::Relaxed);
            let writer = Writer {
                settings: settings.clone(),
                update_sql,
                receiver: receiver.clone(),
                connected: connected.clone(),
                call_guard,
            };
            writers.push(tokio::spawn(writer.run(connection)).abort_handle());
        }
        Ok(GroupWrites {
            queue,
            connected,
            writers,
            closed: AtomicBool::new(false),
            call_guard,
        })
    }

    /// Replaces the list of customer `id` in `org`; the number of rows changed (0: no such
    /// customer). `None`: no writer is connected, or the writers stopped.
    pub(in crate::repo) async fn replace_special_treatment(
        &self,
        values: Vec<String>,
        id: Uuid,
        org: &str,
        event: &PutEvent,
    ) -> Option<Result<u64, Failure>> {
        if self.closed.load(Ordering::Relaxed) || self.connected.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            values,
            id,
            org: org.to_owned(),
            event: event.clone(),
            reply,
        };
        self.queue.send(pending).ok()?;
        // Waiting for a writer (as for a pool connection), then the group's own bound: past
        // both, the writers stopped answering.
        match tokio::time::timeout(self.call_guard * 2, answer).await {
            Ok(Ok(outcome)) => Some(outcome),
            // Its writer was stopped before answering.
            Ok(Err(_)) => None,
            Err(_) => Some(Err(Failure::Stalled)),
        }
    }

    /// Stops the writers and closes their connections, once the server has stopped serving.
    pub(in crate::repo) fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        for writer in &self.writers {
            writer.abort();
        }
    }

    /// Writers connected at this instant, for the pool's gauges.
    pub(in crate::repo) fn connected(&self) -> usize {
        self.connected.load(Ordering::Relaxed)
    }
}

struct Writer {
    settings: Arc<ConnectionSettings>,
    update_sql: &'static str,
    /// Shared by the writers: one takes a group while the others commit theirs.
    receiver: Arc<Mutex<mpsc::UnboundedReceiver<Pending>>>,
    connected: Arc<AtomicUsize>,
    call_guard: Duration,
}

impl Writer {
    async fn run(self, mut connection: Connection) {
        loop {
            // Commits groups until the connection breaks; ends with the queue.
            loop {
                let Some(group) = self.next_group().await else {
                    return;
                };
                if !self.commit(&mut connection, group).await {
                    break;
                }
            }
            if self.connected.fetch_sub(1, Ordering::Relaxed) == 1 {
                // No writer left: what waits goes to the pool rather than waiting for one.
                let mut receiver = self.receiver.lock().await;
                while let Ok(pending) = receiver.try_recv() {
                    let _ = pending.reply.send(Err(Failure::UseThePool(None)));
                }
            }
            connection = loop {
                match self.settings.connect(&[self.update_sql]).await {
                    Ok(connection) => break connection,
                    Err(err) => {
                        tracing::warn!(error = %err, "could not replace a PostgreSQL write connection");
                        tokio::time::sleep(RECONNECT_PAUSE).await;
                    }
                }
            };
            self.connected.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Every PUT waiting, up to [`MAX_GROUP`], once there is one; `None` once the queue closed.
    async fn next_group(&self) -> Option<Vec<Pending>> {
        let mut receiver = self.receiver.lock().await;
        let mut group = vec![receiver.recv().await?];
        while group.len() < MAX_GROUP {
            match receiver.try_recv() {
                Ok(pending) => group.push(pending),
                Err(_) => break,
            }
        }
        Some(group)
    }

    /// Commits `group` and answers its PUTs; whether the connection is still usable.
    async fn commit(&self, connection: &mut Connection, mut group: Vec<Pending>) -> bool {
        // Callers that stopped waiting (their guard, or their client gone) are not applied.
        group.retain(|pending| !pending.reply.is_closed());
        if group.is_empty() {
            return true;
        }
        let outcomes = tokio::time::timeout(self.call_guard, run_group(connection, &group)).await;
        let Ok(outcomes) = outcomes else {
            // Not answered within the guard: this connection is done for.
            connection.abort();
            for pending in group {
                let _ = pending.reply.send(Err(Failure::Stalled));
            }
            return false;
        };
        for (pending, outcome) in group.into_iter().zip(outcomes) {
            let _ = pending.reply.send(outcome);
        }
        !connection.client.is_closed()
    }
}

/// Runs the group's UPDATEs (alone: as one statement; else in one transaction, pipelined) and
/// returns each one's outcome, in order.
async fn run_group(connection: &mut Connection, group: &[Pending]) -> Vec<Result<u64, Failure>> {
    let update = connection.statements[0].clone();
    let values: Vec<_> = group.iter().map(|pending| Json(&pending.values)).collect();
    let params: Vec<[&(dyn ToSql + Sync); 9]> = group
        .iter()
        .zip(&values)
        .map(|(pending, values)| {
            let event = &pending.event;
            [
                values as _,
                &pending.id as _,
                &pending.org as _,
                &event.stamp.id as _,
                &event.stamp.occurred_at as _,
                &event.stamp.actor as _,
                &event.stamp.request_id as _,
                &event.resource_id as _,
                &event.changes as _,
            ]
        })
        .collect();
    if let [params] = params.as_slice() {
        let changed = connection.client.execute(&update, params).await;
        return vec![changed.map_err(Failure::from)];
    }
    let transaction = match connection.client.transaction().await {
        Ok(transaction) => transaction,
        Err(err) => {
            let failure = Failure::from(err);
            return group.iter().map(|_| Err(clone_failure(&failure))).collect();
        }
    };
    let updates = params
        .iter()
        .map(|params| transaction.execute(&update, params));
    let results = futures_util::future::join_all(updates).await;
    if results.iter().any(Result::is_err) {
        // The transaction is aborted: nothing of the group was applied.
        let _ = transaction.rollback().await;
        return results
            .into_iter()
            .map(|result| match result {
                Ok(_) => Err(Failure::UseThePool(None)),
                Err(err) => Err(Failure::from(err)),
            })
            .collect();
    }
    match transaction.commit().await {
        Ok(()) => results
            .into_iter()
            .map(|r| r.map_err(Failure::from))
            .collect(),
        // Whether the COMMIT landed is unknown: repeating the replaces is safe.
        Err(err) => {
            let failure = Failure::from(err);
            group.iter().map(|_| Err(clone_failure(&failure))).collect()
        }
    }
}

/// One group-wide failure for each of its PUTs (a tokio-postgres error is not `Clone`).
fn clone_failure(failure: &Failure) -> Failure {
    match failure {
        Failure::Cancelled => Failure::Cancelled,
        Failure::Stalled => Failure::Stalled,
        Failure::UseThePool(_) | Failure::Other(_) => Failure::UseThePool(None),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::repo::special_treatment::postgres_connection::testing::*;

    async fn writes(
        url: &str,
        count: usize,
        statement: Duration,
        update: &'static str,
    ) -> GroupWrites {
        GroupWrites::start(settings(url, statement), count, GUARD, update)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn replaces_many_at_once_each_with_its_own_outcome() {
        let Some(url) = test_database("postgres_writes") else {
            return;
        };
        let admin = admin(&url).await;
        let ids = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
        let (table, _, update) = table(&admin, &ids).await;
        let writes = writes(&url, 2, GUARD, update).await;
        assert_eq!(writes.connected(), 2);

        // 120 PUTs at once: to the three customers (24 each, so groups hold several PUTs to
        // one customer), to another organization, to an unknown customer.
        let puts = (0..120).map(|n| {
            let (id, org) = match n % 5 {
                3 => (ids[0], "globex"),
                4 => (Uuid::now_v7(), "acme"),
                k => (ids[k], "acme"),
            };
            let values = strings(&[&format!("put-{n}")]);
            let writes = &writes;
            async move {
                (
                    n,
                    writes
                        .replace_special_treatment(values, id, org, &put_event())
                        .await,
                )
            }
        });
        let mut applied = std::collections::HashSet::new();
        for (n, changed) in futures_util::future::join_all(puts).await {
            let expected = if n % 5 < 3 { 1 } else { 0 };
            match changed.unwrap() {
                Ok(changed) => {
                    assert_eq!(changed, expected, "PUT {n}");
                    applied.insert(n);
                }
                // A group that waited past the lock wait for the other writer's rows (a loaded
                // machine) is rolled back whole and left to the pool: not applied.
                Err(Failure::UseThePool(_)) => {}
                Err(other) => panic!("PUT {n}: {other:?}"),
            }
        }
        assert!(!applied.is_empty(), "no PUT was applied");
        // Each customer holds exactly one of its applied PUTs' lists, whole.
        for (k, id) in ids.iter().enumerate() {
            let stored = stored(&admin, &table, *id).await;
            assert_eq!(stored.len(), 1, "{stored:?}");
            let n: usize = stored[0].strip_prefix("put-").unwrap().parse().unwrap();
            assert_eq!(n % 5, k, "customer {k} holds PUT {n}");
            assert!(
                applied.contains(&n),
                "customer {k} holds PUT {n}, which was not applied"
            );
        }
        // One event per PUT that changed a row: none for the other organization's or the
        // unknown customer's.
        let changed_rows = applied.iter().filter(|n| *n % 5 < 3).count() as i64;
        assert_eq!(events(&admin, &table).await, changed_rows);

        writes.close();
        drop_table(&admin, &table).await;
    }

    /// One writer, a PUT to a customer locked elsewhere and PUTs to others, all at once: the
    /// locked one goes to the pool; each other one is applied, or, when its group was rolled
    /// back with the locked one, goes to the pool too, not applied.
    #[tokio::test]
    async fn a_failing_put_fails_alone_and_the_rest_of_its_group_is_not_applied() {
        let Some(url) = test_database("postgres_writes") else {
            return;
        };
        let admin_client = admin(&url).await;
        let ids: Vec<_> = (0..20).map(|_| Uuid::now_v7()).collect();
        let (table, _, update) = table(&admin_client, &ids).await;
        let writes = writes(&url, 1, GUARD, update).await;
        let mut holder = admin(&url).await;
        let lock = holder.transaction().await.unwrap();
        let select = format!("SELECT 1 FROM {table} WHERE id = $1 FOR UPDATE");
        lock.execute(&select, &[&ids[0]]).await.unwrap();

        let puts = ids.iter().map(|id| {
            let writes = &writes;
            async move {
                let outcome = writes
                    .replace_special_treatment(strings(&["new"]), *id, "acme", &put_event())
                    .await;
                (*id, outcome)
            }
        });
        let outcomes = futures_util::future::join_all(puts).await;
        lock.rollback().await.unwrap();
        let mut to_the_pool = 0;
        for (id, outcome) in outcomes {
            let stored = stored(&admin_client, &table, id).await;
            match outcome {
                Some(Ok(1)) => assert_eq!(stored, ["new"]),
                Some(Err(Failure::UseThePool(_))) => {
                    to_the_pool += 1;
                    assert!(stored.is_empty(), "told to use the pool, yet applied");
                }
                other => panic!("{other:?}"),
            }
            if id == ids[0] {
                assert!(stored.is_empty(), "the locked customer");
            }
        }
        assert!(to_the_pool >= 1);

        writes.close();
        drop_table(&admin_client, &table).await;
    }

    #[tokio::test]
    async fn a_put_past_the_statement_timeout_is_cancelled_and_not_applied() {
        let Some(url) = test_database("postgres_writes") else {
            return;
        };
        let admin = admin(&url).await;
        let id = Uuid::now_v7();
        let (table, _, _) = table(&admin, &[id]).await;
        // Sleeps a second for a list holding "slow".
        let slow_update = format!(
            "UPDATE {table} SET special_treatment = $1 WHERE id = $2 AND org_id = $3 \
             AND pg_sleep(CASE WHEN $1::jsonb ? 'slow' THEN 1 ELSE 0 END) IS NOT NULL"
        );
        let slow_update =
            crate::repo::special_treatment::with_event(&slow_update, &format!("{table}_events"));
        let writes = writes(&url, 1, Duration::from_millis(200), slow_update.leak()).await;
        let outcome = writes
            .replace_special_treatment(strings(&["slow"]), id, "acme", &put_event())
            .await;
        assert!(
            matches!(outcome, Some(Err(Failure::Cancelled))),
            "{outcome:?}"
        );
        assert!(stored(&admin, &table, id).await.is_empty());
        // The writer goes on.
        let event = put_event();
        let changed = writes.replace_special_treatment(strings(&["fast"]), id, "acme", &event);
        assert_eq!(changed.await.unwrap().unwrap(), 1);
        assert_eq!(stored(&admin, &table, id).await, ["fast"]);

        writes.close();
        drop_table(&admin, &table).await;
    }

    #[tokio::test]
    async fn a_broken_connection_sends_puts_to_the_pool_until_it_is_replaced() {
        let Some(url) = test_database("postgres_writes") else {
            return;
        };
        let admin = admin(&url).await;
        let id = Uuid::now_v7();
        let (table, _, update) = table(&admin, &[id]).await;
        let (named_url, name) = named(&url);
        let writes = writes(&named_url, 1, GUARD, update).await;
        assert_eq!(terminate(&url, &name).await, 1);

        let started = Instant::now();
        let mut sent_to_the_pool = 0;
        loop {
            match writes
                .replace_special_treatment(strings(&["after"]), id, "acme", &put_event())
                .await
            {
                Some(Ok(changed)) => {
                    assert_eq!(changed, 1);
                    break;
                }
                None | Some(Err(Failure::UseThePool(_))) => sent_to_the_pool += 1,
                Some(Err(other)) => panic!("{other:?}"),
            }
            assert!(started.elapsed() < GUARD, "no replacement connected");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(sent_to_the_pool >= 1);
        assert_eq!(writes.connected(), 1);
        assert_eq!(stored(&admin, &table, id).await, ["after"]);

        writes.close();
        drop_table(&admin, &table).await;
    }

    #[tokio::test]
    async fn once_closed_no_put_is_taken() {
        let Some(url) = test_database("postgres_writes") else {
            return;
        };
        let writes = writes(&url, 2, GUARD, "SELECT $1::jsonb, $2::uuid, $3::text").await;
        writes.close();
        let outcome = writes
            .replace_special_treatment(strings(&["x"]), Uuid::now_v7(), "acme", &put_event())
            .await;
        assert!(outcome.is_none(), "{outcome:?}");
    }
}
