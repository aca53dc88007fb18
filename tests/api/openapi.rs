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

/// Every `allOf` member is a reference or a schema of its own: poem-openapi's
/// `allOf: [$ref, {description}]` for a described field of an enum type made
/// openapi-python-client drop `IdentificationProcess` and `IdentificationProcessPage` ("Cannot
/// take allOf a non-object"), leaving the Python client's identification operations untyped.
#[test]
fn no_all_of_member_only_repeats_its_schema() {
    fn walk(value: &Value, at: &str, found: &mut Vec<String>) {
        match value {
            Value::Object(schema) => {
                for (i, member) in schema
                    .get("allOf")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    if let Some(member) = member.as_object()
                        && !member.contains_key("$ref")
                        && member
                            .iter()
                            .all(|(key, value)| schema.get(key) == Some(value))
                    {
                        found.push(format!("{at}/allOf/{i}"));
                    }
                }
                for (key, value) in schema {
                    walk(value, &format!("{at}/{key}"), found);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &format!("{at}/{i}"), found);
                }
            }
            _ => {}
        }
    }
    let doc = document();
    let mut found = Vec::new();
    walk(&doc, "", &mut found);
    assert!(
        found.is_empty(),
        "allOf members that only repeat their schema: {found:?}"
    );
    let process = &doc["components"]["schemas"]["IdentificationProcess"]["properties"];
    for (field, schema) in [
        ("method", "IdentificationMethod"),
        ("status", "IdentificationStatus"),
    ] {
        assert_eq!(
            process[field]["allOf"],
            serde_json::json!([{"$ref": format!("#/components/schemas/{schema}")}]),
            "{field}"
        );
        assert!(
            process[field]["description"].is_string(),
            "{field} keeps its description"
        );
    }
}

#[test]
fn every_operation_has_its_metadata_tag_and_security() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.0.0");
    assert_eq!(doc["info"]["title"], "Customers API");
    let scheme = &doc["components"]["securitySchemes"]["BearerAuth"];
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(scheme["bearerFormat"], "JWT");
    let mut operation_ids = Vec::new();
    for (path, method, op) in operations(&doc) {
        let id = op["operationId"].as_str().expect("operationId");
        operation_ids.push(id.to_owned());
        assert!(
            op["summary"].is_string() && op["description"].is_string(),
            "{id}"
        );
        assert_eq!(
            op["tags"].as_array().map(Vec::len),
            Some(1),
            "{id}: one tag"
        );
        if path.starts_with("/v1") {
            assert!(
                op["security"].is_array(),
                "{method} {path} declares bearer security"
            );
        } else {
            assert!(
                op["security"].is_null(),
                "{method} {path} is unauthenticated"
            );
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
        ("/readyz", "get", "Service"),
    ] {
        assert_eq!(doc["paths"][path][method]["tags"][0], tag);
    }
    let unique: std::collections::HashSet<_> = operation_ids.iter().collect();
    assert_eq!(unique.len(), operation_ids.len(), "operationIds are unique");
}

/// Every operation in the document as (path, method, operation).
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut all = Vec::new();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, op) in operations.as_object().unwrap() {
            all.push((path.clone(), method.clone(), op));
        }
    }
    all
}

/// The error statuses an operation documents, ascending.
fn error_statuses(op: &Value) -> Vec<u16> {
    op["responses"]
        .as_object()
        .unwrap()
        .keys()
        .map(|status| status.parse::<u16>().expect("numeric status"))
        .filter(|status| *status >= 400)
        .collect()
}

