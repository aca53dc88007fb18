//! The middleware every request passes through, whatever route it hits.
//!
//! [`RequestContext`] (outermost) gives each request an id (an incoming sane `X-Request-Id` is
//! kept), bounds the body at [`MAX_BODY_BYTES`], marks `/v1` answers `Cache-Control: no-store`,
//! records metrics and logs one line per request. [`ShapeErrors`] (innermost, around the routes)
//! turns every failure the framework produces on its own (unknown route, wrong method,
//! extractor errors), and a panic, into the same `ErrorResponse` JSON as the handlers' errors.
//! [`CorsLayer`] sits between them.
//!
//! The inner layers are not `async fn`s: each calls the next at once and returns a future
//! that holds only the next one's. An `async fn` layer also keeps its own copy of the request
//! (~0.5 KiB), so nested ones made the request's future 10 KiB, copied on every request.

use std::{
    collections::HashMap, future::Future, panic::AssertUnwindSafe, sync::Arc, time::Instant,
};

use futures_util::{FutureExt, future::Either};
use poem::{
    Endpoint, IntoResponse, Middleware, Request, Response,
    http::{HeaderValue, Method, header},
    middleware::Cors,
};

use crate::{
    error::Error,
    metrics::Metrics,
    request::{self, RequestScope},
};

/// Request bodies above this size are refused with 413 before anything else looks at them.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// An incoming id is echoed only when it is short and plain, so it is safe in logs and headers.
fn request_id_of(req: &Request) -> String {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| {
            (1..=128).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(str::to_owned)
        // A v4 UUID from the thread's RNG: no getrandom(2) call per request.
        .unwrap_or_else(|| {
            uuid::Builder::from_random_bytes(rand::random())
                .into_uuid()
                .to_string()
        })
}

/// The service's routes: their templates and methods, for `Allow`, parameter names and the
/// `route` label of metrics and logs.
///
/// Looked up on every request, so by index rather than by a scan of every route: routes are
/// grouped by their number of segments, then by their last segment when it is a literal
/// (`special-treatment`, `categories`, ...). A request compares itself with the one or two
/// routes of its group, however many sections the API has. (The scan cost the special-treatment
/// GET 2.5k instructions with v1's routes and 4.9k once categories' came first, BENCHMARKS.md.)
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
    /// By segment count: the routes (indexes into `routes`) ending in each literal, and those
    /// ending in a parameter.
    groups: HashMap<usize, RouteGroup>,
}

#[derive(Debug, Default)]
struct RouteGroup {
    by_last_literal: HashMap<String, Vec<usize>>,
    last_is_parameter: Vec<usize>,
}

#[derive(Debug)]
struct Route {
    /// Shared, so that a metrics label is a reference count, not a copy.
    template: Arc<String>,
    segments: Vec<String>,
    methods: Vec<String>,
}

impl RouteTable {
    /// `template` uses `{name}` for a path parameter, as the OpenAPI document does.
    pub fn add(&mut self, template: &str, method: &str) {
        let method = method.to_ascii_uppercase();
        if let Some(route) = self.routes.iter_mut().find(|r| *r.template == template) {
            route.methods.push(method);
            return;
        }
        let segments: Vec<String> = template.split('/').map(str::to_owned).collect();
        let group = self.groups.entry(segments.len()).or_default();
        let index = self.routes.len();
        match segments.last().filter(|last| !last.starts_with('{')) {
            Some(literal) => group
                .by_last_literal
                .entry(literal.clone())
                .or_default()
                .push(index),
            None => group.last_is_parameter.push(index),
        }
        self.routes.push(Route {
            template: Arc::new(template.to_owned()),
            segments,
            methods: vec![method],
        });
    }

    /// The route serving `path`: one whose literal last segment is the path's first (as
    /// poem's router prefers a literal to a parameter), else one ending in a parameter.
    fn matching(&self, path: &str) -> Option<&Route> {
        let group = self.groups.get(&path.split('/').count())?;
        let last = path.rsplit('/').next().unwrap_or_default();
        let literal = group.by_last_literal.get(last).into_iter().flatten();
        literal
            .chain(&group.last_is_parameter)
            .map(|&index| &self.routes[index])
            .find(|route| {
                route.segments.iter().zip(path.split('/')).all(|(t, s)| {
                    // poem's router gives a parameter an empty segment too (`//`).
                    t == s || t.starts_with('{')
                })
            })
    }

