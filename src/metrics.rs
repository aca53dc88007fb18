//! Prometheus metrics, served at `GET /metrics` as OpenMetrics text (what `prometheus-client`
//! encodes, with its own content type), or as Prometheus' older text format 0.0.4 to a scraper
//! whose `Accept` asks for `text/plain` and not for OpenMetrics.
//!
//! Requests are labelled by method, route template (`/v1/organizations/{org_id}/...`, never a
//! raw path with ids) and status. Repository errors are counted by kind from the answer's
//! status: by contract `503` is always `service_unavailable` and `504` always
//! `repository_timeout`. Pool gauges are read at scrape time.

use std::{
    borrow::Cow,
    sync::{Arc, LazyLock},
};

use poem::{
    IntoResponse, Response, handler,
    http::{HeaderMap, Method, StatusCode, header},
    web::Data,
};
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

use crate::{
    error::{Error, ErrorCode},
    repo::Repository,
};

/// Made for every request: the method is a static string (an owned one only for a method
/// outside HTTP's standard set), the route the route table's shared template.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: Cow<'static, str>,
    route: Arc<String>,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorKindLabels {
    kind: &'static str,
}

/// The service's metrics. One per server, so tests that run servers side by side don't mix.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RequestLabels, Histogram>,
    in_flight: Gauge,
    repository_errors: Family<ErrorKindLabels, Counter>,
    pool_size: Gauge,
    pool_idle: Gauge,
    pool_waiting: Gauge,
}

/// Latency buckets in seconds: from well under a millisecond to the 5 s statement timeout.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("customers_api");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(LATENCY_BUCKETS)
        });
        let in_flight = Gauge::default();
        let repository_errors = Family::<ErrorKindLabels, Counter>::default();
        let (pool_size, pool_idle, pool_waiting) =
            (Gauge::default(), Gauge::default(), Gauge::default());
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time from receiving a request to its answer",
            latency.clone(),
        );
        registry.register(
            "http_requests_in_flight",
            "Requests being served now",
            in_flight.clone(),
        );
        registry.register(
            "repository_errors",
            "Repository failures answered: unavailable (503) or timeout (504)",
            repository_errors.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Open database connections",
            pool_size.clone(),
        );
        registry.register(
            "db_pool_idle_connections",
            "Idle database connections",
            pool_idle.clone(),
        );
        registry.register(
            "db_pool_waiting_calls",
            "Repository calls waiting for a database connection",
            pool_waiting.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            in_flight,
            repository_errors,
            pool_size,
            pool_idle,
            pool_waiting,
        }
    }
}

fn method_label(method: &Method) -> Cow<'static, str> {
    static STANDARD: [Method; 9] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
        Method::PATCH,
        Method::TRACE,
        Method::CONNECT,
    ];
    match STANDARD.iter().find(|standard| *standard == method) {
        Some(standard) => Cow::Borrowed(standard.as_str()),
        None => Cow::Owned(method.as_str().to_owned()),
    }
}

