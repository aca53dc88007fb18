//! Operating the service: metrics, request logs, CORS, several replicas on one database.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, TransactionTrait};
use serde_json::{Value, json};

use crate::{
    helpers::{
        ORG, SECRET, TestApp, TestDb, assert_error, postgres_or_skip, spawn_app, spawn_app_with,
        token,
    },
    process::ServerProcess,
};

const TREATMENT_ROUTE: &str =
    "/v1/organizations/{org_id}/customers/{customer_id}/special-treatment";

async fn scrape(app: &TestApp) -> String {
    let resp = app.anonymous(Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], OPENMETRICS);
    resp.text().await.unwrap()
}

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// What Prometheus 2.x/3.x sends when it scrapes.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// The value of the sample whose name and labels are exactly `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        line.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_status() {
    let app = spawn_app().await;
    let id = app.customer_id().await;
    app.put_treatment(&id, json!({"values": ["vip"]})).await;
    app.get_treatment(&id).await;
    app.get_treatment(&id).await;
    app.get_treatment(&uuid::Uuid::new_v4().to_string()).await;
    app.anonymous(Method::GET, "/no/such/route")
        .send()
        .await
        .unwrap();

    let text = scrape(&app).await;
    let get_ok = format!(
        "customers_api_http_requests_total{{method=\"GET\",route=\"{TREATMENT_ROUTE}\",status=\"200\"}}"
    );
    assert_eq!(sample(&text, &get_ok), Some(2.0), "{text}");
    let get_missing = get_ok.replace("\"200\"", "\"404\"");
    assert_eq!(sample(&text, &get_missing), Some(1.0));
    let put_ok = get_ok.replace("GET", "PUT").replace("\"200\"", "\"204\"");
    assert_eq!(sample(&text, &put_ok), Some(1.0));
    let created = "customers_api_http_requests_total{method=\"POST\",route=\"/v1/organizations/{org_id}/customers\",status=\"201\"}";
    assert_eq!(sample(&text, created), Some(1.0));
    let unmatched =
        "customers_api_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}";
    assert_eq!(sample(&text, unmatched), Some(1.0));

    let histogram_count = format!(
        "customers_api_http_request_duration_seconds_count{{method=\"GET\",route=\"{TREATMENT_ROUTE}\",status=\"200\"}}"
    );
    assert_eq!(sample(&text, &histogram_count), Some(2.0));
    // The scrape itself is in flight while it renders.
    assert_eq!(
        sample(&text, "customers_api_http_requests_in_flight"),
        Some(1.0)
    );
    assert!(sample(&text, "customers_api_db_pool_connections").is_some_and(|n| n >= 1.0));
    assert!(sample(&text, "customers_api_db_pool_idle_connections").is_some());
    assert_eq!(
        sample(&text, "customers_api_db_pool_waiting_calls"),
        Some(0.0)
    );
    assert!(!text.contains(&id), "no raw ids in metric labels");
}