/// What each operation can answer besides its success, stated apart from the code's tables
/// (`src/api/<resource>.rs`) so that a change to either shows up here. Each operation answers
/// 400 for a bad parameter or body, 401 and 403 under /v1, 404 for a customer named in the
/// path that is not there, 409 for a rule it can break, 413 for a body over the limit, and
/// 500/503/504 when it touches the database.
const EXPECTED_ERRORS: &[(&str, &[u16])] = &[
    ("createCustomer", &[400, 401, 403, 409, 413, 500, 503, 504]),
    ("listCustomers", &[400, 401, 403, 500, 503, 504]),
    ("getCustomer", &[400, 401, 403, 404, 500, 503, 504]),
    ("getCustomerHistory", &[400, 401, 403, 404, 500, 503, 504]),
    ("deleteCustomer", &[400, 401, 403, 404, 409, 500, 503, 504]),
    // 409: never answered, but the original API document lists it (see below).
    (
        "getCustomerSpecialTreatment",
        &[400, 401, 403, 404, 409, 500, 503, 504],
    ),
    (
        "setCustomerSpecialTreatment",
        &[400, 401, 403, 404, 413, 500, 503, 504],
    ),
    ("putCategory", &[400, 401, 403, 413, 500, 503, 504]),
    ("listCategories", &[400, 401, 403, 500, 503, 504]),
    ("getCategory", &[400, 401, 403, 404, 500, 503, 504]),
    ("deleteCategory", &[400, 401, 403, 404, 409, 500, 503, 504]),
    (
        "listCategoryCustomers",
        &[400, 401, 403, 404, 500, 503, 504],
    ),
    (
        "getCustomerCategories",
        &[400, 401, 403, 404, 500, 503, 504],
    ),
    (
        "setCustomerCategories",
        &[400, 401, 403, 404, 413, 500, 503, 504],
    ),
    (
        "createIdentificationProcess",
        &[400, 401, 403, 404, 409, 413, 500, 503, 504],
    ),
    (
        "listIdentificationProcesses",
        &[400, 401, 403, 404, 500, 503, 504],
    ),
    (
        "getIdentificationProcess",
        &[400, 401, 403, 404, 500, 503, 504],
    ),
    (
        "submitIdentificationProcess",
        &[400, 401, 403, 404, 409, 500, 503, 504],
    ),
    (
        "cancelIdentificationProcess",
        &[400, 401, 403, 404, 409, 500, 503, 504],
    ),
    (
        "startIdentificationReview",
        &[400, 401, 403, 404, 409, 500, 503, 504],
    ),
    (
        "approveIdentificationProcess",
        &[400, 401, 403, 404, 409, 500, 503, 504],
    ),
    (
        "rejectIdentificationProcess",
        &[400, 401, 403, 404, 409, 413, 500, 503, 504],
    ),
    (
        "createExternalAccount",
        &[400, 401, 403, 404, 409, 413, 500, 503, 504],
    ),
    ("listExternalAccounts", &[400, 401, 403, 404, 500, 503, 504]),
    ("lookupExternalAccounts", &[400, 401, 403, 500, 503, 504]),
    ("getExternalAccount", &[400, 401, 403, 404, 500, 503, 504]),
    // 409: `closed` is final.
    (
        "updateExternalAccount",
        &[400, 401, 403, 404, 409, 413, 500, 503, 504],
    ),
    (
        "deleteExternalAccount",
        &[400, 401, 403, 404, 500, 503, 504],
    ),
    (
        "revealExternalAccountIdentification",
        &[400, 401, 403, 404, 500, 503, 504],
    ),
    (
        "listCustomerCredentials",
        &[400, 401, 403, 404, 500, 503, 504],
    ),
    // 409: one credential per type per customer.
    (
        "createCustomerCredential",
        &[400, 401, 403, 404, 409, 413, 500, 503, 504],
    ),
    (
        "getCustomerCredential",
        &[400, 401, 403, 404, 500, 503, 504],
    ),
    // 409: a status on a locked credential.
    (
        "updateCustomerCredential",
        &[400, 401, 403, 404, 409, 413, 500, 503, 504],
    ),
    (
        "deleteCustomerCredential",
        &[400, 401, 403, 404, 500, 503, 504],
    ),
    (
        "setCustomerCredentialSecret",
        &[400, 401, 403, 404, 413, 500, 503, 504],
    ),
    (
        "verifyCustomerCredential",
        &[400, 401, 403, 404, 413, 500, 503, 504],
    ),
    ("getHealth", &[]),
    ("getReadiness", &[500, 503, 504]),
];

