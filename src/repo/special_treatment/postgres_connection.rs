//! What PostgreSQL's special-treatment paths ([`postgres_reads`](super::postgres_reads),
//! [`postgres_writes`](super::postgres_writes)) share: their connections (tokio-postgres, which
//! pipelines: statements sent together travel in one write and come back in one read) and how
//! a call on them fails.
//!
//! These connections are plain text, so they are used only when the pool's are too (the
//! connection string's `sslmode`, or a server without TLS; see `Repository::connect`). They run
//! under PostgreSQL's `statement_timeout`, as the pool's do, and a short `lock_timeout`
//! ([`LOCK_WAIT`]): one statement waiting on a row lock (another transaction writing that
//! customer) would hold up every statement queued behind it on the connection, so it gives up
//! soon and the caller repeats it on the pool, where it may wait its full time.

use std::time::Duration;

use tokio_postgres::{Client, NoTls, Statement, config::SslMode, error::SqlState};

/// How long a statement here may wait for a lock before it is left to the pool.
pub(in crate::repo) const LOCK_WAIT: Duration = Duration::from_millis(50);

/// The shortest time between two attempts to replace a connection that could not be replaced.
pub(in crate::repo) const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// How a call failed, for the caller to decide.
#[derive(Debug)]
pub(in crate::repo) enum Failure {
    /// PostgreSQL's `statement_timeout` cancelled the statement: not applied.
    Cancelled,
    /// Nothing was applied, and the pool may well succeed: the connection broke, a lock was
    /// not granted within [`LOCK_WAIT`], or another statement of its group failed.
    UseThePool(Option<tokio_postgres::Error>),
    /// No answer within the call guard: the connection is dropped (and replaced), and whether
    /// a replace was applied is unknown.
    Stalled,
    /// Anything else.
    Other(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(err: tokio_postgres::Error) -> Self {
        let Some(code) = err.code().map(SqlState::code) else {
            // No SQLSTATE: the connection closed or its socket failed.
            return Failure::UseThePool(Some(err));
        };
        if code == crate::repo::errors::POSTGRES_QUERY_CANCELED {
            Failure::Cancelled
        } else if crate::repo::errors::is_postgres_unreachable(code)
            || [
                SqlState::LOCK_NOT_AVAILABLE,
                SqlState::IN_FAILED_SQL_TRANSACTION,
            ]
            .iter()
            .any(|state| state.code() == code)
        {
            Failure::UseThePool(Some(err))
        } else {
            Failure::Other(err)
        }
    }
}

/// Where and how these connections connect.
#[derive(Clone)]
pub(in crate::repo) struct ConnectionSettings {
    config: tokio_postgres::Config,
    /// The whole connect, handshake and statement preparation included: the acquire timeout.
    connect_timeout: Duration,
}

impl ConnectionSettings {
    pub(in crate::repo) fn new(
        url: &str,
        connect_timeout: Duration,
        statement_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let mut config: tokio_postgres::Config = url.parse()?;
        config.ssl_mode(SslMode::Disable).options(format!(
            "-c statement_timeout={} -c lock_timeout={}",
            statement_timeout.as_millis(),
            LOCK_WAIT.as_millis()
        ));
        if config.get_application_name().is_none() {
            config.application_name("customers-api (special treatment)");
        }
        Ok(ConnectionSettings {
            config,
            connect_timeout,
        })
    }

    /// A new connection, its task spawned, with `statements` prepared on it.
    pub(in crate::repo) async fn connect(&self, statements: &[&str]) -> anyhow::Result<Connection> {
        let connect = async {
            let (client, connection) = self.config.connect(NoTls).await?;
            let task = tokio::spawn(async move {
                if let Err(err) = connection.await {
                    tracing::warn!(error = %err, "a PostgreSQL connection of the special-treatment paths failed");
                }
            });
            let mut prepared = Vec::with_capacity(statements.len());
            for sql in statements {
                prepared.push(client.prepare(sql).await?);
            }
            anyhow::Ok(Connection {
                client,
                statements: prepared,
                task: task.abort_handle(),
            })
        };
        // tokio-postgres' own connect timeout covers the socket's connect, not the handshake.
        tokio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| anyhow::anyhow!("no PostgreSQL connection within the acquire timeout"))?
    }
}

