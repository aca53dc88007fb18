//! Test harness: [`spawn_app`] starts the server on port 0 with an isolated database; its
//! [`TestApp::api`] is the suite's client ([`crate::client`]), with one helper per operation.

use std::{net::SocketAddr, time::Duration};

use customers_api::{
    app::{App, Settings},
    auth::{KeySettings, mint_token},
    repo::RepoSettings,
    serve::ConnectionLimits,
};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    Statement, TransactionTrait,
};
use serde_json::Value;
use tokio::{sync::oneshot, task::JoinHandle};

use crate::client::{ApiClient, special_treatment_path};

/// The HS256 secret every test server accepts.
pub const SECRET: &str = "integration-tests-secret-0123456789abcdef";
/// The organization tests act in unless they say otherwise.
pub const ORG: &str = "acme";
/// What the `token` command grants by default: every scope but the privileged ones.
pub const DEFAULT_SCOPES: &str = "customers:read customers:write special-treatment:read \
     special-treatment:write categories:read categories:write identification:read \
     identification:write accounts:read accounts:write credentials:read credentials:write";
/// Every scope, the privileged ones (`identification:review`, `accounts:reveal`,
/// `credentials:verify`, `history:read`) included: what the suite's tokens carry unless a test
/// says otherwise.
pub const ALL_SCOPES: &str = "customers:read customers:write special-treatment:read \
     special-treatment:write categories:read categories:write identification:read \
     identification:write accounts:read accounts:write credentials:read credentials:write \
     identification:review accounts:reveal credentials:verify history:read";

/// A running server and its database.
pub struct TestApp {
    #[allow(dead_code, reason = "for tests that talk TCP to the server themselves")]
    pub addr: SocketAddr,
    pub settings: Settings,
    /// The API's client, with [`token`](TestApp::token).
    pub api: ApiClient,
    /// A token for [`ORG`] with every scope.
    pub token: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    db: Option<TestDb>,
}

/// The test's own database; a PostgreSQL one is dropped with it.
pub enum TestDb {
    /// The folder holding the database file, removed on drop.
    Sqlite {
        _dir: tempfile::TempDir,
    },
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl TestDb {
    /// PostgreSQL when `TEST_DATABASE_URL` is set, else SQLite; with the database's URL.
    pub async fn create() -> (TestDb, String) {
        match TestDb::postgres().await {
            Some(created) => created,
            None => TestDb::sqlite(),
        }
    }

    /// A fresh SQLite file in a temporary folder, whatever `TEST_DATABASE_URL` says.
    pub fn sqlite() -> (TestDb, String) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}/test.sqlite?mode=rwc", dir.path().display());
        (TestDb::Sqlite { _dir: dir }, url)
    }

    /// A fresh PostgreSQL database, or `None` when `TEST_DATABASE_URL` is unset.
    pub async fn postgres() -> Option<(TestDb, String)> {
        let admin_url = postgres_admin_url()?;
        let name = format!("capi_test_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(&admin_url)
            .await
            .expect("TEST_DATABASE_URL is set but PostgreSQL cannot be reached");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create the test database");
        admin.close().await.ok();
        let url = database_url_for(&admin_url, &name);
        Some((TestDb::Postgres { admin_url, name }, url))
    }
}

/// `TEST_DATABASE_URL`, when set and not empty.
pub fn postgres_admin_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

/// For tests that need PostgreSQL: its database, or, when `TEST_DATABASE_URL` is unset, `None`
/// and the line `<test>: skipped: needs TEST_DATABASE_URL (PostgreSQL: <what>)` (CI runs the
/// suite a second time with it set). `what` says what needs PostgreSQL.
pub async fn postgres_or_skip(what: &str) -> Option<(TestDb, String)> {
    let created = TestDb::postgres().await;
    if created.is_none() {
        skipped(&format!("needs TEST_DATABASE_URL (PostgreSQL: {what})"));
    }
    created
}

/// Prints `<test>: skipped: <why>` for a test that returns without running its scenario.
/// Straight to the process's stderr, past the test harness's capture: a skipped test passes,
/// and this line is what says it did not run.
pub fn skipped(why: &str) {
    use std::io::Write;
    // The test harness names each test's thread after the test.
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    writeln!(std::io::stderr(), "{test}: skipped: {why}").ok();
}