/// `/metrics` says which format its body is in, and a strict parser of that format finds the
/// samples: OpenMetrics for Prometheus' own `Accept` (and by default), Prometheus text 0.0.4
/// for a scraper that asks for `text/plain` only. (The body used to be OpenMetrics labelled
/// `text/plain; version=0.0.4`: a Prometheus-text parser found no counter samples in it.)
#[tokio::test]
async fn metrics_are_served_in_the_format_the_content_type_names() {
    use openmetrics_parser::{
        OpenMetricsType, OpenMetricsValue, PrometheusType, PrometheusValue,
        openmetrics::parse_openmetrics, prometheus::parse_prometheus,
    };

    let app = spawn_app().await;
    app.anonymous(Method::GET, "/healthz").send().await.unwrap();
    let labels = |names: &[String]| -> Vec<String> {
        names
            .iter()
            .map(|name| match name.as_str() {
                "method" => "GET".to_owned(),
                "route" => "/healthz".to_owned(),
                "status" => "200".to_owned(),
                other => panic!("unexpected label {other}"),
            })
            .collect()
    };
    let get = |accept: &'static str| {
        let request = app.anonymous(Method::GET, "/metrics");
        async move {
            let request = match accept {
                "" => request,
                accept => request.header("accept", accept),
            };
            let resp = request.send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
            (content_type, resp.text().await.unwrap())
        }
    };

    for accept in [PROMETHEUS_ACCEPT, "", "*/*"] {
        let (content_type, body) = get(accept).await;
        assert_eq!(content_type, OPENMETRICS, "Accept: {accept:?}");
        let parsed =
            parse_openmetrics(&body).unwrap_or_else(|e| panic!("not OpenMetrics ({e:?}):\n{body}"));
        let family = &parsed.families["customers_api_http_requests"];
        assert_eq!(family.family_type, OpenMetricsType::Counter);
        let sample = family
            .get_sample_by_label_values(&labels(family.get_label_names()))
            .expect("the /healthz sample");
        let OpenMetricsValue::Counter(counter) = &sample.value else {
            panic!("a counter: {:?}", sample.value);
        };
        assert!(counter.value.as_f64() >= 1.0);
        let histogram = &parsed.families["customers_api_http_request_duration_seconds"];
        assert_eq!(histogram.family_type, OpenMetricsType::Histogram);
    }

    let (content_type, body) = get("text/plain;version=0.0.4").await;
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let parsed =
        parse_prometheus(&body).unwrap_or_else(|e| panic!("not Prometheus text ({e:?}):\n{body}"));
    let family = &parsed.families["customers_api_http_requests_total"];
    assert_eq!(family.family_type, PrometheusType::Counter);
    let sample = family
        .get_sample_by_label_values(&labels(family.get_label_names()))
        .expect("the /healthz sample");
    let PrometheusValue::Counter(counter) = &sample.value else {
        panic!("a counter: {:?}", sample.value);
    };
    assert!(counter.value.as_f64() >= 1.0);
    assert_eq!(
        parsed.families["customers_api_http_requests_in_flight"].family_type,
        PrometheusType::Gauge
    );
}

#[tokio::test]
async fn repository_timeouts_are_counted_by_kind() {
    let app = spawn_app_with(|s| s.repo.statement_timeout = Duration::from_millis(300)).await;
    let id = app.customer_id().await;
    // Another connection holds the customer's row (SQLite: the write lock) in an open
    // transaction, so the PUTs wait past the statement timeout.
    let locker = Database::connect(&app.settings.repo.database_url)
        .await
        .unwrap();
    let txn = locker.begin().await.unwrap();
    txn.execute_unprepared("UPDATE customers SET display_name = 'locked'")
        .await
        .unwrap();
    for _ in 0..2 {
        let resp = app.put_treatment(&id, json!({"values": ["vip"]})).await;
        assert_error(resp, StatusCode::GATEWAY_TIMEOUT, "repository_timeout").await;
    }
    txn.rollback().await.unwrap();
    let text = scrape(&app).await;
    assert_eq!(
        sample(
            &text,
            "customers_api_repository_errors_total{kind=\"timeout\"}"
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "customers_api_repository_errors_total{kind=\"unavailable\"}"
        ),
        None
    );
}

