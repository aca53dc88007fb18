//! Categories: the catalogue (create-or-replace, list in key order, get, delete while unused),
//! a category's members, and each customer's set of categories. Every rule of the contract's
//! "Categories" section, on SQLite and (with `TEST_DATABASE_URL`) PostgreSQL.

use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};

use crate::{
    client::{ApiClient, category_path, expect_status, id_of},
    helpers::{
        ALL_SCOPES, ORG, TestDb, assert_error, direct_connection, spawn_app, start, test_settings,
        token,
    },
    process::ServerProcess,
};

const OTHER_ORG: &str = "globex";

/// The `details[].field`s of a 400 with `code`.
async fn fields_of(resp: reqwest::Response, code: &str) -> Vec<String> {
    let body = assert_error(resp, StatusCode::BAD_REQUEST, code).await;
    body["details"]
        .as_array()
        .unwrap_or_else(|| panic!("a 400 has details: {body}"))
        .iter()
        .map(|d| d["field"].as_str().unwrap().to_owned())
        .collect()
}

/// The keys of every page of `listCategories` with `limit`, following `next_cursor`.
async fn all_category_keys(api: &ApiClient, org: &str, limit: u32) -> Vec<String> {
    let mut keys = vec![];
    let mut query = format!("limit={limit}");
    loop {
        let page = api.categories_page(org, &query).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= limit as usize, "{page}");
        keys.extend(items.iter().map(|c| c["key"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit={limit}&cursor={cursor}"),
            None => return keys,
        }
    }
}

#[tokio::test]
async fn a_put_creates_then_replaces_keeping_created_at() {
    let app = spawn_app().await;
    let body = json!({"name": "Retail", "description": "Personal customers.\r\nAll branches."});
    let resp = app.api.put_category(ORG, "retail", &body).await;
    let resp = expect_status(resp, StatusCode::CREATED, "create").await;
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, category_path(ORG, "retail"));
    let created: Value = resp.json().await.unwrap();
    assert_eq!(created["key"], "retail");
    assert_eq!(created["name"], "Retail");
    assert_eq!(created["description"], body["description"]);
    assert_eq!(created["created_at"], created["updated_at"]);
    assert_eq!(app.get_json(&location).await, created);

    // Replacing: the body's name, no description (absent means none), created_at kept.
    let resp = app
        .api
        .put_category(ORG, "retail", &json!({"name": "Retail banking"}))
        .await;
    let replaced: Value = expect_status(resp, StatusCode::OK, "replace")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(replaced["name"], "Retail banking");
    assert_eq!(replaced["description"], Value::Null);
    assert_eq!(replaced["created_at"], created["created_at"]);
    assert!(
        replaced["updated_at"].as_str() > created["updated_at"].as_str(),
        "{replaced}"
    );
    assert_eq!(app.api.category(ORG, "retail").await, replaced);

    // The same PUT again: idempotent, 200 with the same category (description null).
    let resp = app
        .api
        .put_category(
            ORG,
            "retail",
            &json!({"name": "Retail banking", "description": null}),
        )
        .await;
    let again: Value = expect_status(resp, StatusCode::OK, "replace again")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["name"], replaced["name"]);
    assert_eq!(again["created_at"], created["created_at"]);
}