/// Statuses documented only because the original API document lists them: the code never
/// answers them, and their description says so.
const RESERVED: &[(&str, u16)] = &[("getCustomerSpecialTreatment", 409)];

#[test]
fn each_operation_documents_exactly_the_errors_it_can_answer() {
    let doc = document();
    let ops = operations(&doc);
    assert_eq!(
        ops.len(),
        EXPECTED_ERRORS.len(),
        "every operation is in EXPECTED_ERRORS and no other"
    );
    for (path, method, op) in ops {
        let id = op["operationId"].as_str().unwrap();
        let expected = EXPECTED_ERRORS
            .iter()
            .find(|(known, _)| *known == id)
            .unwrap_or_else(|| panic!("{id} is missing from EXPECTED_ERRORS"))
            .1;
        let documented = error_statuses(op);
        assert_eq!(documented, expected, "{method} {path} ({id})");

        // The same sets, derived from the operation's shape: the contract's floor, and a
        // ceiling of what its parameters, body and security make possible.
        let v1 = path.starts_with("/v1");
        let has_body = op["requestBody"].is_object();
        let has_parameters = op["parameters"].as_array().is_some_and(|p| !p.is_empty());
        // A path that names a customer or a category, which may not exist; a PUT that
        // creates what its path names answers no 404.
        let creates_at_path = ["putCategory"];
        let names_a_resource = (path.contains("{customer_id}") || path.contains("{key}"))
            && !creates_at_path.contains(&id);
        let touches_database = id != "getHealth";
        let mut floor = Vec::new();
        if has_body || has_parameters {
            floor.push(400);
        }
        if v1 {
            floor.extend([401, 403]);
        }
        if names_a_resource {
            floor.push(404);
        }
        if has_body {
            floor.push(413);
        }
        if touches_database {
            floor.extend([500, 503, 504]);
        }
        let reserved: Vec<u16> = RESERVED
            .iter()
            .filter(|(op, _)| *op == id)
            .map(|(_, status)| *status)
            .collect();
        let with_conflict_rule = [
            "createCustomer",
            "deleteCustomer",
            "deleteCategory",
            "createIdentificationProcess",
            "submitIdentificationProcess",
            "cancelIdentificationProcess",
            "startIdentificationReview",
            "approveIdentificationProcess",
            "rejectIdentificationProcess",
            "createExternalAccount",
            "updateExternalAccount",
            "createCustomerCredential",
            "updateCustomerCredential",
        ];
        for status in &documented {
            let possible = floor.contains(status)
                || (*status == 409 && with_conflict_rule.contains(&id))
                || reserved.contains(status);
            assert!(possible, "{id} documents {status}, which it cannot answer");
        }
        for status in &floor {
            assert!(documented.contains(status), "{id} must document {status}");
        }
        for status in &reserved {
            let description = op["responses"][status.to_string()]["description"]
                .as_str()
                .unwrap();
            assert!(
                description.starts_with("Not answered by this version"),
                "{id}'s {status} says it is never answered: {description}"
            );
        }
    }
}

#[test]
fn the_original_documents_lists_are_the_floor_of_its_operations() {
    let doc = document();
    let path = "/v1/organizations/{org_id}/customers/{customer_id}/special-treatment";
    let statuses = |method: &str| -> Vec<u16> {
        let op = &doc["paths"][path][method];
        op["responses"]
            .as_object()
            .unwrap()
            .keys()
            .map(|s| s.parse().unwrap())
            .collect()
    };
    let get = statuses("get");
    for status in [200, 400, 401, 403, 404, 409, 500, 503, 504] {
        assert!(
            get.contains(&status),
            "GET special treatment lists {status}"
        );
    }
    let put = statuses("put");
    for status in [204, 400, 401, 403, 404, 500, 413, 503, 504] {
        assert!(
            put.contains(&status),
            "PUT special treatment lists {status}"
        );
    }
}

