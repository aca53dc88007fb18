//! External accounts: registration, validation of the number per scheme, the number kept out
//! of every answer but the reveal (and out of the logs), merge patches with `closed` final,
//! lists and the organization-wide lookup, deletion with the customer, and upgrading a database
//! that predates the table.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    client::{
        EXAMPLE_IBAN, account_identification_path, account_path, expect_status, id_of,
        new_account_body,
    },
    helpers::{
        ALL_SCOPES, DEFAULT_SCOPES, ORG, TestDb, assert_error, detail_fields, direct_connection,
        spawn_app, start, test_settings, token,
    },
    process::ServerProcess,
};

const OTHER_ORG: &str = "globex";
/// The example IBAN as stored: spaces removed, upper-cased.
const IBAN_STORED: &str = "GB82WEST12345698765432";

fn body_with(external_id: &str, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut body = new_account_body(external_id);
    edit(body.as_object_mut().unwrap());
    body
}

#[tokio::test]
async fn register_answers_201_with_location_and_the_masked_number_only() {
    let app = spawn_app().await;
    let customer = app.api.new_customer(ORG).await;
    let body = body_with("acct-1", |b| {
        b.insert(
            "identification".into(),
            json!("gb82 west 1234 5698 7654 32"),
        );
        b.insert("nickname".into(), json!("Salary"));
    });
    let resp = app.api.create_external_account(ORG, &customer, &body).await;
    let resp = expect_status(resp, StatusCode::CREATED, "register").await;
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = resp.json().await.unwrap();
    let id = id_of(&created);
    assert_eq!(location, account_path(ORG, &customer, &id));
    assert_eq!(created["customer_id"], customer.as_str());
    assert_eq!(created["external_id"], "acct-1");
    assert_eq!(created["scheme"], "iban");
    assert_eq!(created["identification_masked"], "****5432");
    assert!(created.get("identification").is_none(), "{created}");
    assert_eq!(created["currency"], "GBP");
    assert_eq!(created["kind"], "current");
    assert_eq!(created["holder_type"], "individual", "the default");
    assert_eq!(created["nickname"], "Salary");
    assert_eq!(created["status"], "active");
    assert_eq!(created["created_at"], created["updated_at"]);

    let fetched = app.api.get_json(&location).await;
    assert_eq!(fetched, created, "GET answers what POST answered");
    let page = app.api.external_accounts_page(ORG, &customer, "").await;
    assert_eq!(page, json!({"items": [created], "next_cursor": null}));
}

#[tokio::test]
async fn the_number_is_checked_per_scheme_and_a_broken_rule_names_the_field_not_the_value() {
    let app = spawn_app().await;
    let customer = app.api.new_customer(ORG).await;
    let cases: [(&str, &str, &str, bool); 14] = [
        ("iban", EXAMPLE_IBAN, "current", true),
        ("iban", "DE44 5001 0517 5407 3249 31", "savings", true),
        ("iban", "GB83WEST12345698765432", "current", false), // check digits
        ("iban", "GB82WEST1234", "current", false),           // too short
        ("iban", "GB82-WEST-1234-5698-7654-32", "current", false),
        ("sort_code_account", "40 47 84 70872490", "current", true),
        ("sort_code_account", "404784708724901", "current", false),
        ("sort_code_account", "40-47-84-70872490", "current", false),
        ("other", "LOAN-778899", "loan", true),
        ("other", "abc", "loan", false),
        ("other", "card-ending-1111", "card", true),
        ("other", "4111 1111 1111 1111", "card", false), // a full card number
        ("other", "4111-1111-1111-1111", "card", false),
        ("other", "4111111111111111", "savings", true), // not a card: not a PAN rule
    ];
    for (i, (scheme, number, kind, valid)) in cases.into_iter().enumerate() {
        let body = json!({"external_id": format!("case-{i}"), "scheme": scheme,
                          "identification": number, "currency": "EUR", "kind": kind});
        let resp = app.api.create_external_account(ORG, &customer, &body).await;
        let context = format!("{scheme} {kind} case {i}");
        if valid {
            expect_status(resp, StatusCode::CREATED, &context).await;
            continue;
        }
        let error = assert_error(resp, StatusCode::BAD_REQUEST, "invalid_request_body").await;
        assert_eq!(
            detail_fields(&error),
            ["identification"],
            "{context}: {error}"
        );
        let text = error.to_string();
        let digits: String = number.chars().filter(char::is_ascii_alphanumeric).collect();
        assert!(
            !text.contains(number) && !text.contains(&digits),
            "{context}: echoed: {text}"
        );
        assert!(!text.contains("1111"), "{context}: {text}");
        if kind == "card" {
            assert!(text.contains("masked reference"), "{context}: {text}");
        }
    }
}