impl Metrics {
    /// Marks a request as started; the guard records it as finished when dropped.
    pub fn request_started(&self) -> InFlight<'_> {
        self.in_flight.inc();
        InFlight(&self.in_flight)
    }

    /// Counts a request answered with `status` after `seconds`; `route` is its template, `None`
    /// for a path no route serves.
    pub fn observe(
        &self,
        method: &Method,
        route: Option<&Arc<String>>,
        status: StatusCode,
        seconds: f64,
    ) {
        static UNMATCHED: LazyLock<Arc<String>> =
            LazyLock::new(|| Arc::new("unmatched".to_owned()));
        let labels = RequestLabels {
            method: method_label(method),
            route: route.unwrap_or(&UNMATCHED).clone(),
            status: status.as_u16(),
        };
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&labels).observe(seconds);
        let Some(kind) = ErrorCode::repository_kind(status) else {
            return;
        };
        self.repository_errors
            .get_or_create(&ErrorKindLabels { kind })
            .inc();
    }

    fn render(&self, repo: &Repository) -> Result<String, std::fmt::Error> {
        let pool = repo.pool_stats();
        self.pool_size.set(i64::from(pool.size));
        self.pool_idle.set(pool.idle as i64);
        self.pool_waiting.set(pool.waiting as i64);
        let mut text = String::new();
        encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// OpenMetrics 1.0.0, the format `prometheus-client` encodes: Prometheus (2.x and 3.x) asks
/// for it first in its `Accept` and parses it when the answer says so.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Prometheus' text exposition format 0.0.4, for scrapers that do not speak OpenMetrics.
pub const PROMETHEUS_TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Whether a scraper's `Accept` wants Prometheus' 0.0.4 text rather than OpenMetrics: it names
/// `text/plain` and not `application/openmetrics-text`. No `Accept`, or `*/*`: OpenMetrics.
fn wants_prometheus_text(accept: Option<&str>) -> bool {
    accept.is_some_and(|accept| {
        let accept = accept.to_ascii_lowercase();
        accept.contains("text/plain") && !accept.contains("application/openmetrics-text")
    })
}

/// OpenMetrics text rewritten as Prometheus 0.0.4 text. The samples are the same; what differs
/// is the metadata: a counter family `x` is declared as `x_total` (the name of its samples),
/// and there is no `# EOF` line (nor `# UNIT`, which `prometheus-client` writes only for
/// metrics registered with a unit; there are none).
fn openmetrics_to_prometheus_text(openmetrics: &str) -> String {
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut text = String::with_capacity(openmetrics.len() + 16 * counters.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let metadata = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|prefix| Some((prefix, line.strip_prefix(prefix)?)));
        if let Some((prefix, rest)) = metadata {
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            if counters.contains(&name) {
                text.push_str(prefix);
                text.push_str(name);
                text.push_str("_total ");
                text.push_str(tail);
                text.push('\n');
                continue;
            }
        }
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// Decrements the in-flight gauge when the request is done, however it ends.
pub struct InFlight<'a>(&'a Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Who may scrape: anyone, unless a bearer token is configured for `/metrics`.
#[derive(Clone, Default)]
pub struct MetricsAccess {
    pub token: Option<String>,
}

#[handler]
pub fn metrics_endpoint(
    metrics: Data<&Arc<Metrics>>,
    repo: Data<&Repository>,
    access: Data<&MetricsAccess>,
    headers: &HeaderMap,
) -> Response {
    if let Some(expected) = &access.token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !presented.is_some_and(|p| constant_time_eq(p.as_bytes(), expected.as_bytes())) {
            return Error::Unauthorized {
                message: "/metrics needs the configured METRICS_TOKEN as a bearer token".to_owned(),
                token_presented: presented.is_some(),
            }
            .into_response();
        }
    }
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    match metrics.render(&repo) {
        // The answer depends on `Accept`: a cache between scraper and server must know.
        Ok(text) if wants_prometheus_text(accept) => openmetrics_to_prometheus_text(&text)
            .with_content_type(PROMETHEUS_TEXT_CONTENT_TYPE)
            .with_header(header::VARY, "accept")
            .into_response(),
        Ok(text) => text
            .with_content_type(OPENMETRICS_CONTENT_TYPE)
            .with_header(header::VARY, "accept")
            .into_response(),
        Err(e) => Error::Internal(anyhow::anyhow!("encoding metrics: {e}")).into_response(),
    }
}

/// Compares secrets without revealing, through timing, how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_picks_the_format() {
        let prometheus = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert!(!wants_prometheus_text(Some(prometheus)));
        assert!(!wants_prometheus_text(None));
        assert!(!wants_prometheus_text(Some("*/*")));
        assert!(wants_prometheus_text(Some("text/plain;version=0.0.4")));
        assert!(wants_prometheus_text(Some("Text/Plain")));
    }

    #[test]
    fn counters_are_declared_by_their_sample_name_in_prometheus_text() {
        let openmetrics = "# HELP a_requests Requests.\n# TYPE a_requests counter\na_requests_total{x=\"1\"} 2\n# HELP a_open Open.\n# TYPE a_open gauge\na_open 1\n# EOF\n";
        assert_eq!(
            openmetrics_to_prometheus_text(openmetrics),
            "# HELP a_requests_total Requests.\n# TYPE a_requests_total counter\na_requests_total{x=\"1\"} 2\n# HELP a_open Open.\n# TYPE a_open gauge\na_open 1\n"
        );
    }
}
