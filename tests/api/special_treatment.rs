//! Special treatment GET and PUT: the rules of the contract's "Special treatment" section.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ALL_SCOPES, ORG, assert_error, detail_fields, spawn_app, token};

#[tokio::test]
async fn a_customer_never_set_has_an_empty_list() {
    let app = spawn_app().await;
    let id = app.api.new_customer(ORG).await;
    let resp = app.api.get_customer_special_treatment(ORG, &id).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"values": []}));
}

#[tokio::test]
async fn put_replaces_the_whole_list_and_keeps_its_order() {
    let app = spawn_app().await;
    let id = app.api.new_customer(ORG).await;

    let resp = app
        .api
        .set_customer_special_treatment(
            ORG,
            &id,
            &json!({"values": ["vulnerable", "vip", "no-marketing"]}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.api.special_treatment(ORG, &id).await,
        ["vulnerable", "vip", "no-marketing"]
    );

    let resp = app
        .api
        .set_customer_special_treatment(ORG, &id, &json!({"values": ["no-marketing", "a"]}))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.api.special_treatment(ORG, &id).await,
        ["no-marketing", "a"]
    );
}

#[tokio::test]
async fn put_is_idempotent() {
    let app = spawn_app().await;
    let id = app.api.new_customer(ORG).await;
    for _ in 0..3 {
        let resp = app
            .api
            .set_customer_special_treatment(ORG, &id, &json!({"values": ["vip"]}))
            .await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(app.api.special_treatment(ORG, &id).await, ["vip"]);
}

#[tokio::test]
async fn absent_or_null_values_clear_the_list() {
    let app = spawn_app().await;
    let id = app.api.new_customer(ORG).await;
    for body in [json!({}), json!({"values": null}), json!({"values": []})] {
        app.api.set_special_treatment(ORG, &id, &["vip"]).await;
        assert_eq!(
            app.api.special_treatment(ORG, &id).await,
            ["vip"],
            "set before {body}"
        );
        let resp = app
            .api
            .set_customer_special_treatment(ORG, &id, &body)
            .await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT, "{body}");
        assert!(
            app.api.special_treatment(ORG, &id).await.is_empty(),
            "{body} clears the list"
        );
    }
}

#[tokio::test]
async fn thirty_two_values_are_accepted_and_thirty_three_refused() {
    let app = spawn_app().await;
    let id = app.api.new_customer(ORG).await;
    let values: Vec<String> = (0..32).map(|i| format!("value-{i}")).collect();
    let resp = app
        .api
        .set_customer_special_treatment(ORG, &id, &json!({ "values": values }))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.api.special_treatment(ORG, &id).await, values);

    let too_many: Vec<String> = (0..33).map(|i| format!("value-{i}")).collect();
    let body = assert_error(
        app.api
            .set_customer_special_treatment(ORG, &id, &json!({ "values": too_many }))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_request_body",
    )
    .await;
    assert_eq!(detail_fields(&body), ["values"]);
    assert_eq!(
        app.api.special_treatment(ORG, &id).await,
        values,
        "a refused PUT changes nothing"
    );
}

