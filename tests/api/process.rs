//! The real binary as a child process, for what only a process shows: a SIGKILL, a SIGTERM,
//! its exit status and its log.

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::{ExitStatus, Stdio},
    time::{Duration, Instant},
};

use reqwest::{Method, RequestBuilder};
use serde_json::Value;
use tokio::process::{Child, Command};

use crate::{
    client::ApiClient,
    helpers::{ALL_SCOPES, ORG, SECRET, token},
};

/// How long a start may take (PostgreSQL migrations on a loaded CI machine included).
const START_LIMIT: Duration = Duration::from_secs(30);

pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
    /// The API's client, with [`token`](ServerProcess::token) (set once the process serves).
    pub api: ApiClient,
    pub client: reqwest::Client,
    /// A token for [`ORG`] with every scope (the one `api` sends).
    #[allow(dead_code, reason = "for tests that send it themselves")]
    pub token: String,
    log_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts `customers-api` on a free port (it binds port 0 and logs the address) with
    /// `database_url`, the test secret, JSON logs, and `env` on top; waits until it serves.
    pub async fn start(database_url: &str, env: &[(&str, &str)]) -> ServerProcess {
        let mut with_secret = vec![("JWT_SECRET", SECRET)];
        with_secret.extend_from_slice(env);
        Self::start_with_env(database_url, &with_secret).await
    }

    /// Like [`start`](Self::start), but with no JWT key unless `env` configures one: the
    /// environment is exactly the listening and logging settings, `database_url` and `env`.
    pub async fn start_with_env(database_url: &str, env: &[(&str, &str)]) -> ServerProcess {
        let dir = tempfile::tempdir().expect("temporary directory");
        let log_path = dir.path().join("server.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_customers-api"));
        command
            .env_clear()
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("DATABASE_URL", database_url)
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true);
        let child = command.spawn().expect("start customers-api");
        let token = token(&[ORG], ALL_SCOPES);
        let unknown: SocketAddr = "0.0.0.0:0".parse().expect("an address");
        let api = ApiClient::new(unknown, &token);
        let mut server = ServerProcess {
            child,
            addr: unknown,
            client: api.http().clone(),
            api,
            token,
            log_path,
            _dir: dir,
        };
        server.addr = server.wait_until_serving().await;
        server.api = server.api.at(server.addr);
        server
    }

    async fn wait_until_serving(&mut self) -> SocketAddr {
        let started = Instant::now();
        loop {
            if let Some(addr) = self.log_lines().iter().find_map(|line| {
                let serving = line["message"].as_str()?.starts_with("serving");
                serving.then(|| line["addr"].as_str()?.parse().ok())?
            }) {
                let healthz = format!("http://{addr}/healthz");
                if let Ok(resp) = self.client.get(&healthz).send().await
                    && resp.status() == 200
                {
                    return addr;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "customers-api exited ({status}) while starting:\n{}",
                    self.log()
                );
            }
            assert!(
                started.elapsed() < START_LIMIT,
                "customers-api did not serve within {START_LIMIT:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[allow(
        dead_code,
        reason = "for tests of other files (the server's address as a URL)"
    )]
    pub fn url(&self, path: &str) -> String {
        self.api.url(path)
    }

    /// A request with the all-scopes token for [`ORG`].
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.api.request(method, path)
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the process.
    pub fn signal(&self, signal: i32) {
        let pid = self.child.id().expect("the process runs") as libc::pid_t;
        // SAFETY: kill(2) with the pid of our own child and a valid signal number.
        let sent = unsafe { libc::kill(pid, signal) };
        assert_eq!(sent, 0, "kill({pid}, {signal})");
    }

    /// SIGKILL, at once: no clean-up of any kind runs in the process.
    pub fn kill_9(&mut self) {
        self.child.start_kill().expect("SIGKILL");
    }

    /// The exit status, waiting at most `limit`.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .ok()
            .map(|status| status.expect("wait for the process"))
    }

    /// The exit status if the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("poll the process")
    }

    /// Everything the process logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The JSON log lines so far.
    pub fn log_lines(&self) -> Vec<Value> {
        self.log()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// The first JSON log line that `wanted` accepts, waiting for it up to 5 s: lines are
    /// written by the server's log thread, a moment after the answer they describe.
    pub async fn wait_for_log_line(&self, wanted: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            if let Some(line) = self.log_lines().into_iter().find(|line| wanted(line)) {
                return line;
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "no such log line in:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