/// A connection of the test's own to a test database, beside the server's pool.
pub async fn direct_connection(url: &str) -> DatabaseConnection {
    let mut options = ConnectOptions::new(url);
    options.max_connections(2).sqlx_logging(false);
    Database::connect(options)
        .await
        .expect("a direct connection to the test database")
}

/// `postgres://user@host/db?x` with the database name replaced.
fn database_url_for(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin_url, None),
    };
    let (server, _) = base.rsplit_once('/').expect("a database URL has a path");
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime: do the async clean-up on a thread of its own.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("clean-up runtime");
                runtime.block_on(async {
                    if let Ok(admin) = Database::connect(&admin_url).await {
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = admin.execute_unprepared(&sql).await;
                        admin.close().await.ok();
                    }
                });
                std::fs::remove_dir_all(std::env::temp_dir().join(&name)).ok();
            })
            .join();
        }
    }
}

pub fn test_settings(database_url: String) -> Settings {
    Settings {
        listen_addr: "127.0.0.1:0".parse().expect("address"),
        repo: RepoSettings {
            database_url,
            max_connections: 8,
            acquire_timeout: Duration::from_millis(2000),
            statement_timeout: Duration::from_millis(5000),
        },
        keys: KeySettings {
            hs256_secret: Some(SECRET.as_bytes().to_vec()),
            ..KeySettings::default()
        },
        shutdown_grace: Duration::from_secs(5),
        cors_allowed_origins: vec![],
        metrics_token: None,
        connections: ConnectionLimits::default(),
    }
}

/// A server on a fresh database with the default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A server on a fresh database, with `configure` applied to the settings first.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let (db, url) = TestDb::create().await;
    let mut settings = test_settings(url);
    configure(&mut settings);
    start(settings, db).await
}

/// Starts a server on `settings`, owning `db` (dropped when the app is).
pub async fn start(settings: Settings, db: TestDb) -> TestApp {
    let app = App::build(settings.clone()).await.expect("the app builds");
    let addr = app.local_addr();
    let (shutdown, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run(async {
        let _ = stopped.await;
    }));
    let token = token(&[ORG], ALL_SCOPES);
    TestApp {
        addr,
        settings,
        api: ApiClient::new(addr, &token),
        token,
        shutdown: Some(shutdown),
        server: Some(server),
        db: Some(db),
    }
}

/// An HS256 token for the test secret with `sub` "tester", valid for an hour.
pub fn token(orgs: &[&str], scopes: &str) -> String {
    token_for("tester", orgs, scopes)
}

/// An HS256 token for the test secret with this `sub`, valid for an hour (a second principal,
/// for four eyes).
pub fn token_for(sub: &str, orgs: &[&str], scopes: &str) -> String {
    let orgs: Vec<String> = orgs.iter().map(|o| (*o).to_owned()).collect();
    mint_token(
        SECRET.as_bytes(),
        sub,
        &orgs,
        scopes,
        Duration::from_secs(3600),
    )
    .expect("mint a token")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        self.api.url(path)
    }

    /// A request without credentials.
    pub fn anonymous(&self, method: Method, path: &str) -> RequestBuilder {
        self.api.without_token().request(method, path)
    }

    /// A request with the all-scopes token for [`ORG`].
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.api.request(method, path)
    }

    /// `GET path` with the all-scopes token, asserting a 200, as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        self.api.get_json(path).await
    }

    /// Registers a customer in [`ORG`] and returns its id.
    pub async fn customer_id(&self) -> String {
        self.api.new_customer(ORG).await
    }

    // Older names of `api`'s helpers, for the files that still use them (openapi.rs,
    // persistence.rs, operations.rs); new tests call `app.api`.

    pub async fn create_customer(&self, org: &str, external_id: &str) -> Value {
        self.api
            .with_token(&token(&[org], ALL_SCOPES))
            .register(org, external_id)
            .await
    }

    pub fn treatment_path(org: &str, id: &str) -> String {
        special_treatment_path(org, id)
    }

    pub async fn put_treatment(&self, id: &str, body: Value) -> Response {
        self.api
            .set_customer_special_treatment(ORG, id, &body)
            .await
    }

    pub async fn get_treatment(&self, id: &str) -> Response {
        self.api.get_customer_special_treatment(ORG, id).await
    }

    /// The stored values, asserting a 200.
    pub async fn treatment_values(&self, id: &str) -> Vec<String> {
        self.api.special_treatment(ORG, id).await
    }

    /// Stops the server gracefully and starts a new one on the same database.
    pub async fn restart(mut self) -> TestApp {
        let settings = self.settings.clone();
        self.stop().await;
        let db = self.db.take().expect("the app owns its database");
        start(settings, db).await
    }

    /// Stops the server gracefully and waits for it to exit.
    pub async fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("the server task does not panic")
                .expect("the server stops cleanly");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// Asserts an `ErrorResponse` with `status` and `code`, and returns its body.
