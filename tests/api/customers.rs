//! Customers: registration, lookup, listing with cursors, deletion, tenant isolation.

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ALL_SCOPES, ORG, assert_error, detail_fields, spawn_app, token};

fn customers_path(org: &str) -> String {
    format!("/v1/organizations/{org}/customers")
}

#[tokio::test]
async fn create_answers_201_with_location_and_the_customer() {
    let app = spawn_app().await;
    let resp = app
        .request(Method::POST, &customers_path(ORG))
        .json(&json!({"external_id": "crm-1", "display_name": "Ada Lovelace"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = resp.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
    assert_eq!(location, format!("/v1/organizations/{ORG}/customers/{id}"));
    assert_eq!(created["external_id"], "crm-1");
    assert_eq!(created["display_name"], "Ada Lovelace");
    assert!(created["created_at"].is_string() && created["updated_at"].is_string());

    let fetched: Value = app.get_json(&location).await;
    assert_eq!(fetched, created, "GET answers what POST answered");
}

#[tokio::test]
async fn display_name_is_optional_and_null_when_absent() {
    let app = spawn_app().await;
    let created = app.create_customer(ORG, "crm-2").await;
    assert_eq!(created["display_name"], Value::Null);
    let resp = app
        .request(Method::POST, &customers_path(ORG))
        .json(&json!({"external_id": "crm-3", "display_name": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_duplicate_external_id_is_a_409_within_the_organization_only() {
    let app = spawn_app().await;
    app.create_customer(ORG, "crm-dup").await;
    let resp = app
        .request(Method::POST, &customers_path(ORG))
        .json(&json!({"external_id": "crm-dup"}))
        .send()
        .await
        .unwrap();
    assert_error(resp, StatusCode::CONFLICT, "conflict").await;
    // Another organization has its own namespace of external ids.
    app.create_customer("globex", "crm-dup").await;
}

#[tokio::test]
async fn body_rules_are_400_naming_each_field() {
    let app = spawn_app().await;
    let cases = [
        (json!({}), vec!["external_id"]),
        (json!({"external_id": null}), vec!["external_id"]),
        (json!({"external_id": ""}), vec!["external_id"]),
        (json!({"external_id": 12}), vec!["external_id"]),
        (json!({"external_id": "x".repeat(129)}), vec!["external_id"]),
        (json!({"external_id": "a\nb"}), vec!["external_id"]),
        (
            json!({"external_id": "ok", "display_name": "x".repeat(201)}),
            vec!["display_name"],
        ),
        (
            json!({"external_id": "ok", "display_name": false}),
            vec!["display_name"],
        ),
        (json!({"external_id": "ok", "id": "x"}), vec!["id"]),
        (json!([{"external_id": "ok"}]), vec!["body"]),
    ];
    for (payload, fields) in cases {
        let resp = app
            .request(Method::POST, &customers_path(ORG))
            .json(&payload)
            .send()
            .await
            .unwrap();
        let body = assert_error(resp, StatusCode::BAD_REQUEST, "invalid_request_body").await;
        assert_eq!(detail_fields(&body), fields, "details for {payload}");
    }
    let list: Value = app.get_json(&customers_path(ORG)).await;
    assert_eq!(list["items"], json!([]), "nothing was registered");
}

#[tokio::test]
async fn limits_count_characters() {
    let app = spawn_app().await;
    let resp = app
        .request(Method::POST, &customers_path(ORG))
        .json(&json!({"external_id": "é".repeat(128), "display_name": "名".repeat(200)}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn list_walks_every_customer_once_in_stable_order() {
    let app = spawn_app().await;
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(
            app.create_customer(ORG, &format!("crm-{i}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    app.create_customer("globex", "not-in-acme").await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("{}?limit=3", customers_path(ORG));
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let resp = app.request(Method::GET, &path).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let page: Value = resp.json().await.unwrap();
        pages += 1;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(items.iter().map(|c| c["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => {
                assert!(page["next_cursor"].is_null());
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen, created,
        "registration order, each once, only this organization"
    );
}

#[tokio::test]
async fn an_exact_page_ends_with_a_null_cursor() {
    let app = spawn_app().await;
    for i in 0..2 {
        app.create_customer(ORG, &format!("crm-{i}")).await;
    }
    let page: Value = app
        .get_json(&format!("{}?limit=2", customers_path(ORG)))
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert!(page["next_cursor"].is_null());
}

#[tokio::test]
async fn list_defaults_to_fifty_and_bounds_limit() {
    let app = spawn_app().await;
    let ids: HashSet<String> = futures::future::join_all((0..51).map(|i| {
        let app = &app;
        async move {
            app.create_customer(ORG, &format!("crm-{i}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    }))
    .await
    .into_iter()
    .collect();
    assert_eq!(ids.len(), 51);
    let page: Value = app.get_json(&customers_path(ORG)).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 50);
    assert!(page["next_cursor"].is_string());

    for bad in ["0", "201", "-1", "abc", "1.5"] {
        let resp = app
            .request(Method::GET, &format!("{}?limit={bad}", customers_path(ORG)))
            .send()
            .await
            .unwrap();
        let body = assert_error(resp, StatusCode::BAD_REQUEST, "invalid_parameter").await;
        assert_eq!(detail_fields(&body), ["limit"], "limit={bad}");
    }
    let resp = app
        .request(Method::GET, &format!("{}?limit=200", customers_path(ORG)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_cursor_the_server_did_not_issue_is_a_400() {
    let app = spawn_app().await;
    for bad in [
        "garbage!",
        "AAAA",
        "bm90LWEtY3Vyc29y",
        "AAAAAAAAAAAAAAAAAAAAAA=",
        "AAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let resp = app
            .request(
                Method::GET,
                &format!("{}?cursor={bad}", customers_path(ORG)),
            )
            .send()
            .await
            .unwrap();
        let body = assert_error(resp, StatusCode::BAD_REQUEST, "invalid_parameter").await;
        assert_eq!(detail_fields(&body), ["cursor"]);
    }
}

#[tokio::test]
async fn external_id_filters_exactly() {
    let app = spawn_app().await;
    let wanted = app.create_customer(ORG, "crm-42").await;
    app.create_customer(ORG, "crm-420").await;
    app.create_customer("globex", "crm-42").await;
    let page: Value = app
        .get_json(&format!("{}?external_id=crm-42", customers_path(ORG)))
        .await;
    assert_eq!(page["items"], json!([wanted]));
    assert!(page["next_cursor"].is_null());
    let none: Value = app
        .get_json(&format!("{}?external_id=CRM-42", customers_path(ORG)))
        .await;
    assert_eq!(none["items"], json!([]));
}

#[tokio::test]
async fn delete_removes_the_customer_and_its_treatment() {
    let app = spawn_app().await;
    let created = app.create_customer(ORG, "crm-del").await;
    let id = created["id"].as_str().unwrap();
    app.put_treatment(id, json!({"values": ["vip"]})).await;

    let path = format!("{}/{id}", customers_path(ORG));
    let resp = app.request(Method::DELETE, &path).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.request(Method::GET, &path).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.get_treatment(id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.request(Method::DELETE, &path).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // The external id is free again, and the new customer starts with no treatment.
    let again = app.create_customer(ORG, "crm-del").await;
    assert_ne!(again["id"], created["id"]);
    assert!(
        app.treatment_values(again["id"].as_str().unwrap())
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_customer_is_invisible_from_another_organization() {
    let app = spawn_app().await;
    let created = app.create_customer(ORG, "crm-private").await;
    let id = created["id"].as_str().unwrap();
    let other = token(&["globex"], ALL_SCOPES);
    let path = format!("{}/{id}", customers_path("globex"));
    for method in [Method::GET, Method::DELETE] {
        let resp = app
            .anonymous(method, &path)
            .bearer_auth(&other)
            .send()
            .await
            .unwrap();
        assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    }
    let page: Value = app
        .anonymous(Method::GET, &customers_path("globex"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"], json!([]));
    let still: Value = app.get_json(&format!("{}/{id}", customers_path(ORG))).await;
    assert_eq!(still, created);
}
