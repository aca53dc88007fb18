//! Command line and environment configuration (flags win over environment variables).
//!
//! Secrets are read here and handed on as bytes; no `Debug` impl prints them.

use std::{
    io::Write,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::{
    auth::KeySettings,
    repo::RepoSettings,
    serve::{ConnectionLimits, default_max_connections},
};

/// Customers API: the customers registry and customer special treatment over HTTP.
#[derive(Parser)]
#[command(
    name = "customers-api",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "Logging: RUST_LOG filters the log lines (default: info), e.g. RUST_LOG=info,sea_orm=warn."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// With no subcommand, `serve` runs with these settings.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve(ServeArgs),
    /// Apply the database migrations and exit.
    Migrate(DatabaseArgs),
    /// Print the OpenAPI document (YAML) the server serves.
    Openapi,
    /// Print a development token signed with the configured HS256 secret.
    Token(TokenArgs),
    /// Delete the finished identification processes of deleted customers that finished more
    /// than `--older-than-days` days ago (the end of their retention period), print how many,
    /// and exit.
    PurgeIdentificationProcesses(PurgeArgs),
}

#[derive(Args, Clone)]
pub struct PurgeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The retention period in days: processes finished (decided, cancelled or expired) more
    /// recently than this are kept. E.g. 1827 for five years.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub older_than_days: u32,
}

#[derive(Args, Clone)]
pub struct ServeArgs {
    /// Address to bind.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8080")]
    pub listen_addr: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub jwt: JwtArgs,
    /// Log line format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// On SIGTERM/SIGINT, how long in-flight requests may take to finish.
    #[arg(long, env = "SHUTDOWN_GRACE_MS", default_value_t = 10_000)]
    pub shutdown_grace_ms: u64,
    /// Browser origins allowed by CORS, comma-separated (e.g. `https://app.example.com`);
    /// empty: no CORS headers.
    #[arg(
        long,
        env = "CORS_ALLOWED_ORIGINS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub cors_allowed_origins: Vec<String>,
    /// When set, `GET /metrics` needs `Authorization: Bearer <this>`; unset: open.
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// A request head (request line and headers) must arrive in full within this many
    /// milliseconds of its first byte, or the connection is closed.
    #[arg(long, env = "HEADER_READ_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_ms: u64,
    /// A connection with no request in progress for this many milliseconds (an idle
    /// keep-alive connection, HTTP/2 too, or a new one that sends nothing) is closed.
    #[arg(long, env = "IDLE_TIMEOUT_MS", default_value_t = 75_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_ms: u64,
    /// Client connections served at once; at the limit a new client makes an idle connection
    /// close, or waits until one ends [default: 4096] (fewer if the open-files limit less a
    /// reserve for the database is lower).
    #[arg(long, env = "MAX_CONNECTIONS", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: Option<u64>,
    /// The largest request head (request line and headers) in bytes; a larger one is
    /// answered 431 and the connection closed. At least 8192.
    #[arg(long, env = "MAX_HEADER_BYTES", default_value_t = 32_768,
          value_parser = clap::value_parser!(u64).range(8192..=(u32::MAX as u64)))]
    pub max_header_bytes: u64,
}

impl ServeArgs {
    /// The connection limits; an unset `max_connections` from `file_limit` (the open-files
    /// limit in force) and the database's share of it.
    pub fn connection_limits(
        &self,
        file_limit: Option<u64>,
        db_max_connections: u32,
    ) -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_millis(self.header_read_timeout_ms),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms),
            max_connections: match self.max_connections {
                Some(max) => usize::try_from(max).unwrap_or(usize::MAX),
                None => default_max_connections(file_limit, db_max_connections),
            },
            max_header_bytes: usize::try_from(self.max_header_bytes).unwrap_or(usize::MAX),
        }
    }

    /// The CORS origins with blanks dropped (an empty variable means none).
    pub fn cors_origins(&self) -> Vec<String> {
        self.cors_allowed_origins
            .iter()
            .map(|origin| origin.trim().to_owned())
            .filter(|origin| !origin.is_empty())
            .collect()
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Clone)]
pub struct DatabaseArgs {
    /// SQLite (embedded default) or `postgres://...`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/customers-api.sqlite?mode=rwc"
    )]
    pub database_url: String,
    /// The most connections the process opens to the database, all paths together; at least 2
    /// on SQLite [default: 16 on PostgreSQL, 8 on SQLite].
    #[arg(long, env = "DB_MAX_CONNECTIONS")]
    pub db_max_connections: Option<u32>,
    /// Waiting longer than this for a database connection answers 503.
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT_MS", default_value_t = 2000)]
    pub db_acquire_timeout_ms: u64,
    /// A repository call running longer than this answers 504.
    #[arg(long, env = "DB_STATEMENT_TIMEOUT_MS", default_value_t = 5000)]
    pub db_statement_timeout_ms: u64,
}