#[tokio::test]
async fn every_broken_field_is_named_in_details() {
    let app = spawn_app().await;
    let customer = app.api.new_customer(ORG).await;
    let resp = app
        .api
        .create_external_account(
            ORG,
            &customer,
            &json!({"external_id": "", "scheme": "bic", "identification": 7, "currency": "eur",
                    "kind": "cash", "holder_type": "robot", "nickname": " x", "balance": 1}),
        )
        .await;
    let error = assert_error(resp, StatusCode::BAD_REQUEST, "invalid_request_body").await;
    let mut fields = detail_fields(&error);
    fields.sort();
    assert_eq!(
        fields,
        [
            "balance",
            "currency",
            "external_id",
            "holder_type",
            "identification",
            "kind",
            "nickname",
            "scheme"
        ]
    );
    let resp = app
        .api
        .create_external_account(ORG, &customer, &json!({}))
        .await;
    let error = assert_error(resp, StatusCode::BAD_REQUEST, "invalid_request_body").await;
    let mut fields = detail_fields(&error);
    fields.sort();
    assert_eq!(
        fields,
        [
            "currency",
            "external_id",
            "identification",
            "kind",
            "scheme"
        ]
    );
    // Nothing was registered.
    let page = app.api.external_accounts_page(ORG, &customer, "").await;
    assert_eq!(page["items"], json!([]));
}