#[test]
fn error_descriptions_are_about_their_operation() {
    let doc = document();
    let op = |path: &str, method: &str| doc["paths"][path][method].clone();
    let customer = op("/v1/organizations/{org_id}/customers/{customer_id}", "get");
    assert_eq!(
        customer["responses"]["404"]["description"],
        "Customer not found in this organization (`not_found`)."
    );
    let list = op("/v1/organizations/{org_id}/customers", "get");
    let bad = list["responses"]["400"]["description"].as_str().unwrap();
    for parameter in ["limit", "cursor", "external_id"] {
        assert!(
            bad.contains(parameter),
            "listCustomers' 400 names {parameter}"
        );
    }
    let create = op("/v1/organizations/{org_id}/customers", "post");
    assert!(
        create["responses"]["409"]["description"]
            .as_str()
            .unwrap()
            .contains("external_id")
    );
    let ready = op("/readyz", "get");
    assert!(
        ready["responses"]["503"]["description"]
            .as_str()
            .unwrap()
            .contains("Not ready")
    );
    // The scope each 403 names is the one the operation needs.
    for (_, _, op) in operations(&doc) {
        if let Some(forbidden) = op["responses"]["403"]["description"].as_str() {
            let needs = op["description"].as_str().unwrap().replace('\n', " ");
            let scope = forbidden
                .split('`')
                .find(|part| part.contains(':'))
                .expect("the 403 names a scope");
            assert!(
                needs.contains(&format!("scope `{scope}`")),
                "{}: 403 names {scope}",
                op["operationId"]
            );
        }
    }
}

#[test]
fn each_error_response_has_an_example_of_its_own_code() {
    let doc = document();
    let codes = |status: &str| -> &[&str] {
        match status {
            "400" => &["invalid_request_body", "invalid_parameter"],
            "401" => &["unauthorized"],
            "403" => &["forbidden"],
            "404" => &["not_found"],
            "409" => &["conflict"],
            "413" => &["payload_too_large"],
            "500" => &["internal_error"],
            "503" => &["service_unavailable"],
            "504" => &["repository_timeout"],
            other => panic!("unexpected error status {other}"),
        }
    };
    for (_, _, op) in operations(&doc) {
        let id = &op["operationId"];
        for (status, response) in op["responses"].as_object().unwrap() {
            if status.as_str() < "400" {
                continue;
            }
            let reserved = RESERVED
                .iter()
                .any(|(op, s)| id == *op && s.to_string() == *status);
            let example = &response["content"]["application/json"]["example"];
            if reserved {
                assert!(
                    example.is_null(),
                    "{id} {status}: no example of an answer never given"
                );
                continue;
            }
            let code = example["code"]
                .as_str()
                .unwrap_or_else(|| panic!("{id} {status}"));
            assert!(
                codes(status).contains(&code),
                "{id} {status}: example code {code}"
            );
            assert_eq!(
                example["request_id"], "0b7e0c5e-6f5f-4b8c-9d0e-3c2a1f4e5d6c",
                "{id} {status}"
            );
        }
    }
    let list = &doc["paths"]["/v1/organizations/{org_id}/customers"]["get"];
    assert_eq!(
        list["responses"]["400"]["content"]["application/json"]["example"]["details"][0]["field"],
        "cursor",
        "listCustomers' 400 example is about its own parameters"
    );
}