    /// The route template serving `path`, or `unmatched`.
    pub fn template_of(&self, path: &str) -> Option<&Arc<String>> {
        self.matching(path).map(|route| &route.template)
    }

    /// The `Allow` header value for `path`.
    pub fn allowed_methods(&self, path: &str) -> String {
        self.matching(path)
            .map(|route| route.methods.join(", "))
            .unwrap_or_default()
    }

    /// poem-openapi names path parameters `param0`, `param1`, ... in its errors; this is the
    /// documented name of the `index`th one of `path`.
    pub fn path_parameter_name(&self, path: &str, index: usize) -> Option<String> {
        self.matching(path)?
            .segments
            .iter()
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .nth(index)
            .map(str::to_owned)
    }
}

/// See the module documentation.
pub struct RequestContext {
    routes: Arc<RouteTable>,
    metrics: Arc<Metrics>,
}

impl RequestContext {
    pub fn new(routes: Arc<RouteTable>, metrics: Arc<Metrics>) -> Self {
        Self { routes, metrics }
    }
}

impl<E: Endpoint> Middleware<E> for RequestContext {
    type Output = RequestContextEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RequestContextEndpoint {
            inner,
            routes: self.routes.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

pub struct RequestContextEndpoint<E> {
    inner: E,
    routes: Arc<RouteTable>,
    metrics: Arc<Metrics>,
}

impl<E: Endpoint> Endpoint for RequestContextEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let started = Instant::now();
        let _in_flight = self.metrics.request_started();
        let scope = Arc::new(RequestScope::new(request_id_of(&req)));
        let method = req.method().clone();
        // The URI's parts are reference-counted: a clone copies no bytes.
        let uri = req.uri().clone();
        let path = uri.path();
        let mut resp = request::SCOPE
            .scope(scope.clone(), async {
                let result = match buffer_body(&mut req).await {
                    Ok(()) => self.inner.call(req).await.map(IntoResponse::into_response),
                    Err(err) => Err(err),
                };
                result.unwrap_or_else(|err| error_response(err, path, &self.routes))
            })
            .await;

        let headers = resp.headers_mut();
        if let Ok(value) = HeaderValue::from_str(scope.id()) {
            headers.insert(REQUEST_ID_HEADER, value);
        }
        if path == "/v1" || path.starts_with("/v1/") {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        let route = self.routes.template_of(path);
        let elapsed = started.elapsed().as_secs_f64();
        self.metrics.observe(&method, route, resp.status(), elapsed);
        tracing::info!(
            method = %method,
            route = route.map_or("unmatched", |route| route.as_str()),
            status = resp.status().as_u16(),
            latency_ms = elapsed * 1000.0,
            request_id = %scope.id(),
            actor = scope.actor(),
            "request"
        );
        Ok(resp)
    }
}

/// Any failure as the `ErrorResponse` it stands for.
fn error_response(err: poem::Error, path: &str, routes: &RouteTable) -> Response {
    if err.is_from_response() {
        // Typed errors from handlers and the auth checker are already ErrorResponses.
        return err.into_response();
    }
    framework_error(err, path, routes).into_response()
}

/// Translates poem's and poem-openapi's own failures (extractors, router, body reading).
fn framework_error(err: poem::Error, path: &str, routes: &RouteTable) -> Error {
    use poem::http::StatusCode;
    use poem_openapi::error::{
        AuthorizationError, ContentTypeError, ParseParamError, ParsePathError,
        ParseRequestPayloadError,
    };
    if let Some(e) = err.downcast_ref::<ParseParamError>() {
        return Error::invalid_parameter(e.name, &e.reason);
    }
    if let Some(e) = err.downcast_ref::<ParsePathError>() {
        let name = e
            .name
            .strip_prefix("param")
            .and_then(|index| index.parse().ok())
            .and_then(|index| routes.path_parameter_name(path, index))
            .unwrap_or_else(|| e.name.to_owned());
        return Error::invalid_parameter(&name, &e.reason);
    }
    if let Some(e) = err.downcast_ref::<ParseRequestPayloadError>() {
        return Error::InvalidBody {
            message: format!("request body is not valid JSON: {}", e.reason),
            details: vec![],
        };
    }
    if err.is::<ContentTypeError>() {
        return Error::InvalidBody {
            message: format!("{err}; send Content-Type: application/json"),
            details: vec![],
        };
    }
    if let Some(e) = err.downcast_ref::<poem::error::CorsError>() {
        return Error::Forbidden(format!("CORS: {e}"));
    }
    if err.is::<AuthorizationError>() {
        return Error::Unauthorized {
            message: "missing bearer token: send Authorization: Bearer <JWT>".to_owned(),
            token_presented: false,
        };
    }
    match err.status() {
        StatusCode::NOT_FOUND => Error::NotFound("no such route".to_owned()),
        StatusCode::METHOD_NOT_ALLOWED => Error::MethodNotAllowed {
            allow: routes.allowed_methods(path),
        },
        StatusCode::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        },
        status if status.is_client_error() => Error::InvalidBody {
            message: err.to_string(),
            details: vec![],
        },
        _ => Error::Internal(anyhow::anyhow!("unhandled framework error: {err}")),
    }
}

