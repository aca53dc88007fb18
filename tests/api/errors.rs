//! The error model from every route: one JSON shape, request ids, framework failures included.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    client::{customer_path, customers_path, special_treatment_path},
    helpers::{ALL_SCOPES, ORG, assert_error, detail_fields, spawn_app, token},
};

#[tokio::test]
async fn an_unknown_route_is_a_json_404() {
    let app = spawn_app().await;
    for path in [
        "/nope",
        "/v1",
        "/v1/organizations/acme",
        "/v1/organizations/acme/customers/x/y/z",
    ] {
        let resp = app.api.request(Method::GET, path).send().await.unwrap();
        assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    }
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405_with_allow() {
    let app = spawn_app().await;
    let id = uuid::Uuid::new_v4();
    let cases = [
        (
            Method::PATCH,
            special_treatment_path(ORG, &id.to_string()),
            "GET, PUT",
        ),
        (Method::DELETE, customers_path(ORG), "POST, GET"),
        (
            Method::PUT,
            customer_path(ORG, &id.to_string()),
            "GET, DELETE",
        ),
        (Method::POST, "/healthz".to_owned(), "GET"),
    ];
    for (method, path, allow) in cases {
        let resp = app.api.request(method.clone(), &path).send().await.unwrap();
        assert_eq!(resp.headers()["allow"], allow, "{method} {path}");
        assert_error(resp, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    }
}

#[tokio::test]
async fn a_customer_id_that_is_not_a_uuid_is_an_invalid_parameter() {
    let app = spawn_app().await;
    for id in ["not-a-uuid", ""] {
        let resp = app.api.get_customer_special_treatment(ORG, id).await;
        let body = assert_error(resp, StatusCode::BAD_REQUEST, "invalid_parameter").await;
        assert_eq!(detail_fields(&body), ["customer_id"], "customer id {id:?}");
    }
}

#[tokio::test]
async fn a_malformed_org_id_is_an_invalid_parameter() {
    let app = spawn_app().await;
    let id = uuid::Uuid::new_v4().to_string();
    let too_long = "a".repeat(65);
    for org in ["-leading-dash", "with%20space", "%C3%A9", too_long.as_str()] {
        let resp = app.api.get_customer_special_treatment(org, &id).await;
        let body = assert_error(resp, StatusCode::BAD_REQUEST, "invalid_parameter").await;
        assert_eq!(detail_fields(&body), ["org_id"], "org_id {org}");
    }
    let longest = "a".repeat(64);
    let resp = app
        .api
        .with_token(&token(&[&longest], ALL_SCOPES))
        .get_customer_special_treatment(&longest, &id)
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn framework_body_failures_are_invalid_request_body() {
    let app = spawn_app().await;
    let id = app.api.new_customer(ORG).await;
    let path = special_treatment_path(ORG, &id);
    let cases: Vec<(Option<&str>, &str)> = vec![
        (Some("application/json"), "{not json"),
        (Some("application/json"), ""),
        (Some("application/json"), "{\"values\": [\"a\"]} trailing"),
        (Some("text/plain"), "{\"values\": []}"),
        (None, "{\"values\": []}"),
    ];
    for (content_type, payload) in cases {
        let mut req = app.api.request(Method::PUT, &path).body(payload.to_owned());
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let resp = req.send().await.unwrap();
        assert_error(resp, StatusCode::BAD_REQUEST, "invalid_request_body").await;
    }
    assert!(app.api.special_treatment(ORG, &id).await.is_empty());
}

#[tokio::test]
async fn a_body_over_64_kib_is_a_413_declared_or_streamed() {
    let app = spawn_app().await;
    let id = app.api.new_customer(ORG).await;
    let path = special_treatment_path(ORG, &id);
    let big = format!("{{\"values\": [\"{}\"]}}", "x".repeat(70 * 1024));

    let resp = app
        .api
        .request(Method::PUT, &path)
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_error(resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    // Chunked: no Content-Length, the limit still holds.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
        .into_bytes()
        .chunks(8192)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let resp = app
        .api
        .request(Method::PUT, &path)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_error(resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    // Just under the limit is parsed (and refused for its rules, not its size).
    let near = format!("{{\"values\": [\"{}\"]}}", "x".repeat(60 * 1024));
    let resp = app
        .api
        .request(Method::PUT, &path)
        .header("content-type", "application/json")
        .body(near)
        .send()
        .await
        .unwrap();
    assert_error(resp, StatusCode::BAD_REQUEST, "invalid_request_body").await;
}

#[tokio::test]
async fn request_ids_are_echoed_when_sane_and_generated_otherwise() {
    let app = spawn_app().await;
    let resp = app
        .api
        .request(Method::GET, "/nope")
        .header("x-request-id", "trace-123.abc")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "trace-123.abc");
    let body = assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(body["request_id"], "trace-123.abc");

    let resp = app
        .api
        .get_health()
        .header("x-request-id", "bad id with spaces")
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let generated = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(generated, "bad id with spaces");
    assert!(uuid::Uuid::parse_str(&generated).is_ok());

    let a = app.api.get_health().await;
    let b = app.api.get_health().await;
    assert_ne!(a.headers()["x-request-id"], b.headers()["x-request-id"]);
}

#[tokio::test]
async fn v1_answers_are_not_cacheable_and_probes_answer() {
    let app = spawn_app().await;
    let id = app.api.new_customer(ORG).await;
    let resp = app.api.get_customer_special_treatment(ORG, &id).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let resp = app
        .api
        .get_customer_special_treatment(ORG, "not-a-uuid")
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.headers()["cache-control"], "no-store");

    let probes = app.api.without_token();
    let resp = probes.get_health().await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"status": "ok"}));
    let resp = probes.get_readiness().await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"status": "ready"})
    );
}

#[tokio::test]
async fn a_bad_request_never_breaks_the_server() {
    let app = spawn_app().await;
    let id = app.api.new_customer(ORG).await;
    app.api.set_special_treatment(ORG, &id, &["kept"]).await;
    let path = special_treatment_path(ORG, &id);
    let nasty = [
        "{\"values\": [\"\\ud800\"]}",
        "{\"values\": 1e999}",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]",
        "\u{0}",
        "{\"values\": [\"a\"], \"values\": [\"b\", 2]}",
    ];
    for payload in nasty {
        let resp = app
            .request(Method::PUT, &path)
            .header("content-type", "application/json")
            .body(payload)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{payload}");
    }
    assert_eq!(
        app.api.special_treatment(ORG, &id).await,
        ["kept"],
        "nothing lost"
    );
}