#[tokio::test]
async fn value_length_counts_characters_not_bytes() {
    let app = spawn_app().await;
    let id = app.api.new_customer(ORG).await;
    let sixty_four = "ü".repeat(64);
    let resp = app
        .api
        .set_customer_special_treatment(ORG, &id, &json!({"values": [sixty_four.clone(), "x"]}))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.api.special_treatment(ORG, &id).await,
        [sixty_four, "x".to_owned()]
    );

    let body = assert_error(
        app.api
            .set_customer_special_treatment(ORG, &id, &json!({"values": ["ok", "ü".repeat(65)]}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_request_body",
    )
    .await;
    assert_eq!(detail_fields(&body), ["values[1]"]);
}

#[tokio::test]
async fn each_broken_rule_is_a_400_naming_the_value() {
    let app = spawn_app().await;
    let id = app.api.new_customer(ORG).await;
    let cases = [
        (json!({"values": [""]}), vec!["values[0]"]),
        (json!({"values": ["ok", " leading"]}), vec!["values[1]"]),
        (json!({"values": ["trailing "]}), vec!["values[0]"]),
        (json!({"values": ["tab\tinside"]}), vec!["values[0]"]),
        (json!({"values": ["nul\u{0}"]}), vec!["values[0]"]),
        (json!({"values": ["c1\u{85}control"]}), vec!["values[0]"]),
        (
            json!({"values": ["ideographic-space\u{3000}"]}),
            vec!["values[0]"],
        ),
        (json!({"values": ["vip", "b", "vip"]}), vec!["values[2]"]),
        (json!({"values": [1]}), vec!["values[0]"]),
        (
            json!({"values": [true, null, {"a": 1}, ["x"]]}),
            vec!["values[0]", "values[1]", "values[2]", "values[3]"],
        ),
        (json!({"values": "vip"}), vec!["values"]),
        (json!({"values": {"a": "b"}}), vec!["values"]),
        (json!({"values": ["vip"], "note": "x"}), vec!["note"]),
        (json!(["vip"]), vec!["body"]),
        (json!("vip"), vec!["body"]),
        (json!(null), vec!["body"]),
    ];
    for (payload, fields) in cases {
        let body = assert_error(
            app.api
                .set_customer_special_treatment(ORG, &id, &payload)
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_request_body",
        )
        .await;
        assert_eq!(detail_fields(&body), fields, "details for {payload}");
    }
    assert!(
        app.api.special_treatment(ORG, &id).await.is_empty(),
        "nothing was stored"
    );
}

#[tokio::test]
async fn values_that_differ_only_in_case_are_distinct() {
    let app = spawn_app().await;
    let id = app.api.new_customer(ORG).await;
    let resp = app
        .api
        .set_customer_special_treatment(
            ORG,
            &id,
            &json!({"values": ["VIP", "vip", "very important"]}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.api.special_treatment(ORG, &id).await,
        ["VIP", "vip", "very important"]
    );
}

#[tokio::test]
async fn unknown_customer_is_a_404_for_get_and_put() {
    let app = spawn_app().await;
    let missing = uuid::Uuid::new_v4().to_string();
    assert_error(
        app.api.get_customer_special_treatment(ORG, &missing).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.api
            .set_customer_special_treatment(ORG, &missing, &json!({"values": ["vip"]}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn another_organization_cannot_see_or_change_the_treatment() {
    let app = spawn_app().await;
    let id = app.api.new_customer(ORG).await;
    app.api.set_special_treatment(ORG, &id, &["vip"]).await;

    let other = app.api.with_token(&token(&["globex"], ALL_SCOPES));
    assert_error(
        other.get_customer_special_treatment("globex", &id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        other
            .set_customer_special_treatment("globex", &id, &json!({"values": []}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(
        app.api.special_treatment(ORG, &id).await,
        ["vip"],
        "untouched in {ORG}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_puts_leave_exactly_one_of_the_bodies() {
    let app = spawn_app().await;
    let id = app.api.new_customer(ORG).await;
    let bodies: Vec<Vec<String>> = (0..50)
        .map(|i| {
            (0..(1 + i % 7))
                .map(|j| format!("writer-{i}-value-{j}"))
                .collect()
        })
        .collect();
    let puts = bodies.iter().map(|values| {
        let api = &app.api;
        let id = &id;
        async move {
            api.set_customer_special_treatment(ORG, id, &json!({ "values": values }))
                .await
                .status()
        }
    });
    let statuses = futures::future::join_all(puts).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::NO_CONTENT),
        "{statuses:?}"
    );
    let stored = app.api.special_treatment(ORG, &id).await;
    assert!(
        bodies.contains(&stored),
        "stored list {stored:?} is one of the PUT bodies"
    );
}