/// Turns the routes' own failures, and panics, into `ErrorResponse`s, inside any layer (CORS)
/// that would otherwise render them as plain text.
pub struct ShapeErrors {
    routes: Arc<RouteTable>,
}

impl ShapeErrors {
    pub fn new(routes: Arc<RouteTable>) -> Self {
        Self { routes }
    }
}

impl<E: Endpoint> Middleware<E> for ShapeErrors {
    type Output = ShapeErrorsEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        ShapeErrorsEndpoint {
            inner,
            routes: self.routes.clone(),
        }
    }
}

pub struct ShapeErrorsEndpoint<E> {
    inner: E,
    routes: Arc<RouteTable>,
}

impl<E: Endpoint> Endpoint for ShapeErrorsEndpoint<E> {
    type Output = Response;

    fn call(&self, req: Request) -> impl Future<Output = poem::Result<Response>> + Send {
        let uri = req.uri().clone();
        let answer = AssertUnwindSafe(self.inner.call(req)).catch_unwind();
        async move {
            Ok(match answer.await {
                Ok(Ok(resp)) => resp.into_response(),
                Ok(Err(err)) => error_response(err, uri.path(), &self.routes),
                Err(panic) => panic_response(panic),
            })
        }
    }
}

/// CORS for browser frontends, on poem's `Cors`, when origins are configured (with none, no
/// CORS headers at all). Preflights from unlisted origins are refused (403); an actual request
/// from an unlisted origin is served without CORS headers (the browser then withholds the
/// answer), so CORS never overrides the API's own error order.
pub struct CorsLayer {
    origins: Vec<String>,
}

impl CorsLayer {
    pub fn new(origins: Vec<String>) -> Self {
        Self { origins }
    }
}

impl<E: Endpoint<Output = Response> + 'static> Middleware<E> for CorsLayer {
    type Output = CorsEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        let inner = Arc::new(inner);
        let with_cors = (!self.origins.is_empty()).then(|| {
            Cors::new()
                .allow_origins(self.origins.iter().map(String::as_str))
                .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
                .allow_headers(["authorization", "content-type", REQUEST_ID_HEADER])
                .expose_headers([
                    REQUEST_ID_HEADER,
                    "location",
                    "retry-after",
                    "www-authenticate",
                ])
                .max_age(600)
                .transform(inner.clone())
        });
        CorsEndpoint {
            with_cors,
            inner,
            origins: self.origins.clone(),
        }
    }
}

pub struct CorsEndpoint<E: Endpoint + 'static> {
    /// `None` when no origin is configured.
    with_cors: Option<<Cors as Middleware<Arc<E>>>::Output>,
    inner: Arc<E>,
    origins: Vec<String>,
}

