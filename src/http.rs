//! The middleware every request passes through, whatever route it hits.
//!
//! It gives each request an id (an incoming sane `X-Request-Id` is kept), bounds the body at
//! [`MAX_BODY_BYTES`], turns every failure the framework produces on its own (unknown route,
//! wrong method, extractor errors, panics) into the same `ErrorResponse` JSON as the handlers'
//! errors, marks `/v1` answers `Cache-Control: no-store`, and logs one line per request.

use std::{sync::Arc, time::Instant};

use poem::{
    Endpoint, IntoResponse, Middleware, Request, Response,
    http::{HeaderValue, header},
};

use crate::error::Error;

/// Request bodies above this size are refused with 413 before anything else looks at them.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served, for error bodies and logs.
pub fn current_request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "none".to_owned())
}

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
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// The methods each path answers, for the `Allow` header of a 405.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<(Vec<String>, Vec<String>)>,
}

impl RouteTable {
    /// `template` uses `{name}` for a path parameter, as the OpenAPI document does.
    pub fn add(&mut self, template: &str, method: &str) {
        let segments: Vec<String> = template.split('/').map(str::to_owned).collect();
        let method = method.to_ascii_uppercase();
        match self.routes.iter_mut().find(|(s, _)| *s == segments) {
            Some((_, methods)) => methods.push(method),
            None => self.routes.push((segments, vec![method])),
        }
    }

    fn matching(&self, path: &str) -> Option<&(Vec<String>, Vec<String>)> {
        let segments: Vec<&str> = path.split('/').collect();
        self.routes.iter().find(|(template, _)| {
            template.len() == segments.len()
                && template
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()))
        })
    }

    /// The `Allow` header value for `path`.
    pub fn allowed_methods(&self, path: &str) -> String {
        self.matching(path)
            .map(|(_, methods)| methods.join(", "))
            .unwrap_or_default()
    }

    /// poem-openapi names path parameters `param0`, `param1`, ... in its errors; this is the
    /// documented name of the `index`th one of `path`.
    pub fn path_parameter_name(&self, path: &str, index: usize) -> Option<String> {
        let (template, _) = self.matching(path)?;
        template
            .iter()
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .nth(index)
            .map(str::to_owned)
    }
}

/// See the module documentation.
pub struct RequestContext {
    routes: Arc<RouteTable>,
}

impl RequestContext {
    pub fn new(routes: RouteTable) -> Self {
        Self {
            routes: Arc::new(routes),
        }
    }
}

impl<E: Endpoint> Middleware<E> for RequestContext {
    type Output = RequestContextEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RequestContextEndpoint {
            inner,
            routes: self.routes.clone(),
        }
    }
}

pub struct RequestContextEndpoint<E> {
    inner: E,
    routes: Arc<RouteTable>,
}

impl<E: Endpoint> Endpoint for RequestContextEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let request_id = request_id_of(&req);
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let mut resp = REQUEST_ID
            .scope(request_id.clone(), async {
                let result = match buffer_body(&mut req).await {
                    Ok(()) => self.inner.call(req).await.map(IntoResponse::into_response),
                    Err(err) => Err(err),
                };
                match result {
                    Ok(resp) => resp,
                    // Typed errors from handlers and the auth checker are already ErrorResponses.
                    Err(err) if err.is_from_response() => err.into_response(),
                    Err(err) => Error::from_poem(err, &path, &self.routes).into_response(),
                }
            })
            .await;

        let headers = resp.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            headers.insert(REQUEST_ID_HEADER, value);
        }
        if path == "/v1" || path.starts_with("/v1/") {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        tracing::info!(
            %method,
            %path,
            status = resp.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            request_id = %request_id,
            "request"
        );
        Ok(resp)
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