#[tokio::test]
async fn an_external_id_is_unique_in_the_organization_across_its_customers() {
    let app = spawn_app().await;
    let api = app.api.with_token(&token(&[ORG, OTHER_ORG], ALL_SCOPES));
    let first = api.new_customer(ORG).await;
    let second = api.new_customer(ORG).await;
    api.create_external_account_ok(ORG, &first, &new_account_body("shared-ref"))
        .await;
    for customer in [&first, &second] {
        let resp = api
            .create_external_account(ORG, customer, &new_account_body("shared-ref"))
            .await;
        let error = assert_error(resp, StatusCode::CONFLICT, "conflict").await;
        assert_eq!(detail_fields(&error), ["external_id"]);
    }
    // Another organization has its own references.
    let elsewhere = api.new_customer(OTHER_ORG).await;
    api.create_external_account_ok(OTHER_ORG, &elsewhere, &new_account_body("shared-ref"))
        .await;
    assert_eq!(
        api.lookup_page(ORG, "shared-ref").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn register_for_an_unknown_customer_or_another_organizations_is_404() {
    let app = spawn_app().await;
    let api = app.api.with_token(&token(&[ORG, OTHER_ORG], ALL_SCOPES));
    let elsewhere = api.new_customer(OTHER_ORG).await;
    for customer in [uuid::Uuid::now_v7().to_string(), elsewhere] {
        let resp = api
            .create_external_account(ORG, &customer, &new_account_body("x-1"))
            .await;
        assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
        let resp = api.list_external_accounts(ORG, &customer, "").await;
        assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    }
    assert_eq!(api.lookup_page(ORG, "x-1").await["items"], json!([]));
}

#[tokio::test]
async fn a_merge_patch_changes_nickname_and_status_and_closed_is_final() {
    let app = spawn_app().await;
    let customer = app.api.new_customer(ORG).await;
    let id = app.api.new_account(ORG, &customer).await;
    let before = app.api.external_account(ORG, &customer, &id).await;

    // merge-patch+json: a nickname, then cleared with null.
    let resp = app
        .api
        .update_external_account(ORG, &customer, &id, &json!({"nickname": "Joint"}))
        .await;
    let patched: Value = expect_status(resp, StatusCode::OK, "nickname")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patched["nickname"], "Joint");
    assert_eq!(patched["status"], "active");
    assert_ne!(patched["updated_at"], before["updated_at"]);
    assert_eq!(patched["created_at"], before["created_at"]);
    // Also as plain application/json.
    let resp = app
        .api
        .request(Method::PATCH, &account_path(ORG, &customer, &id))
        .json(&json!({"nickname": null, "status": "disabled"}))
        .send()
        .await
        .unwrap();
    let patched: Value = expect_status(resp, StatusCode::OK, "as application/json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patched["nickname"], Value::Null);
    assert_eq!(patched["status"], "disabled");
    // An empty patch changes nothing, updated_at included.
    let resp = app
        .api
        .update_external_account(ORG, &customer, &id, &json!({}))
        .await;
    let same: Value = expect_status(resp, StatusCode::OK, "empty")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(same, patched);

    // Closed is final.
    let resp = app
        .api
        .update_external_account(ORG, &customer, &id, &json!({"status": "closed"}))
        .await;
    expect_status(resp, StatusCode::OK, "close").await;
    for status in ["active", "disabled"] {
        let resp = app
            .api
            .update_external_account(
                ORG,
                &customer,
                &id,
                &json!({"status": status, "nickname": "n"}),
            )
            .await;
        let error = assert_error(resp, StatusCode::CONFLICT, "conflict").await;
        assert_eq!(error["details"][0]["field"], "status", "{error}");
    }
    let account = app.api.external_account(ORG, &customer, &id).await;
    assert_eq!(account["status"], "closed");
    assert_eq!(
        account["nickname"],
        Value::Null,
        "a refused patch changes nothing"
    );
    // Keeping it closed is fine, and the nickname of a closed account may change.
    let resp = app
        .api
        .update_external_account(
            ORG,
            &customer,
            &id,
            &json!({"status": "closed", "nickname": "Old"}),
        )
        .await;
    let closed: Value = expect_status(resp, StatusCode::OK, "stay closed")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (closed["status"].as_str(), closed["nickname"].as_str()),
        (Some("closed"), Some("Old"))
    );
}

#[tokio::test]
async fn a_patch_of_a_field_that_never_changes_is_400_naming_it() {
    let app = spawn_app().await;
    let customer = app.api.new_customer(ORG).await;
    let id = app.api.new_account(ORG, &customer).await;
    let resp = app
        .api
        .update_external_account(
            ORG,
            &customer,
            &id,
            &json!({"scheme": "other", "identification": "DE44500105175407324931",
                    "currency": "EUR", "status": "frozen", "nickname": 3, "kind": "loan"}),
        )
        .await;
    let error = assert_error(resp, StatusCode::BAD_REQUEST, "invalid_request_body").await;
    let mut fields = detail_fields(&error);
    fields.sort();
    assert_eq!(
        fields,
        [
            "currency",
            "identification",
            "kind",
            "nickname",
            "scheme",
            "status"
        ]
    );
    assert!(!error.to_string().contains("DE44"), "{error}");
    for body in [json!([]), json!({"status": null})] {
        let resp = app
            .api
            .update_external_account(ORG, &customer, &id, &body)
            .await;
        assert_error(resp, StatusCode::BAD_REQUEST, "invalid_request_body").await;
    }
    let account = app.api.external_account(ORG, &customer, &id).await;
    assert_eq!(
        (account["status"].as_str(), account["currency"].as_str()),
        (Some("active"), Some("GBP"))
    );
    let resp = app
        .api
        .update_external_account(
            ORG,
            &customer,
            &uuid::Uuid::now_v7().to_string(),
            &json!({}),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn delete_removes_the_account_and_a_second_delete_is_404() {
    let app = spawn_app().await;
    let customer = app.api.new_customer(ORG).await;
    let id = app.api.new_account(ORG, &customer).await;
    let resp = app.api.delete_external_account(ORG, &customer, &id).await;
    expect_status(resp, StatusCode::NO_CONTENT, "delete").await;
    for resp in [
        app.api.get_external_account(ORG, &customer, &id).await,
        app.api.delete_external_account(ORG, &customer, &id).await,
        app.api
            .reveal_external_account_identification(ORG, &customer, &id)
            .await,
    ] {
        assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    }
    // The reference is free again.
    let page = app.api.external_accounts_page(ORG, &customer, "").await;
    assert_eq!(page["items"], json!([]));
}

#[tokio::test]
async fn deleting_the_customer_removes_its_accounts() {
    let app = spawn_app().await;
    let customer = app.api.new_customer(ORG).await;
    let other = app.api.new_customer(ORG).await;
    for (who, reference) in [
        (&customer, "gone-1"),
        (&customer, "gone-2"),
        (&other, "kept-1"),
    ] {
        app.api
            .create_external_account_ok(ORG, who, &new_account_body(reference))
            .await;
    }
    let resp = app.api.delete_customer(ORG, &customer).await;
    expect_status(resp, StatusCode::NO_CONTENT, "delete customer").await;
    for reference in ["gone-1", "gone-2"] {
        assert_eq!(
            app.api.lookup_page(ORG, reference).await["items"],
            json!([]),
            "{reference}"
        );
    }
    assert_eq!(
        app.api.lookup_page(ORG, "kept-1").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // The references are free again: a new customer can register them.
    let again = app.api.new_customer(ORG).await;
    app.api
        .create_external_account_ok(ORG, &again, &new_account_body("gone-1"))
        .await;
}

#[tokio::test]
async fn lists_page_in_registration_order_and_see_only_the_customers_accounts() {
    let app = spawn_app().await;
    let customer = app.api.new_customer(ORG).await;
    let other = app.api.new_customer(ORG).await;
    app.api.new_account(ORG, &other).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(app.api.new_account(ORG, &customer).await);
    }
    let mut seen = Vec::new();
    let mut query = "limit=2".to_owned();
    loop {
        let page = app.api.external_accounts_page(ORG, &customer, &query).await;
        seen.extend(page["items"].as_array().unwrap().iter().map(id_of));
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let page = app.api.external_accounts_page(ORG, &customer, "").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 5, "default limit");
    for query in [
        "limit=0",
        "limit=201",
        "cursor=not-a-cursor",
        "cursor=AAAAAAAAAAAAAAAAAAAAA%21",
    ] {
        let resp = app.api.list_external_accounts(ORG, &customer, query).await;
        assert_error(resp, StatusCode::BAD_REQUEST, "invalid_parameter").await;
    }
}

#[tokio::test]
async fn the_lookup_needs_an_external_id_and_finds_it_across_customers() {
    let app = spawn_app().await;
    let customer = app.api.new_customer(ORG).await;
    let created = app
        .api
        .create_external_account_ok(ORG, &customer, &new_account_body("crm acct/7"))
        .await;
    let page = app.api.lookup_page(ORG, "crm%20acct%2F7").await;
    assert_eq!(page, json!({"items": [created], "next_cursor": null}));
    assert_eq!(
        app.api.lookup_page(ORG, "crm").await["items"],
        json!([]),
        "exact match"
    );
    for query in ["", "external_id=", "limit=5"] {
        let resp = app.api.lookup_external_accounts(ORG, query).await;
        let error = assert_error(resp, StatusCode::BAD_REQUEST, "invalid_parameter").await;
        assert_eq!(detail_fields(&error), ["external_id"], "?{query}: {error}");
    }
    // Another organization does not see it.
    let other = app.api.with_token(&token(&[OTHER_ORG], ALL_SCOPES));
    assert_eq!(
        other.lookup_page(OTHER_ORG, "crm%20acct%2F7").await["items"],
        json!([])
    );
}

#[tokio::test]
async fn the_reveal_needs_the_privileged_scope_and_answers_the_stored_number() {
    let app = spawn_app().await;
    let customer = app.api.new_customer(ORG).await;
    let id = app.api.new_account(ORG, &customer).await;
    let resp = app
        .api
        .reveal_external_account_identification(ORG, &customer, &id)
        .await;
    let resp = expect_status(resp, StatusCode::OK, "reveal").await;
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let revealed: Value = resp.json().await.unwrap();
    assert_eq!(
        revealed,
        json!({"scheme": "iban", "identification": IBAN_STORED})
    );
    for scopes in [DEFAULT_SCOPES, "accounts:read accounts:write"] {
        let resp = app
            .api
            .with_token(&token(&[ORG], scopes))
            .reveal_external_account_identification(ORG, &customer, &id)
            .await;
        let error = assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
        assert!(!error.to_string().contains("5432"), "{error}");
    }
}

/// A full scenario against the real binary: the registered number appears in no answer but
/// the reveal's, and in no log line; the reveal's log line names who revealed which account.
#[tokio::test]
async fn the_number_is_in_no_answer_but_the_reveal_and_in_no_log_line() {
    let (db, url) = TestDb::create().await;
    let server = ServerProcess::start(&url, &[]).await;
    let api = &server.api;
    // Sent with spaces, lower case; stored upper-cased without them. Each form is searched.
    let sent = "de44 5001 0517 5407 3249 31";
    let forms = [
        sent,
        "DE44500105175407324931",
        "500105175407324931",
        "5001 0517 5407",
    ];
    let mut answers: Vec<(String, String)> = Vec::new();
    async fn record(
        answers: &mut Vec<(String, String)>,
        name: &str,
        resp: reqwest::Response,
    ) -> Value {
        let headers = format!("{:?}", resp.headers());
        let text = resp.text().await.unwrap();
        answers.push((name.to_owned(), format!("{headers}\n{text}")));
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    let customer = api.new_customer(ORG).await;
    let body = json!({"external_id": "scenario-1", "scheme": "iban", "identification": sent,
                      "currency": "EUR", "kind": "savings", "nickname": "Rainy day"});
    let created = record(
        &mut answers,
        "register",
        api.create_external_account(ORG, &customer, &body).await,
    )
    .await;
    let id = id_of(&created);
    assert_eq!(created["identification_masked"], "****4931");
    record(
        &mut answers,
        "duplicate",
        api.create_external_account(ORG, &customer, &body).await,
    )
    .await;
    let mut broken = body.clone();
    broken["external_id"] = json!("scenario-2");
    broken["identification"] = json!("DE45500105175407324931");
    record(
        &mut answers,
        "bad check digits",
        api.create_external_account(ORG, &customer, &broken).await,
    )
    .await;
    broken["kind"] = json!("card");
    broken["scheme"] = json!("other");
    broken["identification"] = json!("4111 1111 1111 1111");
    record(
        &mut answers,
        "card",
        api.create_external_account(ORG, &customer, &broken).await,
    )
    .await;
    record(
        &mut answers,
        "list",
        api.list_external_accounts(ORG, &customer, "").await,
    )
    .await;
    record(
        &mut answers,
        "get",
        api.get_external_account(ORG, &customer, &id).await,
    )
    .await;
    record(
        &mut answers,
        "lookup",
        api.lookup_external_accounts(ORG, "external_id=scenario-1")
            .await,
    )
    .await;
    let patch = json!({"nickname": "Joint", "identification": sent});
    record(
        &mut answers,
        "patch refused",
        api.update_external_account(ORG, &customer, &id, &patch)
            .await,
    )
    .await;
    record(
        &mut answers,
        "patch",
        api.update_external_account(ORG, &customer, &id, &json!({"status": "disabled"}))
            .await,
    )
    .await;
    let reader = api.with_token(&token(&[ORG], DEFAULT_SCOPES));
    record(
        &mut answers,
        "reveal refused",
        reader
            .reveal_external_account_identification(ORG, &customer, &id)
            .await,
    )
    .await;
    let revealed = api
        .request(
            Method::GET,
            &account_identification_path(ORG, &customer, &id),
        )
        .header("x-request-id", "reveal-1")
        .send()
        .await
        .unwrap();
    let revealed = expect_status(revealed, StatusCode::OK, "reveal").await;
    let revealed: Value = revealed.json().await.unwrap();
    assert_eq!(revealed["identification"], "DE44500105175407324931");
    record(
        &mut answers,
        "delete",
        api.delete_external_account(ORG, &customer, &id).await,
    )
    .await;
    record(
        &mut answers,
        "delete customer",
        api.delete_customer(ORG, &customer).await,
    )
    .await;

    let reveal_line = server
        .wait_for_log_line(|l| l["message"] == "account identification revealed")
        .await;
    server
        .wait_for_log_line(|l| l["message"] == "request" && l["request_id"] == "reveal-1")
        .await;
    let logs = server.log();
    drop(server);
    drop(db);

    assert_eq!(reveal_line["actor"], "tester");
    assert_eq!(reveal_line["org"], ORG);
    assert_eq!(reveal_line["account"], id.as_str());
    assert!(logs.contains("account registered") && logs.contains("account deleted"));
    for form in forms {
        assert!(!logs.contains(form), "the logs contain {form:?}");
        for (name, answer) in &answers {
            assert!(
                !answer.contains(form),
                "the {name} answer contains {form:?}: {answer}"
            );
        }
    }
    for pan in ["4111 1111 1111 1111", "4111111111111111"] {
        assert!(!logs.contains(pan), "the logs contain the card number");
    }
    // The test would see the number if it were there: the reveal shows it.
    assert!(revealed.to_string().contains(forms[1]));
}

/// A database migrated before external accounts existed gains the table at start-up.
#[tokio::test]
async fn a_database_from_before_accounts_upgrades_in_place() {
    use migration::MigratorTrait;
    let (db, url) = TestDb::create().await;
    {
        let conn = direct_connection(&url).await;
        // Every migration before the accounts' one.
        let before = migration::Migrator::migrations()
            .iter()
            .position(|m| m.name().ends_with("_create_external_accounts"))
            .expect("the accounts migration") as u32;
        migration::Migrator::up(&conn, Some(before)).await.unwrap();
        let pending = migration::Migrator::get_pending_migrations(&conn)
            .await
            .unwrap();
        assert!(
            pending[0].name().ends_with("_create_external_accounts"),
            "the accounts migration is the next one"
        );
        conn.close().await.unwrap();
    }
    let app = start(test_settings(url), db).await;
    let customer = app.api.new_customer(ORG).await;
    let id = app.api.new_account(ORG, &customer).await;
    assert_eq!(
        app.api.external_account(ORG, &customer, &id).await["status"],
        "active"
    );
}