impl<E: Endpoint<Output = Response> + 'static> Endpoint for CorsEndpoint<E> {
    type Output = Response;

    fn call(&self, req: Request) -> impl Future<Output = poem::Result<Response>> + Send {
        let preflight = || {
            req.method() == Method::OPTIONS
                && req
                    .headers()
                    .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        };
        let listed = || {
            req.headers()
                .get(header::ORIGIN)
                .and_then(|o| o.to_str().ok())
                .is_some_and(|origin| self.origins.iter().any(|o| o == origin))
        };
        match &self.with_cors {
            // Boxed: only browsers' requests take this path, and the common one stays small.
            Some(with_cors) if preflight() || listed() => {
                Either::Left(Box::pin(with_cors.call(req)))
            }
            _ => Either::Right(self.inner.call(req)),
        }
    }
}

/// Reads the body up to the limit, so an oversized body is a 413 whether or not it declared
/// its length, and handlers never see a partial one.
async fn buffer_body(req: &mut Request) -> poem::Result<()> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let body = req.take_body();
    if body.is_empty() {
        return Ok(());
    }
    match body.into_bytes_limit(MAX_BODY_BYTES).await {
        Ok(bytes) => {
            req.set_body(bytes);
            Ok(())
        }
        Err(poem::error::ReadBodyError::PayloadTooLarge) => Err(too_large()),
        Err(err) => Err(poem::Error::from_string(
            format!("could not read the request body: {err}"),
            poem::http::StatusCode::BAD_REQUEST,
        )),
    }
}

fn too_large() -> poem::Error {
    Error::PayloadTooLarge {
        limit: MAX_BODY_BYTES,
    }
    .into_poem()
}

impl Error {
    /// Wraps the finished error answer, for code that must return `poem::Error`.
    pub fn into_poem(self) -> poem::Error {
        poem::Error::from_response(self.into_response())
    }
}

/// What a panicking handler answers: a plain 500, details only in the log.
pub fn panic_response(panic: Box<dyn std::any::Any + Send>) -> Response {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    Error::Internal(anyhow::anyhow!("handler panicked: {what}")).into_response()
}

#[cfg(test)]
mod tests {
    use poem::{EndpointExt, endpoint::make_sync};

    use super::*;

    #[tokio::test]
    async fn a_panicking_route_answers_a_500_error_response() {
        let routes = make_sync(|_| -> &'static str { panic!("a bug") })
            .with(ShapeErrors::new(Arc::new(RouteTable::default())));
        let resp = routes
            .call(Request::builder().uri_str("/v1/anything").finish())
            .await
            .expect("ShapeErrors answers every failure");
        assert_eq!(resp.status(), 500);
        let body: serde_json::Value =
            serde_json::from_str(&resp.into_body().into_string().await.unwrap()).unwrap();
        assert_eq!(body["code"], "internal_error", "{body}");
        assert_eq!(body["message"], "internal server error", "{body}");
    }

    /// The index finds what a scan of every route in order finds, for each route of the API
    /// (its parameters filled in, empty too) and for paths that are no route.
    #[test]
    fn the_route_index_finds_what_a_scan_finds() {
        let table = crate::spec::Spec::offline().unwrap().route_table();
        let scan = |path: &str| {
            table.routes.iter().find(|route| {
                let given: Vec<&str> = path.split('/').collect();
                given.len() == route.segments.len()
                    && route
                        .segments
                        .iter()
                        .zip(&given)
                        .all(|(t, s)| t == s || t.starts_with('{'))
            })
        };
        let mut paths = vec![
            "/".to_owned(),
            "/nope".to_owned(),
            "/v1/organizations/acme/customers/x/y/z".to_owned(),
        ];
        for route in &table.routes {
            for value in ["acme", "", "categories", "customers"] {
                let filled: Vec<&str> = route
                    .segments
                    .iter()
                    .map(|t| {
                        if t.starts_with('{') {
                            value
                        } else {
                            t.as_str()
                        }
                    })
                    .collect();
                paths.push(filled.join("/"));
            }
        }
        assert!(table.routes.len() > 10, "the API's routes");
        for path in &paths {
            let found = table.matching(path).map(|r| r.template.as_str());
            assert_eq!(found, scan(path).map(|r| r.template.as_str()), "{path}");
        }
        let treatment = "/v1/organizations/acme/customers/c1/special-treatment";
        assert_eq!(
            table.template_of(treatment).map(|t| t.as_str()),
            Some("/v1/organizations/{org_id}/customers/{customer_id}/special-treatment")
        );
    }
}