/// A client, the statements prepared on it, and the task driving its connection.
pub(in crate::repo) struct Connection {
    pub(in crate::repo) client: Client,
    pub(in crate::repo) statements: Vec<Statement>,
    task: tokio::task::AbortHandle,
}

impl Connection {
    /// Closes the connection now: its calls in flight fail at once.
    pub(in crate::repo) fn abort(&self) {
        self.task.abort();
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// For the tests of the modules built on this one.
#[cfg(test)]
pub(in crate::repo) mod testing {
    use std::time::Duration;

    use tokio_postgres::{Client, NoTls};
    use uuid::Uuid;

    use super::ConnectionSettings;

    pub(crate) const GUARD: Duration = Duration::from_secs(5);

    /// The test database's URL; `None` (the test is skipped) without one.
    pub(crate) fn test_database(test: &str) -> Option<String> {
        let url = std::env::var("TEST_DATABASE_URL").ok();
        if url.is_none() {
            eprintln!("{test}: skipped: needs TEST_DATABASE_URL (PostgreSQL)");
        }
        url
    }

    pub(crate) fn settings(url: &str, statement_timeout: Duration) -> ConnectionSettings {
        ConnectionSettings::new(url, Duration::from_secs(2), statement_timeout).unwrap()
    }

    /// `url` with an `application_name` of its own, to find its connections.
    pub(crate) fn named(url: &str) -> (String, String) {
        let name = format!("special_treatment_test_{}", Uuid::now_v7().simple());
        let separator = if url.contains('?') { '&' } else { '?' };
        (format!("{url}{separator}application_name={name}"), name)
    }

    pub(crate) async fn admin(url: &str) -> Client {
        let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
        tokio::spawn(connection);
        client
    }

    /// Ends every connection named `name` from the server's side; how many there were.
    pub(crate) async fn terminate(url: &str, name: &str) -> u64 {
        let terminate =
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1";
        admin(url).await.execute(terminate, &[&name]).await.unwrap()
    }

    /// A customers table of its own with `ids.len()` customers of `acme`, each with the list
    /// `[]`; its name and the two statements on it.
    pub(crate) async fn table(
        admin: &Client,
        ids: &[Uuid],
    ) -> (String, &'static str, &'static str) {
        let table = format!("special_treatment_test_{}", Uuid::now_v7().simple());
        let create = format!(
            "CREATE TABLE {table} (id uuid PRIMARY KEY, org_id text NOT NULL, \
             special_treatment jsonb NOT NULL)"
        );
        admin.batch_execute(&create).await.unwrap();
        let insert = format!("INSERT INTO {table} VALUES ($1, 'acme', '[]')");
        for id in ids {
            admin.execute(&insert, &[id]).await.unwrap();
        }
        let select = format!("SELECT special_treatment FROM {table} WHERE id = $1 AND org_id = $2");
        let update =
            format!("UPDATE {table} SET special_treatment = $1 WHERE id = $2 AND org_id = $3");
        (table, select.leak(), update.leak())
    }

    pub(crate) async fn drop_table(admin: &Client, table: &str) {
        let drop = format!("DROP TABLE {table}");
        admin.batch_execute(&drop).await.unwrap();
    }

    pub(crate) async fn stored(admin: &Client, table: &str, id: Uuid) -> Vec<String> {
        let select = format!("SELECT special_treatment FROM {table} WHERE id = $1");
        let row = admin.query_one(&select, &[&id]).await.unwrap();
        row.get::<_, tokio_postgres::types::Json<Vec<String>>>(0).0
    }

    pub(crate) fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }
}
