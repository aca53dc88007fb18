//! `customers-api`: thin entry point; see the library's documentation for the layout.

use std::{process::ExitCode, time::Duration};

use clap::Parser;
use customers_api::{
    app::{App, Settings},
    auth::{Scope, mint_token},
    config::{Cli, Command, PurgeArgs, SecretSource, ServeArgs},
    repo::Repository,
    serve,
    spec::Spec,
    telemetry,
};

/// mimalloc instead of glibc's malloc: a request allocates some sixty times (mostly in the
/// framework), and glibc's malloc and free were a tenth of its instructions. Measured: SQLite
/// GET +5%, PUT +17%, for 2-3 MiB more peak RSS (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(args)) => serve(args).await,
        Some(Command::Migrate(args)) => Repository::migrate(&args.settings()).await,
        Some(Command::PurgeIdentificationProcesses(args)) => purge(args).await,
        Some(Command::Openapi) => Spec::offline().map(|spec| print!("{}", spec.yaml)),
        Some(Command::Token(args)) => (|| {
            let (secret, _) = args.jwt.hs256_secret()?.ok_or_else(|| {
                anyhow::anyhow!("`token` signs HS256 tokens: configure JWT_SECRET")
            })?;
            let scopes = args.scope.unwrap_or_else(Scope::default_grant);
            let ttl = Duration::from_secs(args.ttl);
            println!(
                "{}",
                mint_token(&secret, &args.sub, &args.orgs, &scopes, ttl)?
            );
            Ok(())
        })(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("customers-api: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Deletes the finished processes of deleted customers past the retention period.
async fn purge(args: PurgeArgs) -> anyhow::Result<()> {
    let repo = Repository::connect(&args.database.settings()).await?;
    let before = chrono::Utc::now() - chrono::Duration::days(i64::from(args.older_than_days));
    let purged = repo.purge_identification_processes(before).await;
    repo.close().await?;
    println!("{} identification processes purged", purged?);
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Held until serving ends: its drop writes out the lines still buffered.
    let _log = telemetry::init(args.log_format);
    let shutdown = shutdown_signal()?;
    let (keys, secret_source) = args.jwt.key_settings()?;
    if matches!(
        secret_source,
        Some(SecretSource::Generated | SecretSource::Reused)
    ) {
        tracing::info!(
            secret_file = %args.jwt.jwt_secret_file.display(),
            "no JWT key configured: using the generated HS256 secret; mint a token with \
             `customers-api token --org <ORG>`"
        );
    }
    let repo = args.database.settings();
    let file_limit = serve::raise_file_limit();
    let connections = args.connection_limits(file_limit, repo.max_connections);
    if let Some(limit) = file_limit {
        let reserved = serve::reserved_file_descriptors(repo.max_connections);
        if connections.max_connections as u64 + reserved > limit {
            tracing::warn!(
                max_connections = connections.max_connections,
                open_files_limit = limit,
                "MAX_CONNECTIONS leaves too few file descriptors for the database and the log \
                 at full load: lower it, or raise the open-files limit (ulimit -n)"
            );
        }
    }
    let settings = Settings {
        listen_addr: args.listen_addr,
        repo,
        keys,
        shutdown_grace: Duration::from_millis(args.shutdown_grace_ms),
        cors_allowed_origins: args.cors_origins(),
        metrics_token: args.metrics_token.clone().filter(|t| !t.is_empty()),
        connections,
    };
    let app = App::build(settings).await?;
    tracing::info!(
        addr = %app.local_addr(),
        max_connections = connections.max_connections,
        open_files_limit = file_limit,
        header_read_timeout_ms = args.header_read_timeout_ms,
        idle_timeout_ms = args.idle_timeout_ms,
        max_header_bytes = connections.max_header_bytes,
        "serving; Swagger UI at /docs"
    );
    app.run(shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Starts listening for SIGINT and SIGTERM now (so a signal during start-up is not lost: the
/// server then stops as soon as it runs); the future resolves on the first of them.
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        let name = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        };
        tracing::info!(
            signal = name,
            "shutdown signal received; finishing in-flight requests"
        );
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown signal received; finishing in-flight requests");
    })
}