#[tokio::test]
async fn a_definition_that_breaks_a_rule_is_400_naming_each_field() {
    let app = spawn_app().await;
    let api = &app.api;
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({}), vec!["name"]),
        (json!({"name": null}), vec!["name"]),
        (json!({"name": ""}), vec!["name"]),
        (json!({"name": 7}), vec!["name"]),
        (json!({"name": " Retail"}), vec!["name"]),
        // Two rules broken: a control character, and white space at the end.
        (json!({"name": "Retail\n"}), vec!["name", "name"]),
        (json!({"name": "Re\u{7}tail"}), vec!["name"]),
        (json!({"name": "x".repeat(101)}), vec!["name"]),
        (
            json!({"name": "Retail", "description": ""}),
            vec!["description"],
        ),
        (
            json!({"name": "Retail", "description": "a\rb"}),
            vec!["description"],
        ),
        (
            json!({"name": "Retail", "description": "a\tb"}),
            vec!["description"],
        ),
        (
            json!({"name": "Retail", "description": "ends\n"}),
            vec!["description"],
        ),
        (
            json!({"name": "Retail", "description": 3}),
            vec!["description"],
        ),
        (
            json!({"name": "Retail", "description": "x".repeat(501)}),
            vec!["description"],
        ),
        (json!({"key": "retail", "name": "Retail"}), vec!["key"]),
        (json!({"name": "", "extra": true}), vec!["extra", "name"]),
        (json!(["Retail"]), vec!["body"]),
    ];
    for (body, expected) in cases {
        let resp = api.put_category(ORG, "retail", &body).await;
        assert_eq!(
            fields_of(resp, "invalid_request_body").await,
            expected,
            "{body}"
        );
    }
    // Lengths count characters, not bytes.
    let name = "é".repeat(100);
    let description = "é".repeat(500);
    let saved: Value = expect_status(
        api.put_category(
            ORG,
            "accents",
            &json!({"name": name, "description": description}),
        )
        .await,
        StatusCode::CREATED,
        "100 and 500 characters",
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(saved["name"], name);
    // Nothing was created by a refused PUT.
    let resp = api.get_category(ORG, "retail").await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_key_that_breaks_its_format_is_400_invalid_parameter() {
    let app = spawn_app().await;
    let long = "k".repeat(65);
    for key in [
        "Retail",
        "-retail",
        "_retail",
        "re%20tail",
        "r%C3%A9",
        long.as_str(),
    ] {
        let resp = app.api.get_category(ORG, key).await;
        assert_eq!(
            fields_of(resp, "invalid_parameter").await,
            ["key"],
            "GET {key}"
        );
        let resp = app.api.put_category(ORG, key, &json!({"name": "X"})).await;
        assert_eq!(
            fields_of(resp, "invalid_parameter").await,
            ["key"],
            "PUT {key}"
        );
    }
    let longest = "k".repeat(64);
    app.api.save_category(ORG, &longest, "Longest").await;
    assert_eq!(
        app.api.category(ORG, &longest).await["key"],
        longest.as_str()
    );
}

#[tokio::test]
async fn the_list_is_in_byte_order_with_cursor_pages() {
    let app = spawn_app().await;
    let keys = ["z", "ab", "a_b", "a-b", "a0", "0", "b", "a", "9z", "a--"];
    for key in keys {
        app.api.save_category(ORG, key, "Category").await;
    }
    let mut expected: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
    expected.sort(); // byte order
    for limit in [1, 3, 10, 200] {
        assert_eq!(all_category_keys(&app.api, ORG, limit).await, expected);
    }
    let page = app.api.categories_page(ORG, "").await;
    assert_eq!(page["items"].as_array().unwrap().len(), keys.len());
    assert_eq!(page["next_cursor"], Value::Null);

    for query in [
        "limit=0",
        "limit=201",
        "limit=x",
        "cursor=%21%21",
        "cursor=AAAA",
    ] {
        let resp = app.api.list_categories(ORG, query).await;
        let body = assert_error(resp, StatusCode::BAD_REQUEST, "invalid_parameter").await;
        let field = body["details"][0]["field"].as_str().unwrap();
        assert!(query.starts_with(field), "{query}: {body}");
    }
}

#[tokio::test]
async fn categories_belong_to_one_organization() {
    let app = spawn_app().await;
    let both = app.api.with_token(&token(&[ORG, OTHER_ORG], ALL_SCOPES));
    both.save_category(ORG, "retail", "Retail").await;
    both.save_category(OTHER_ORG, "sme", "SME").await;
    // The same key in another organization is another category.
    let theirs = both
        .save_category(OTHER_ORG, "retail", "Their retail")
        .await;
    assert_eq!(
        theirs["created_at"], theirs["updated_at"],
        "created, not replaced"
    );
    assert_eq!(both.category(ORG, "retail").await["name"], "Retail");

    assert_eq!(all_category_keys(&both, ORG, 50).await, ["retail"]);
    assert_eq!(
        all_category_keys(&both, OTHER_ORG, 50).await,
        ["retail", "sme"]
    );
    let resp = both.get_category(ORG, "sme").await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = both.delete_category(ORG, "sme").await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = both.list_category_customers(ORG, "sme", "").await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;

    // A customer cannot be filed under another organization's category.
    let customer = both.new_customer(ORG).await;
    let resp = both
        .set_customer_categories(ORG, &customer, &json!({"keys": ["retail", "sme"]}))
        .await;
    assert_eq!(fields_of(resp, "invalid_request_body").await, ["keys[1]"]);
    // Nor reached through another organization.
    let resp = both.get_customer_categories(OTHER_ORG, &customer).await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = both
        .set_customer_categories(OTHER_ORG, &customer, &json!({"keys": ["retail"]}))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    assert!(both.customer_categories(ORG, &customer).await.is_empty());
}

#[tokio::test]
async fn a_category_with_members_cannot_be_deleted() {
    let app = spawn_app().await;
    let api = &app.api;
    api.save_category(ORG, "staff", "Staff").await;
    let customer = api.new_customer(ORG).await;
    api.set_categories(ORG, &customer, &["staff"]).await;

    let resp = api.delete_category(ORG, "staff").await;
    let body = assert_error(resp, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(body["details"][0]["field"], "key", "{body}");
    assert_eq!(api.category(ORG, "staff").await["name"], "Staff");
    assert_eq!(api.customer_categories(ORG, &customer).await, ["staff"]);

    api.set_categories(ORG, &customer, &[]).await;
    let resp = api.delete_category(ORG, "staff").await;
    expect_status(resp, StatusCode::NO_CONTENT, "delete").await;
    let resp = api.get_category(ORG, "staff").await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = api.delete_category(ORG, "staff").await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn members_are_paged_in_customer_id_order() {
    let app = spawn_app().await;
    let api = &app.api;
    api.save_category(ORG, "vip", "VIP").await;
    api.save_category(ORG, "retail", "Retail").await;
    let mut members = vec![];
    for i in 0..7 {
        let id = api.new_customer(ORG).await;
        // Every other customer is a member; the others are in another category.
        if i % 2 == 0 {
            api.set_categories(ORG, &id, &["vip", "retail"]).await;
            members.push(id);
        } else {
            api.set_categories(ORG, &id, &["retail"]).await;
        }
    }
    members.sort();
    let mut listed = vec![];
    let mut query = "limit=2".to_owned();
    loop {
        let page = api.category_customers_page(ORG, "vip", &query).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        for customer in items {
            // Whole customers, as getCustomer answers them.
            let id = id_of(customer);
            assert_eq!(&api.customer(ORG, &id).await, customer);
            listed.push(id);
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(listed, members);
    let page = api
        .category_customers_page(ORG, "retail", "limit=200")
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 7);

    let resp = api.list_category_customers(ORG, "nobody", "").await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = api.list_category_customers(ORG, "vip", "cursor=nope").await;
    assert_error(resp, StatusCode::BAD_REQUEST, "invalid_parameter").await;
    // An empty category: an empty last page.
    api.save_category(ORG, "empty", "Empty").await;
    let page = api.category_customers_page(ORG, "empty", "").await;
    assert_eq!(page, json!({"items": [], "next_cursor": null}));
}

#[tokio::test]
async fn a_customers_categories_are_replaced_as_a_set() {
    let app = spawn_app().await;
    let api = &app.api;
    for key in ["retail", "staff", "sme"] {
        api.save_category(ORG, key, "Category").await;
    }
    let customer = api.new_customer(ORG).await;
    assert!(api.customer_categories(ORG, &customer).await.is_empty());

    api.set_categories(ORG, &customer, &["staff", "retail"])
        .await;
    assert_eq!(
        api.customer_categories(ORG, &customer).await,
        ["retail", "staff"]
    );
    api.set_categories(ORG, &customer, &["sme", "staff"]).await;
    assert_eq!(
        api.customer_categories(ORG, &customer).await,
        ["sme", "staff"]
    );
    // Idempotent.
    api.set_categories(ORG, &customer, &["sme", "staff"]).await;
    assert_eq!(
        api.customer_categories(ORG, &customer).await,
        ["sme", "staff"]
    );

    // Refused bodies change nothing.
    let many: Vec<String> = (0..17).map(|i| format!("k{i}")).collect();
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            json!({"keys": ["retail", "nope", "staff", "gone"]}),
            vec!["keys[1]", "keys[3]"],
        ),
        (json!({"keys": ["retail", "retail"]}), vec!["keys[1]"]),
        (json!({"keys": ["Retail"]}), vec!["keys[0]"]),
        (json!({"keys": [3]}), vec!["keys[0]"]),
        (json!({"keys": "retail"}), vec!["keys"]),
        (json!({"keys": many}), vec!["keys"]),
        (json!({"keys": [], "values": []}), vec!["values"]),
        (json!(["retail"]), vec!["body"]),
    ];
    for (body, expected) in cases {
        let resp = api.set_customer_categories(ORG, &customer, &body).await;
        assert_eq!(
            fields_of(resp, "invalid_request_body").await,
            expected,
            "{body}"
        );
    }
    assert_eq!(
        api.customer_categories(ORG, &customer).await,
        ["sme", "staff"]
    );

    // Absent or null: none.
    for body in [json!({"keys": null}), json!({})] {
        api.set_categories(ORG, &customer, &["retail"]).await;
        let resp = api.set_customer_categories(ORG, &customer, &body).await;
        expect_status(resp, StatusCode::NO_CONTENT, "clear").await;
        assert!(api.customer_categories(ORG, &customer).await.is_empty());
    }
    // Sixteen is the most.
    let sixteen: Vec<String> = (0..16).map(|i| format!("k{i:02}")).collect();
    for key in &sixteen {
        api.save_category(ORG, key, "Many").await;
    }
    let keys: Vec<&str> = sixteen.iter().map(String::as_str).collect();
    api.set_categories(ORG, &customer, &keys).await;
    assert_eq!(api.customer_categories(ORG, &customer).await, sixteen);

    // An unknown customer: 404 (a well-formed id that names nobody).
    let nobody = uuid::Uuid::now_v7().to_string();
    let resp = api.get_customer_categories(ORG, &nobody).await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = api
        .set_customer_categories(ORG, &nobody, &json!({"keys": ["retail"]}))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = api.get_customer_categories(ORG, "not-a-uuid").await;
    assert_eq!(fields_of(resp, "invalid_parameter").await, ["customer_id"]);
}

#[tokio::test]
async fn deleting_a_customer_removes_its_memberships() {
    let app = spawn_app().await;
    let api = &app.api;
    api.save_category(ORG, "staff", "Staff").await;
    let leaving = api.new_customer(ORG).await;
    let staying = api.new_customer(ORG).await;
    api.set_categories(ORG, &leaving, &["staff"]).await;
    api.set_categories(ORG, &staying, &["staff"]).await;

    let resp = api.delete_customer(ORG, &leaving).await;
    expect_status(resp, StatusCode::NO_CONTENT, "delete customer").await;
    let page = api.category_customers_page(ORG, "staff", "").await;
    let ids: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(ids, std::slice::from_ref(&staying));
    let resp = api.get_customer_categories(ORG, &leaving).await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;

    // Once its last member is gone, the category can be deleted.
    let resp = api.delete_customer(ORG, &staying).await;
    expect_status(resp, StatusCode::NO_CONTENT, "delete customer").await;
    let resp = api.delete_category(ORG, "staff").await;
    expect_status(resp, StatusCode::NO_CONTENT, "delete category").await;
}

/// Concurrent replaces of one customer's set: the stored set is exactly one of them, never a
/// mix, and no replace fails.
#[tokio::test]
async fn concurrent_replaces_leave_exactly_one_of_the_sets() {
    let app = spawn_app().await;
    let api = &app.api;
    let keys: Vec<String> = (0..8).map(|i| format!("c{i}")).collect();
    for key in &keys {
        api.save_category(ORG, key, "Concurrent").await;
    }
    // Each writer's set: three keys of its own window, so that sets overlap but differ.
    let sets: Vec<Vec<String>> = (0..12)
        .map(|w| {
            (0..3)
                .map(|j| keys[(w + j * 3) % keys.len()].clone())
                .collect()
        })
        .collect();
    for round in 0..3 {
        let customer = api.new_customer(ORG).await;
        let writes = sets.iter().map(|set| {
            let body = json!({ "keys": set });
            let call = api.set_customer_categories(ORG, &customer, &body);
            async move { call.await.status() }
        });
        let statuses = futures::future::join_all(writes).await;
        assert!(
            statuses.iter().all(|s| *s == StatusCode::NO_CONTENT),
            "round {round}: {statuses:?}"
        );
        let stored = api.customer_categories(ORG, &customer).await;
        let one_of_them = sets.iter().any(|set| {
            let mut set = set.clone();
            set.sort();
            set == stored
        });
        assert!(
            one_of_them,
            "round {round}: stored {stored:?} is none of the sets"
        );
    }
}

/// How many migrations the database has applied.
async fn applied(connection: &sea_orm::DatabaseConnection) -> i64 {
    let statement = Statement::from_string(
        connection.get_database_backend(),
        "SELECT count(*) AS n FROM seaql_migrations",
    );
    let row = connection.query_one_raw(statement).await.unwrap().unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// A database that v1 made, with its data, upgrades in place at start-up: the customers and
/// their special treatment are intact, and categories work on it.
#[tokio::test]
async fn a_v1_database_with_data_upgrades_in_place() {
    use migration::MigratorTrait;

    let (db, url) = TestDb::create().await;
    let connection = direct_connection(&url).await;
    // v1's schema: the first migration only.
    migration::Migrator::up(&connection, Some(1)).await.unwrap();
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-27T10:00:00.123456Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let v1_id = uuid::Uuid::now_v7();
    entity::customer::ActiveModel {
        id: Set(v1_id),
        org_id: Set(ORG.to_owned()),
        external_id: Set("from-v1".to_owned()),
        display_name: Set(Some("Ada".to_owned())),
        special_treatment: Set(entity::SpecialTreatmentValues(vec![
            "vulnerable".to_owned(),
            "vip".to_owned(),
        ])),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(&connection)
    .await
    .unwrap();
    assert_eq!(applied(&connection).await, 1);

    let app = start(test_settings(url), db).await;
    assert_eq!(
        applied(&connection).await,
        migration::Migrator::migrations().len() as i64,
        "every later migration ran"
    );
    let id = v1_id.to_string();
    let customer = app.api.customer(ORG, &id).await;
    assert_eq!(customer["external_id"], "from-v1");
    assert_eq!(customer["display_name"], "Ada");
    assert_eq!(customer["created_at"], customer["updated_at"]);
    assert_eq!(
        app.api.special_treatment(ORG, &id).await,
        ["vulnerable", "vip"]
    );
    let page = app.api.customers_page(ORG, "external_id=from-v1").await;
    assert_eq!(page["items"][0], customer);

    assert!(app.api.customer_categories(ORG, &id).await.is_empty());
    app.api.save_category(ORG, "legacy", "Legacy").await;
    app.api.set_categories(ORG, &id, &["legacy"]).await;
    assert_eq!(app.api.customer_categories(ORG, &id).await, ["legacy"]);
    if connection.get_database_backend() == DbBackend::Postgres {
        // The key columns collate as "C" (byte order), whatever the database's collation.
        let statement = Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*) AS n FROM information_schema.columns \
             WHERE table_name IN ('categories', 'customer_categories') \
             AND column_name IN ('key', 'category_key') AND collation_name = 'C'",
        );
        let row = connection.query_one_raw(statement).await.unwrap().unwrap();
        assert_eq!(row.try_get::<i64>("", "n").unwrap(), 2);
    }
    connection.close().await.ok();
}

/// Every v1 promise on the new routes, against the real binary with JSON logs: `no-store` and
/// `X-Request-Id` on every answer (an error's `request_id` equal to it), a JSON 405 with
/// `Allow`, metrics by route template, and log lines without a category's name or description
/// or which categories a customer is in.
#[tokio::test]
async fn v1_promises_hold_on_the_category_routes() {
    let (_db, url) = TestDb::create().await;
    let server = ServerProcess::start(&url, &[]).await;
    let api = &server.api;
    let name = "Quokka-Name-7Q";
    let description = "Wombat-Description-9K";
    let key = "marsupials";
    let customer = api.new_customer(ORG).await;
    let nobody = uuid::Uuid::now_v7().to_string();
    let answers = vec![
        (
            "create",
            api.put_category(ORG, key, &json!({"name": name, "description": description}))
                .await,
        ),
        ("list", api.list_categories(ORG, "").await),
        ("get", api.get_category(ORG, key).await),
        ("get missing", api.get_category(ORG, "none").await),
        (
            "set",
            api.set_customer_categories(ORG, &customer, &json!({"keys": [key]}))
                .await,
        ),
        (
            "set unknown",
            api.set_customer_categories(ORG, &customer, &json!({"keys": ["none"]}))
                .await,
        ),
        ("members", api.list_category_customers(ORG, key, "").await),
        ("keys", api.get_customer_categories(ORG, &customer).await),
        (
            "keys missing",
            api.get_customer_categories(ORG, &nobody).await,
        ),
        ("delete in use", api.delete_category(ORG, key).await),
        ("no token", api.without_token().get_category(ORG, key).await),
    ];
    for (what, resp) in answers {
        let status = resp.status();
        assert_eq!(resp.headers()["cache-control"], "no-store", "{what}");
        let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
        let body = resp.text().await.unwrap();
        if !status.is_success() {
            let error: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(error["request_id"], request_id.as_str(), "{what}: {body}");
        }
    }
    for (method, path, allow) in [
        (
            reqwest::Method::POST,
            category_path(ORG, key),
            "PUT, GET, DELETE",
        ),
        (
            reqwest::Method::DELETE,
            crate::client::customer_categories_path(ORG, &customer),
            "GET, PUT",
        ),
    ] {
        let resp = api.request(method.clone(), &path).send().await.unwrap();
        assert_eq!(resp.headers()["allow"], allow, "{method} {path}");
        assert_error(resp, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    }

    let metrics = api
        .without_token()
        .request(reqwest::Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for route in [
        "/v1/organizations/{org_id}/categories/{key}",
        "/v1/organizations/{org_id}/categories/{key}/customers",
        "/v1/organizations/{org_id}/customers/{customer_id}/categories",
    ] {
        assert!(
            metrics.contains(&format!("route=\"{route}\"")),
            "{route} in {metrics}"
        );
    }

    // The write's own line names the category by key and the customer by id, nothing else.
    server
        .wait_for_log_line(|line| line["message"] == "customer categories replaced")
        .await;
    let created = server
        .wait_for_log_line(|line| line["message"] == "category created")
        .await;
    assert_eq!(created["category"], key, "{created}");
    let log = server.log();
    for secret in [name, description] {
        assert!(!log.contains(secret), "{secret} reached the log:\n{log}");
    }
    let replaced = server
        .wait_for_log_line(|line| line["message"] == "customer categories replaced")
        .await;
    assert_eq!(replaced["categories"], 1, "{replaced}");
    assert!(!replaced.to_string().contains(key), "{replaced}");
}
