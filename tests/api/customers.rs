//! Customers: registration, lookup, listing with cursors, deletion, tenant isolation.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    client::{customer_path, id_of},
    helpers::{ALL_SCOPES, ORG, assert_error, detail_fields, spawn_app, token},
};

const OTHER_ORG: &str = "globex";

#[tokio::test]
async fn create_answers_201_with_location_and_the_customer() {
    let app = spawn_app().await;
    let resp = app
        .api
        .create_customer(
            ORG,
            &json!({"external_id": "crm-1", "display_name": "Ada Lovelace"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = resp.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
    assert_eq!(location, customer_path(ORG, id));
    assert_eq!(created["external_id"], "crm-1");
    assert_eq!(created["display_name"], "Ada Lovelace");
    assert!(created["created_at"].is_string() && created["updated_at"].is_string());

    let fetched: Value = app.api.get_json(&location).await;
    assert_eq!(fetched, created, "GET answers what POST answered");
}

#[tokio::test]
async fn display_name_is_optional_and_null_when_absent() {
    let app = spawn_app().await;
    let created = app.api.register(ORG, "crm-2").await;
    assert_eq!(created["display_name"], Value::Null);
    let explicit_null = app
        .api
        .create_customer_ok(ORG, &json!({"external_id": "crm-3", "display_name": null}))
        .await;
    assert_eq!(explicit_null["display_name"], Value::Null);
}

#[tokio::test]
async fn a_duplicate_external_id_is_a_409_within_the_organization_only() {
    let app = spawn_app().await;
    app.api.register(ORG, "crm-dup").await;
    let resp = app
        .api
        .create_customer(ORG, &json!({"external_id": "crm-dup"}))
        .await;
    assert_error(resp, StatusCode::CONFLICT, "conflict").await;
    // Another organization has its own namespace of external ids.
    app.api
        .with_token(&token(&[OTHER_ORG], ALL_SCOPES))
        .register(OTHER_ORG, "crm-dup")
        .await;
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
        let resp = app.api.create_customer(ORG, &payload).await;
        let body = assert_error(resp, StatusCode::BAD_REQUEST, "invalid_request_body").await;
        assert_eq!(detail_fields(&body), fields, "details for {payload}");
    }
    let list = app.api.customers_page(ORG, "").await;
    assert_eq!(list["items"], json!([]), "nothing was registered");
}

#[tokio::test]
async fn limits_count_characters() {
    let app = spawn_app().await;
    let external_id = "é".repeat(128);
    let display_name = "名".repeat(200);
    let created = app
        .api
        .create_customer_ok(
            ORG,
            &json!({"external_id": external_id, "display_name": display_name}),
        )
        .await;
    assert_eq!(created["external_id"], external_id.as_str());
    assert_eq!(created["display_name"], display_name.as_str());
}

#[tokio::test]
async fn list_walks_every_customer_once_in_stable_order() {
    let app = spawn_app().await;
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(id_of(&app.api.register(ORG, &format!("crm-{i}")).await));
    }
    app.api
        .with_token(&token(&[OTHER_ORG], ALL_SCOPES))
        .register(OTHER_ORG, "not-in-acme")
        .await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut query = "limit=3".to_owned();
        if let Some(c) = &cursor {
            query.push_str(&format!("&cursor={c}"));
        }
        let page = app.api.customers_page(ORG, &query).await;
        pages += 1;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(items.iter().map(id_of));
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
        app.api.register(ORG, &format!("crm-{i}")).await;
    }
    let page = app.api.customers_page(ORG, "limit=2").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert!(page["next_cursor"].is_null());
}

#[tokio::test]
async fn list_defaults_to_fifty_and_bounds_limit() {
    let app = spawn_app().await;
    let ids: HashSet<String> = futures::future::join_all((0..51).map(|i| {
        let app = &app;
        async move { id_of(&app.api.register(ORG, &format!("crm-{i}")).await) }
    }))
    .await
    .into_iter()
    .collect();
    assert_eq!(ids.len(), 51);
    let page = app.api.customers_page(ORG, "").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 50);
    assert!(page["next_cursor"].is_string());

    for bad in ["0", "201", "-1", "abc", "1.5"] {
        let resp = app.api.list_customers(ORG, &format!("limit={bad}")).await;
        let body = assert_error(resp, StatusCode::BAD_REQUEST, "invalid_parameter").await;
        assert_eq!(detail_fields(&body), ["limit"], "limit={bad}");
    }
    let page = app.api.customers_page(ORG, "limit=200").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 51);
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
        let resp = app.api.list_customers(ORG, &format!("cursor={bad}")).await;
        let body = assert_error(resp, StatusCode::BAD_REQUEST, "invalid_parameter").await;
        assert_eq!(detail_fields(&body), ["cursor"]);
    }
}

#[tokio::test]
async fn external_id_filters_exactly() {
    let app = spawn_app().await;
    let wanted = app.api.register(ORG, "crm-42").await;
    app.api.register(ORG, "crm-420").await;
    app.api
        .with_token(&token(&[OTHER_ORG], ALL_SCOPES))
        .register(OTHER_ORG, "crm-42")
        .await;
    let page = app.api.customers_page(ORG, "external_id=crm-42").await;
    assert_eq!(page["items"], json!([wanted]));
    assert!(page["next_cursor"].is_null());
    let none = app.api.customers_page(ORG, "external_id=CRM-42").await;
    assert_eq!(none["items"], json!([]));
}

#[tokio::test]
async fn delete_removes_the_customer_and_its_treatment() {
    let app = spawn_app().await;
    let created = app.api.register(ORG, "crm-del").await;
    let id = id_of(&created);
    app.api.set_special_treatment(ORG, &id, &["vip"]).await;

    let resp = app.api.delete_customer(ORG, &id).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.api.get_customer(ORG, &id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.api.get_customer_special_treatment(ORG, &id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.api.delete_customer(ORG, &id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // The external id is free again, and the new customer starts with no treatment.
    let again = app.api.register(ORG, "crm-del").await;
    assert_ne!(again["id"], created["id"]);
    assert!(
        app.api
            .special_treatment(ORG, &id_of(&again))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_customer_is_invisible_from_another_organization() {
    let app = spawn_app().await;
    let created = app.api.register(ORG, "crm-private").await;
    let id = id_of(&created);
    let other = app.api.with_token(&token(&[OTHER_ORG], ALL_SCOPES));
    assert_error(
        other.get_customer(OTHER_ORG, &id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        other.delete_customer(OTHER_ORG, &id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let page = other.customers_page(OTHER_ORG, "").await;
    assert_eq!(page["items"], json!([]));
    let still = app.api.customer(ORG, &id).await;
    assert_eq!(still, created);
}