#[test]
fn tags_follow_the_original_documents_navigation_then_the_probes() {
    let doc = document();
    let tags: Vec<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tag| tag["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tags,
        [
            "External Accounts",
            "Customers",
            "Categories",
            "Special Treatment",
            "Customer Credentials",
            "Customer Identification Processes",
            "Service"
        ]
    );
    // Each tag says what its section is about (a doc comment in the wrong place once left
    // "Special Treatment" without one, and its words under "Categories").
    for tag in doc["tags"].as_array().unwrap() {
        let description = tag["description"].as_str().unwrap_or_default();
        assert!(
            !description.is_empty(),
            "tag {} has a description",
            tag["name"]
        );
    }
    let order = customers_api::api::TAG_ORDER;
    assert_eq!(
        order,
        [
            "External Accounts",
            "Customers",
            "Categories",
            "Special Treatment",
            "Customer Credentials",
            "Customer Identification Processes",
            "Service",
        ],
        "the original document's navigation order, the probes last"
    );
    for (_, _, op) in operations(&doc) {
        let tag = op["tags"][0].as_str().unwrap();
        assert!(tags.contains(&tag), "{tag} is declared");
    }
}

/// A YAML 1.1 reader (PyYAML, SnakeYAML, ...) resolves plain scalars by these patterns, from
/// the YAML 1.1 type repository (yaml.org/type: bool, null, int, float, timestamp, merge,
/// value). serde_yaml and YAML 1.2 know only a few of them.
fn yaml_1_1_plain(scalar: &str) -> Value {
    use regex::Regex;
    let full = |pattern: &str| Regex::new(&format!("^(?:{pattern})$")).unwrap();
    if full("y|Y|yes|Yes|YES|true|True|TRUE|on|On|ON").is_match(scalar) {
        return Value::Bool(true);
    }
    if full("n|N|no|No|NO|false|False|FALSE|off|Off|OFF").is_match(scalar) {
        return Value::Bool(false);
    }
    if full("~|null|Null|NULL|").is_match(scalar) {
        return Value::Null;
    }
    if full("[-+]?(?:0|[1-9][0-9_]*)").is_match(scalar) {
        return scalar.replace('_', "").parse::<i64>().unwrap().into();
    }
    for (kind, pattern) in [
        ("int", "[-+]?0b[0-1_]+"),
        ("int", "[-+]?0[0-7_]+"),
        ("int", "[-+]?0x[0-9a-fA-F_]+"),
        ("int", "[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+"),
        ("float", "[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\\.[0-9_]*"),
        ("float", "[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN)"),
        ("timestamp", "[0-9]{4}-[0-9]{2}-[0-9]{2}"),
        (
            "timestamp",
            "[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \\t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}\
             (?:\\.[0-9]*)?(?:[ \\t]*Z|[-+][0-9]{1,2}(?::[0-9]{2})?)?",
        ),
        ("merge", "<<"),
        ("value", "="),
    ] {
        if full(pattern).is_match(scalar) {
            return Value::String(format!("<YAML 1.1 {kind}: {scalar}>"));
        }
    }
    if full("[-+]?(?:[0-9][0-9_]*)?\\.[0-9.]*(?:[eE][-+][0-9]+)?").is_match(scalar) {
        return match scalar.replace('_', "").parse::<f64>() {
            Ok(number) => number.into(),
            Err(_) => Value::String(format!("<YAML 1.1 float: {scalar}>")),
        };
    }
    Value::String(scalar.to_owned())
}