pub async fn assert_error(resp: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(resp.status(), status, "status");
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "content type {content_type:?}"
    );
    let request_id = resp
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("every response has X-Request-Id")
        .to_owned();
    let body: Value = resp.json().await.expect("an ErrorResponse is JSON");
    assert_eq!(body["code"], code, "code in {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message in {body}"
    );
    assert_eq!(
        body["request_id"],
        request_id.as_str(),
        "request_id equals the header"
    );
    body
}

/// The `details[].field` names of an error body.
pub fn detail_fields(body: &Value) -> Vec<String> {
    body["details"]
        .as_array()
        .map(|details| {
            details
                .iter()
                .map(|d| d["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A second connection of the test's own that holds a customer's row in a transaction, so the
/// server's writes to it wait. On PostgreSQL that is the row lock (`SELECT ... FOR UPDATE`); on
/// SQLite the database's write lock (a write in an open transaction).
pub struct LockHolder {
    /// For the waiters count; not the transaction's connection.
    observer: DatabaseConnection,
    txn: DatabaseTransaction,
    backend: DbBackend,
    external_id: String,
}

impl LockHolder {
    /// Locks the row of the customer of [`ORG`] whose `external_id` is given.
    pub async fn lock(database_url: &str, external_id: &str) -> LockHolder {
        let observer = direct_connection(database_url).await;
        let backend = observer.get_database_backend();
        let txn = observer.begin().await.expect("begin");
        let lock = match backend {
            DbBackend::Postgres => {
                "SELECT id FROM customers WHERE org_id = $1 AND external_id = $2 FOR UPDATE"
            }
            _ => {
                "UPDATE customers SET updated_at = updated_at WHERE org_id = $1 AND external_id = $2"
            }
        };
        let locked = txn
            .execute_raw(Statement::from_sql_and_values(
                backend,
                lock,
                [ORG.into(), external_id.into()],
            ))
            .await
            .expect("lock the row");
        assert_eq!(locked.rows_affected(), 1, "the locked customer exists");
        LockHolder {
            observer,
            txn,
            backend,
            external_id: external_id.to_owned(),
        }
    }

    /// Waits until `n` statements wait for a lock (PostgreSQL tells; on SQLite, where nothing
    /// tells, a pause long enough for requests sent just before to reach the database).
    pub async fn wait_for_waiters(&self, n: i64) {
        if self.backend != DbBackend::Postgres {
            tokio::time::sleep(Duration::from_millis(600)).await;
            return;
        }
        let started = std::time::Instant::now();
        loop {
            let row = self
                .observer
                .query_one_raw(Statement::from_string(
                    self.backend,
                    "SELECT count(*) AS waiting FROM pg_stat_activity \
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                ))
                .await
                .expect("query pg_stat_activity")
                .expect("a row");
            let waiting: i64 = row.try_get("", "waiting").expect("count");
            if waiting >= n {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{n} statements did not start waiting for the lock ({waiting} do)"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Writes `values` (a JSON array) as the row's special treatment and commits.
    pub async fn commit_with(self, values: Value) {
        let cast = if self.backend == DbBackend::Postgres {
            "::jsonb"
        } else {
            ""
        };
        let update = format!(
            "UPDATE customers SET special_treatment = $1{cast} \
             WHERE org_id = $2 AND external_id = $3"
        );
        self.txn
            .execute_raw(Statement::from_sql_and_values(
                self.backend,
                update,
                [
                    values.to_string().into(),
                    ORG.into(),
                    self.external_id.into(),
                ],
            ))
            .await
            .expect("the lock holder's update");
        self.txn.commit().await.expect("the lock holder commits");
        self.observer.close().await.ok();
    }

    /// Rolls back: the row is as it was.
    pub async fn release(self) {
        self.txn.rollback().await.expect("roll back");
        self.observer.close().await.ok();
    }
}