#[tokio::test]
async fn metrics_can_require_a_token() {
    let app = spawn_app_with(|s| s.metrics_token = Some("scrape-secret".to_owned())).await;
    let resp = app.anonymous(Method::GET, "/metrics").send().await.unwrap();
    assert_error(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let resp = app
        .anonymous(Method::GET, "/metrics")
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_error(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let resp = app
        .anonymous(Method::GET, "/metrics")
        .bearer_auth("scrape-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

const FRONTEND: &str = "https://app.example.com";

#[tokio::test]
async fn cors_preflight_is_answered_for_a_listed_origin_and_refused_otherwise() {
    let app = spawn_app_with(|s| s.cors_allowed_origins = vec![FRONTEND.to_owned()]).await;
    let path = TestApp::treatment_path(ORG, &uuid::Uuid::new_v4().to_string());
    let preflight = |origin: &str| {
        app.anonymous(Method::OPTIONS, &path)
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
    };

    let resp = preflight(FRONTEND).send().await.unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let headers = resp.headers();
    assert_eq!(headers["access-control-allow-origin"], FRONTEND);
    let methods = headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_ascii_uppercase();
    for method in ["GET", "PUT", "POST", "DELETE"] {
        assert!(methods.contains(method), "{methods}");
    }
    let allowed = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("content-type"),
        "{allowed}"
    );
    assert!(headers.contains_key("x-request-id"));

    let resp = preflight("https://evil.example.net").send().await.unwrap();
    assert!(!resp.headers().contains_key("access-control-allow-origin"));
    assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;

    // Actual requests: the listed origin gets CORS headers exposing X-Request-Id.
    let id = app.customer_id().await;
    let resp = app
        .request(Method::GET, &TestApp::treatment_path(ORG, &id))
        .header("origin", FRONTEND)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["access-control-allow-origin"], FRONTEND);
    let exposed = resp.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("x-request-id"), "{exposed}");

    // An unlisted origin is served as usual, without CORS headers: the browser withholds it,
    // and the API's own error order (401 first) is unchanged.
    let resp = app
        .anonymous(Method::GET, &TestApp::treatment_path(ORG, &id))
        .header("origin", "https://evil.example.net")
        .send()
        .await
        .unwrap();
    assert!(!resp.headers().contains_key("access-control-allow-origin"));
    assert_error(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn without_cors_configured_there_are_no_cors_headers() {
    let app = spawn_app().await;
    let path = TestApp::treatment_path(ORG, &uuid::Uuid::new_v4().to_string());
    let resp = app
        .anonymous(Method::OPTIONS, &path)
        .header("origin", FRONTEND)
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(!resp.headers().contains_key("access-control-allow-origin"));
    assert_error(resp, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

#[tokio::test]
async fn two_replicas_started_at_once_on_one_postgresql_database_both_serve() {
    let Some((db, url)) = postgres_or_skip("replicas share one database").await else {
        return;
    };
    // Both start before either has migrated the fresh database.
    let (first, second) = tokio::join!(
        ServerProcess::start(&url, &[]),
        ServerProcess::start(&url, &[])
    );

    let created: Value = first
        .request(Method::POST, &format!("/v1/organizations/{ORG}/customers"))
        .json(&json!({"external_id": "shared"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let resp = second
        .request(Method::PUT, &TestApp::treatment_path(ORG, id))
        .json(&json!({"values": ["vip"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let read: Value = first
        .request(Method::GET, &TestApp::treatment_path(ORG, id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read, json!({"values": ["vip"]}));
    drop((first, second));
    drop(db);
}

#[tokio::test]
async fn json_logs_have_one_line_per_request_with_route_actor_and_no_secrets() {
    let (db, url) = TestDb::create().await;
    let server = ServerProcess::start(&url, &[]).await;
    let created: Value = server
        .request(Method::POST, &format!("/v1/organizations/{ORG}/customers"))
        .header("x-request-id", "log-test-1")
        .json(&json!({"external_id": "secret-external-id", "display_name": "Secret Name"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(created["id"].is_string());
    let request_line = server
        .wait_for_log_line(|l| l["message"] == "request" && l["request_id"] == "log-test-1")
        .await;
    let logs = server.log();
    drop(server);
    drop(db);

    for line in logs.lines() {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
    assert_eq!(request_line["method"], "POST");
    assert_eq!(
        request_line["route"],
        "/v1/organizations/{org_id}/customers"
    );
    assert_eq!(request_line["status"], 201);
    assert_eq!(request_line["actor"], "tester");
    assert!(request_line["latency_ms"].is_number());
    let token = token(&[ORG], crate::helpers::ALL_SCOPES);
    for secret in [token.as_str(), "secret-external-id", "Secret Name", SECRET] {
        assert!(!logs.contains(secret), "the logs contain {secret:?}");
    }
}

/// The README's configuration table and `--help` name the same flags, variables and defaults.
#[test]
fn the_readme_configuration_table_matches_help() {
    let readme = include_str!("../../README.md");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_customers-api"))
        .arg("--help")
        .output()
        .expect("run customers-api --help");
    let help = String::from_utf8(output.stdout).unwrap();
    let rows: Vec<&str> = readme
        .lines()
        .filter(|line| line.starts_with("| `--"))
        .collect();
    assert!(rows.len() >= 14, "the configuration table is in the README");
    for row in rows {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let names: Vec<&str> = cells[1].split(" / ").map(|n| n.trim_matches('`')).collect();
        let (flag, variable) = (names[0], names[1]);
        assert!(help.contains(&format!("{flag} <")), "--help lists {flag}");
        assert!(
            help.contains(&format!("[env: {variable}")),
            "--help names {variable}"
        );
        let default = cells[2].replace('`', "");
        if default != "unset" && default != "empty" {
            assert!(
                help.contains(&format!("[default: {default}]")),
                "--help gives {flag}'s default {default}"
            );
        }
    }
    assert!(help.contains("RUST_LOG") && readme.contains("| `RUST_LOG` |"));
}
