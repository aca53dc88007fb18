//! The committed `openapi.yaml` is exactly what the server generates and serves.

use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::spawn_app;

const COMMITTED: &str = include_str!("../../openapi.yaml");
const REGENERATE: &str = "cargo run -- openapi > openapi.yaml";

#[test]
fn the_committed_document_is_what_the_code_generates() {
    let generated = customers_api::spec::Spec::offline()
        .expect("the document generates")
        .yaml;
    assert!(
        generated == COMMITTED,
        "openapi.yaml is out of date with the code; regenerate it with `{REGENERATE}`"
    );
}

#[test]
fn the_openapi_subcommand_prints_the_committed_document() {
    let output = Command::new(env!("CARGO_BIN_EXE_customers-api"))
        .arg("openapi")
        .output()
        .expect("run customers-api openapi");
    assert!(output.status.success());
    assert_eq!(String::from_utf8(output.stdout).unwrap(), COMMITTED);
}

#[tokio::test]
async fn the_server_serves_the_committed_document_as_yaml_and_json() {
    let app = spawn_app().await;
    let resp = app
        .anonymous(Method::GET, "/openapi.yaml")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/yaml")
    );
    assert_eq!(resp.text().await.unwrap(), COMMITTED);

    let resp = app
        .anonymous(Method::GET, "/openapi.json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let json: Value = resp.json().await.unwrap();
    let yaml: Value = serde_yaml::from_str(COMMITTED).unwrap();
    assert_eq!(json, yaml, "the JSON and YAML documents say the same");
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client.get(app.url("/docs")).send().await.unwrap();
    assert!(resp.status().is_redirection());
    assert_eq!(resp.headers()["location"], "/docs/");

    let resp = app.anonymous(Method::GET, "/docs/").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains("swagger-ui"));
    assert!(!html.contains("https://"), "no asset comes from a CDN");

    let init = app
        .anonymous(Method::GET, "/docs/swagger-initializer.js")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("/openapi.json"));
    let bundle = app
        .anonymous(Method::GET, "/docs/swagger-ui-bundle.js")
        .send()
        .await
        .unwrap();
    assert_eq!(bundle.status(), StatusCode::OK);
    let missing = app
        .anonymous(Method::GET, "/docs/nope.js")
        .send()
        .await
        .unwrap();
    crate::helpers::assert_error(missing, StatusCode::NOT_FOUND, "not_found").await;
}

fn document() -> Value {
    serde_yaml::from_str(COMMITTED).unwrap()
}

#[test]
fn schemas_are_named_as_the_seed_names_them_and_carry_the_rules() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["CustomerSpecialTreatment"]["allOf"][0]["$ref"],
        "#/components/schemas/SpecialTreatmentValues"
    );
    let values = &schemas["SpecialTreatmentValues"];
    assert_eq!(values["additionalProperties"], false);
    let list = &values["properties"]["values"];
    assert_eq!(list["maxItems"], 32);
    assert_eq!(list["uniqueItems"], true);
    assert_eq!(list["nullable"], true);
    assert_eq!(list["items"]["minLength"], 1);
    assert_eq!(list["items"]["maxLength"], 64);
    assert!(list["items"]["pattern"].is_string());
    assert_eq!(schemas["NewCustomer"]["additionalProperties"], false);
    assert_eq!(
        schemas["Customer"]["properties"]["display_name"]["nullable"],
        true
    );
    assert!(
        schemas["ErrorResponse"]["required"]
            .as_array()
            .unwrap()
            .len()
            == 3
    );
}

#[test]
fn every_operation_documents_its_statuses_tags_and_security() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.0.0");
    assert_eq!(doc["info"]["title"], "Customers API");
    let scheme = &doc["components"]["securitySchemes"]["BearerAuth"];
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(scheme["bearerFormat"], "JWT");
    let mut operation_ids = Vec::new();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, op) in operations.as_object().unwrap() {
            let id = op["operationId"].as_str().expect("operationId");
            operation_ids.push(id.to_owned());
            assert!(
                op["summary"].is_string() && op["description"].is_string(),
                "{id}"
            );
            if path.starts_with("/v1") {
                assert!(op["security"].is_array(), "{id} declares bearer security");
                for status in ["400", "401", "403", "404", "500", "503", "504"] {
                    assert!(
                        op["responses"][status].is_object(),
                        "{method} {path} documents {status}"
                    );
                }
            }
        }
    }
    for (path, method, tag) in [
        (
            "/v1/organizations/{org_id}/customers/{customer_id}/special-treatment",
            "get",
            "Special Treatment",
        ),
        (
            "/v1/organizations/{org_id}/customers/{customer_id}/special-treatment",
            "put",
            "Special Treatment",
        ),
        ("/v1/organizations/{org_id}/customers", "post", "Customers"),
    ] {
        assert_eq!(doc["paths"][path][method]["tags"][0], tag);
    }
    let unique: std::collections::HashSet<_> = operation_ids.iter().collect();
    assert_eq!(unique.len(), operation_ids.len(), "operationIds are unique");
}

#[test]
fn each_error_response_has_an_example_of_its_own_code() {
    let doc = document();
    let expected = [
        ("400", "invalid_request_body"),
        ("401", "unauthorized"),
        ("403", "forbidden"),
        ("404", "not_found"),
        ("409", "conflict"),
        ("413", "payload_too_large"),
        ("500", "internal_error"),
        ("503", "service_unavailable"),
        ("504", "repository_timeout"),
    ];
    let put = &doc["paths"]["/v1/organizations/{org_id}/customers/{customer_id}/special-treatment"]
        ["put"];
    for (status, code) in expected {
        let example = &put["responses"][status]["content"]["application/json"]["example"];
        assert_eq!(example["code"], code, "example of {status}");
    }
}
