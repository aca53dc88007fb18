//! Assembling the service: database, routes, middleware, listener.
//!
//! [`App::build`] does everything that can fail before the first request (connect, migrate,
//! load keys, bind) and exposes the bound address, so tests bind port 0 and learn the port.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use poem::{
    EndpointExt, Server,
    endpoint::BoxEndpoint,
    get,
    listener::{Acceptor, Listener, TcpAcceptor, TcpListener},
    middleware::CatchPanic,
};

use crate::{
    api,
    auth::{KeySettings, TokenVerifier},
    http::{CorsLayer, RequestContext, ShapeErrors, panic_response},
    metrics::{Metrics, MetricsAccess, metrics_endpoint},
    repo::{RepoSettings, Repository},
    spec::Spec,
};

/// How long closing the connection pool may take after the last request. Idle connections
/// close in milliseconds; only a statement abandoned at the end of the grace period (still
/// waiting for a lock, say) could take longer, and it is not worth waiting for.
const POOL_CLOSE_LIMIT: Duration = Duration::from_secs(1);

/// Everything the server needs to start.
#[derive(Clone)]
pub struct Settings {
    pub listen_addr: SocketAddr,
    pub repo: RepoSettings,
    pub keys: KeySettings,
    /// On shutdown, how long in-flight requests may take to finish.
    pub shutdown_grace: Duration,
    /// Browser origins allowed by CORS; empty means no CORS headers at all.
    pub cors_allowed_origins: Vec<String>,
    /// When set, `/metrics` needs this bearer token.
    pub metrics_token: Option<String>,
}

/// A server ready to run: migrated database, routes, bound listener.
pub struct App {
    acceptor: TcpAcceptor,
    local_addr: SocketAddr,
    endpoint: BoxEndpoint<'static>,
    repo: Repository,
    shutdown_grace: Duration,
}

impl App {
    pub async fn build(settings: Settings) -> anyhow::Result<App> {
        let verifier = Arc::new(TokenVerifier::new(&settings.keys)?);
        let repo = Repository::connect(&settings.repo).await?;
        let service = api::service(repo.clone());
        let spec = Arc::new(Spec::generate(&service)?);
        let mut route_table = spec.route_table();
        route_table.add("/metrics", "GET");
        let route_table = Arc::new(route_table);
        let metrics = Arc::new(Metrics::default());
        let metrics_access = MetricsAccess {
            token: settings.metrics_token.clone(),
        };
        let cors_origins = settings.cors_allowed_origins.clone();
        // Route data is inserted into every request that passes the layer, so the scrape's
        // data is attached to /metrics alone; the API needs only the token verifier.
        let metrics_route = get(metrics_endpoint)
            .data(repo.clone())
            .data(metrics.clone())
            .data(metrics_access);
        let endpoint = spec
            .routes()
            .at("/metrics", metrics_route)
            .nest("/", service)
            .data(verifier)
            .with(CatchPanic::new().with_handler(panic_response))
            .with(ShapeErrors::new(route_table.clone()))
            .with_if(!cors_origins.is_empty(), CorsLayer::new(cors_origins))
            .with(RequestContext::new(route_table, metrics))
            .boxed();
        let acceptor = TcpListener::bind(settings.listen_addr)
            .into_acceptor()
            .await?;
        let local_addr = acceptor
            .local_addr()
            .first()
            .and_then(|addr| addr.as_socket_addr().copied())
            .ok_or_else(|| anyhow::anyhow!("the listener has no socket address"))?;
        Ok(App {
            acceptor,
            local_addr,
            endpoint,
            repo,
            shutdown_grace: settings.shutdown_grace,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish
    /// within the grace period, and closes the pool.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(self.endpoint, shutdown, Some(self.shutdown_grace))
            .await?;
        // Closing waits for checked-out connections; neither an abandoned statement nor a
        // database that stopped answering may keep the process from exiting.
        match tokio::time::timeout(POOL_CLOSE_LIMIT, self.repo.close()).await {
            Ok(closed) => closed,
            Err(_) => {
                tracing::warn!("the connection pool did not close in time; exiting anyway");
                Ok(())
            }
        }
    }
}
