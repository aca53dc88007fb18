//! Assembling the service: database, routes, middleware, listener.
//!
//! [`App::build`] does everything that can fail before the first request (connect, migrate,
//! load keys, bind) and exposes the bound address, so tests bind port 0 and learn the port.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use futures_util::future::Either;
use poem::{
    Endpoint, EndpointExt, IntoEndpoint, Request, Response,
    endpoint::{BoxEndpoint, DynEndpoint},
    get,
};
use tokio::net::TcpListener;

use crate::{
    api,
    auth::{KeySettings, TokenVerifier},
    http::{CorsLayer, RequestContext, RouteTable, ShapeErrors},
    metrics::{Metrics, MetricsAccess, metrics_endpoint},
    repo::{RepoSettings, Repository},
    serve::{ConnectionLimits, serve},
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
    /// Timeouts, connection limit and header size limit of the accept loop.
    pub connections: ConnectionLimits,
}

/// A server ready to run: migrated database, generated document, bound listener. The routes
/// are assembled in [`App::run`], where their type can stay concrete (see [`crate::serve`]).
pub struct App {
    listener: TcpListener,
    local_addr: SocketAddr,
    repo: Repository,
    verifier: Arc<TokenVerifier>,
    spec: Arc<Spec>,
    route_table: Arc<RouteTable>,
    metrics_access: MetricsAccess,
    cors_allowed_origins: Vec<String>,
    shutdown_grace: Duration,
    connections: ConnectionLimits,
}

impl App {
    pub async fn build(settings: Settings) -> anyhow::Result<App> {
        let verifier = Arc::new(TokenVerifier::new(&settings.keys)?);
        let repo = Repository::connect(&settings.repo).await?;
        let spec = Arc::new(Spec::generate(&api::service(repo.clone()))?);
        let mut route_table = spec.route_table();
        route_table.add("/metrics", "GET");
        let listener = TcpListener::bind(settings.listen_addr).await?;
        let local_addr = listener.local_addr()?;
        Ok(App {
            listener,
            local_addr,
            repo,
            verifier,
            spec,
            route_table: Arc::new(route_table),
            metrics_access: MetricsAccess {
                token: settings.metrics_token,
            },
            cors_allowed_origins: settings.cors_allowed_origins,
            shutdown_grace: settings.shutdown_grace,
            connections: settings.connections,
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
        let metrics = Arc::new(Metrics::default());
        // Route data is inserted into every request that passes the layer, so the scrape's
        // data is attached to /metrics alone, and the token verifier to the API alone.
        let metrics_route = get(metrics_endpoint)
            .data(self.repo.clone())
            .data(metrics.clone())
            .data(self.metrics_access);
        let routes = Dispatch {
            api: api::service(self.repo.clone()).into_endpoint(),
            verifier: self.verifier,
            others: self.spec.clone().routes().at("/metrics", metrics_route),
        };
        let endpoint = routes
            .with(ShapeErrors::new(self.route_table.clone()))
            .with(CorsLayer::new(self.cors_allowed_origins))
            .with(RequestContext::new(self.route_table, metrics));
        serve(
            self.listener,
            endpoint,
            shutdown,
            self.shutdown_grace,
            self.connections,
        )
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

/// Sends each request to the API's operations, or to the document, Swagger UI and metrics
/// routes. One look at the path: under a `Route::nest("/", api)`, every API request was routed
/// twice and its URI rebuilt. Like the layers in [`crate::http`], not an `async fn`.
struct Dispatch<O> {
    api: BoxEndpoint<'static, Response>,
    /// For the API's bearer-token checker, in the request's data.
    verifier: Arc<TokenVerifier>,
    others: O,
}

impl<O: Endpoint<Output = Response>> Endpoint for Dispatch<O> {
    type Output = Response;

    fn call(&self, mut req: Request) -> impl Future<Output = poem::Result<Response>> + Send {
        let path = req.uri().path();
        if path == "/metrics" || Spec::serves(path) {
            Either::Left(Box::pin(self.others.call(req)))
        } else {
            // Everything else, known or not: the API's routes answer 404 and 405.
            req.set_data(self.verifier.clone());
            Either::Right(DynEndpoint::call(&*self.api, req))
        }
    }
}