impl DatabaseArgs {
    pub fn settings(&self) -> RepoSettings {
        RepoSettings {
            database_url: self.database_url.clone(),
            max_connections: self
                .db_max_connections
                .unwrap_or_else(|| default_pool_size(&self.database_url))
                .max(1),
            acquire_timeout: Duration::from_millis(self.db_acquire_timeout_ms),
            statement_timeout: Duration::from_millis(self.db_statement_timeout_ms),
        }
    }
}

/// SQLite runs each connection's statements on a thread of its own inside this process, so
/// readers beyond a few add no throughput, only memory (each keeps its own page cache) and
/// thread hand-offs: 16 pool connections served GETs no faster than 4 and took 59 MiB instead
/// of 34 MiB (BENCHMARKS.md). 8 is what the service had before this number counted every
/// connection: 3 in the read pool, 2 writers, 1 group-commit writer, 1 read connection per core
/// on 2 cores (`crate::repo`'s `Budget`).
fn default_pool_size(database_url: &str) -> u32 {
    if database_url.starts_with("sqlite:") {
        8
    } else {
        16
    }
}

#[derive(Args, Clone)]
pub struct JwtArgs {
    /// HS256 shared secret, at least 32 bytes.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// PEM public key for RS256 or ES256 tokens.
    #[arg(long, env = "JWT_PUBLIC_KEY_FILE")]
    pub jwt_public_key_file: Option<PathBuf>,
    /// When set, tokens must carry this `iss`.
    #[arg(long, env = "JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// When set, tokens must carry this `aud`.
    #[arg(long, env = "JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// With no key configured: where the generated HS256 secret is kept (mode 0600).
    #[arg(long, env = "JWT_SECRET_FILE", default_value = "data/jwt-secret")]
    pub jwt_secret_file: PathBuf,
}

/// Where the HS256 secret came from, for the start-up log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSource {
    Configured,
    Generated,
    Reused,
}

impl JwtArgs {
    /// The HS256 secret: `JWT_SECRET`, else (when no public key is configured either) the
    /// generated one in `jwt_secret_file`, created on first use.
    pub fn hs256_secret(&self) -> anyhow::Result<Option<(Vec<u8>, SecretSource)>> {
        if let Some(secret) = &self.jwt_secret {
            anyhow::ensure!(secret.len() >= 32, "JWT_SECRET must be at least 32 bytes");
            return Ok(Some((secret.as_bytes().to_vec(), SecretSource::Configured)));
        }
        if self.jwt_public_key_file.is_some() {
            return Ok(None);
        }
        load_or_create_secret(&self.jwt_secret_file).map(Some)
    }

    pub fn key_settings(&self) -> anyhow::Result<(KeySettings, Option<SecretSource>)> {
        let secret = self.hs256_secret()?;
        let public_key_pem = match &self.jwt_public_key_file {
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                anyhow::anyhow!("cannot read JWT_PUBLIC_KEY_FILE {}: {e}", path.display())
            })?),
            None => None,
        };
        let source = secret.as_ref().map(|(_, source)| *source);
        Ok((
            KeySettings {
                hs256_secret: secret.map(|(bytes, _)| bytes),
                public_key_pem,
                issuer: self.jwt_issuer.clone(),
                audience: self.jwt_audience.clone(),
            },
            source,
        ))
    }
}

/// A random 256-bit secret, hex-encoded, written once with mode 0600 and reused after.
fn load_or_create_secret(path: &Path) -> anyhow::Result<(Vec<u8>, SecretSource)> {
    let read = |path: &Path| -> anyhow::Result<Vec<u8>> {
        let secret = std::fs::read_to_string(path)?.trim().as_bytes().to_vec();
        anyhow::ensure!(
            secret.len() >= 32,
            "{} holds fewer than 32 bytes",
            path.display()
        );
        Ok(secret)
    };
    if path.exists() {
        return Ok((read(path)?, SecretSource::Reused));
    }
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder)?;
    }
    let bytes: [u8; 32] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    // Written in full beside the target, then linked into place: the file appears with its
    // content or not at all, so a concurrent start or a crash never sees it half written.
    let staging = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&staging).and_then(|mut file| {
        file.write_all(hex.as_bytes())?;
        file.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&staging, path));
    let _ = std::fs::remove_file(&staging);
    match linked {
        Ok(()) => Ok((hex.into_bytes(), SecretSource::Generated)),
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok((read(path)?, SecretSource::Reused))
        }
        Err(e) => Err(anyhow::anyhow!("cannot create {}: {e}", path.display())),
    }
}

#[derive(Args, Clone)]
pub struct TokenArgs {
    /// Organization the token may act in (repeatable; `*` for every organization).
    #[arg(long = "org", required = true)]
    pub orgs: Vec<String>,
    /// Space-separated scopes (default: every scope but the privileged ones).
    #[arg(long)]
    pub scope: Option<String>,
    /// The token's subject (the actor named in logs).
    #[arg(long, default_value = "developer")]
    pub sub: String,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    pub ttl: u64,
    #[command(flatten)]
    pub jwt: JwtArgs,
}