/// `yaml` as a YAML 1.1 reader builds it (block and flow collections, scalars; no anchors).
fn load_as_yaml_1_1(yaml: &str) -> Value {
    use yaml_rust2::{
        Event,
        parser::{EventReceiver, Parser},
        scanner::TScalarStyle,
    };
    struct Events(Vec<Event>);
    impl EventReceiver for Events {
        fn on_event(&mut self, event: Event) {
            self.0.push(event);
        }
    }
    fn node(events: &mut std::vec::IntoIter<Event>) -> Value {
        match events.next().expect("a node") {
            Event::Scalar(text, TScalarStyle::Plain, ..) => yaml_1_1_plain(&text),
            Event::Scalar(text, ..) => Value::String(text),
            Event::SequenceStart(..) => {
                let mut items = Vec::new();
                while !matches!(events.as_slice().first(), Some(Event::SequenceEnd)) {
                    items.push(node(events));
                }
                events.next();
                Value::Array(items)
            }
            Event::MappingStart(..) => {
                let mut map = serde_json::Map::new();
                while !matches!(events.as_slice().first(), Some(Event::MappingEnd)) {
                    let key = match node(events) {
                        Value::String(key) => key,
                        other => format!("<YAML 1.1 non-string key: {other}>"),
                    };
                    map.insert(key, node(events));
                }
                events.next();
                Value::Object(map)
            }
            other => panic!("unexpected YAML event {other:?}"),
        }
    }
    let mut events = Events(Vec::new());
    Parser::new_from_str(yaml)
        .load(&mut events, false)
        .expect("the YAML parses");
    let mut events = events.0.into_iter();
    assert!(matches!(events.next(), Some(Event::StreamStart)));
    assert!(matches!(events.next(), Some(Event::DocumentStart)));
    node(&mut events)
}

#[test]
fn a_yaml_1_1_reader_reads_the_document_as_the_json_says() {
    let json: Value = serde_json::from_str(
        &customers_api::spec::Spec::offline()
            .expect("the document generates")
            .json,
    )
    .unwrap();
    let as_yaml_1_1 = load_as_yaml_1_1(COMMITTED);
    if as_yaml_1_1 != json {
        let first = first_difference(&as_yaml_1_1, &json, String::new());
        panic!("a YAML 1.1 reader reads openapi.yaml differently at {first}");
    }
    // The reader itself: what YAML 1.2 reads as strings, YAML 1.1 does not.
    assert_eq!(
        load_as_yaml_1_1("a: 2026-11-27T10:00:00+00:00\nb: yes\nc: 1:20\nd: 0777\ne: '0777'"),
        serde_json::json!({
            "a": "<YAML 1.1 timestamp: 2026-11-27T10:00:00+00:00>",
            "b": true,
            "c": "<YAML 1.1 int: 1:20>",
            "d": "<YAML 1.1 int: 0777>",
            "e": "0777",
        })
    );
}

fn first_difference(a: &Value, b: &Value, at: String) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys()) {
                if x.get(key) != y.get(key) {
                    return match (x.get(key), y.get(key)) {
                        (Some(p), Some(q)) => first_difference(p, q, format!("{at}/{key}")),
                        (p, q) => format!("{at}/{key}: {p:?} vs {q:?}"),
                    };
                }
            }
            at
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find(|(_, (p, q))| p != q)
            .map(|(i, (p, q))| first_difference(p, q, format!("{at}/{i}")))
            .unwrap_or(at),
        _ => format!("{at}: {a} (YAML 1.1) vs {b} (JSON)"),
    }
}

/// `secret` is write-only wherever a schema has it, no answer's schema has it, and the
/// document holds no hash and no hash parameters (examples included).
#[test]
fn secrets_are_write_only_and_no_hash_is_documented() {
    let doc = document();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut with_secret = vec![];
    for (name, schema) in schemas {
        if let Some(secret) = schema["properties"].get("secret") {
            assert_eq!(secret["writeOnly"], true, "{name}.secret is writeOnly");
            assert_eq!(secret["format"], "password", "{name}.secret");
            with_secret.push(name.as_str());
        }
    }
    with_secret.sort_unstable();
    assert_eq!(
        with_secret,
        [
            "CredentialVerification",
            "NewCredentialSecret",
            "NewCustomerCredential"
        ]
    );
    for answer in ["CustomerCredential", "CredentialVerificationResult"] {
        let properties = schemas[answer]["properties"].as_object().unwrap();
        for field in properties.keys() {
            assert!(
                !field.contains("secret") && !field.contains("hash") && !field.contains("salt"),
                "{answer} answers {field}"
            );
        }
    }
    let text = serde_json::to_string(&doc).unwrap();
    for leak in ["$argon2", "m=19456"] {
        assert!(!text.contains(leak), "the document mentions {leak}");
    }
}
