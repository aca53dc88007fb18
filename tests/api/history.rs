//! The change history (v1.2): one event per successful write of every section, in the write's
//! transaction, with its actor, request id and new non-secret values; none for a refused or
//! failed write; newest first with cursor pages and `since`; readable after the customer is
//! deleted. On SQLite and (with `TEST_DATABASE_URL`) PostgreSQL. The kill -9 half (every
//! acknowledged PUT has exactly one event after a restart) is in `lifecycle.rs`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    client::{ApiClient, expect_status, id_of},
    helpers::{ALL_SCOPES, DEFAULT_SCOPES, ORG, TestApp, assert_error, spawn_app, token_for},
};

const PASSWORD: &str = "Zebra-Password-5Kx!";
const NEW_PASSWORD: &str = "Yak-Password-9Qw?";
const IBAN: &str = "GB82WEST12345698765432";

/// The events of a customer's history, oldest first (all of them: one page of 200).
async fn events(api: &ApiClient, customer: &str) -> Vec<Value> {
    let page = api.history(ORG, customer, "limit=200").await;
    assert_eq!(page["next_cursor"], Value::Null);
    let mut items = page["items"].as_array().unwrap().clone();
    items.reverse();
    items
}

fn actions(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

/// Sends `call` with `X-Request-Id: request_id`, asserting `status`; the answer's body (or null).
async fn sent_as(call: crate::client::Call, request_id: &str, status: StatusCode) -> Value {
    let resp = call.header("x-request-id", request_id).await;
    let resp = expect_status(resp, status, request_id).await;
    resp.json().await.unwrap_or(Value::Null)
}

/// Reviewer, a second `sub` for the identification decision (four eyes).
fn reviewer(app: &TestApp) -> ApiClient {
    app.api
        .with_token(&token_for("reviewer-9", &[ORG], ALL_SCOPES))
}

#[tokio::test]
async fn every_write_of_every_section_appends_one_event_with_who_when_and_what() {
    let app = spawn_app().await;
    let api = &app.api;
    let created = sent_as(
        api.create_customer(
            ORG,
            &json!({"external_id": "hist-1", "display_name": "Ada"}),
        ),
        "req-create",
        StatusCode::CREATED,
    )
    .await;
    let customer = id_of(&created);
    let c = customer.as_str();

    let body = json!({"values": ["vulnerable", "no-marketing"]});
    let put = api.set_customer_special_treatment(ORG, c, &body);
    sent_as(put, "req-treatment", StatusCode::NO_CONTENT).await;

    api.save_category(ORG, "retail", "Retail").await;
    api.save_category(ORG, "sme", "Small business").await;
    api.set_categories(ORG, c, &["retail", "sme"]).await;

    let account = id_of(
        &api.create_external_account_ok(
            ORG,
            c,
            &json!({"external_id": "hist-acct", "scheme": "iban", "identification": IBAN,
                     "currency": "EUR", "kind": "current", "holder_type": "individual"}),
        )
        .await,
    );
    let patch = api.update_external_account(ORG, c, &account, &json!({"nickname": "Salary"}));
    expect_status(patch.await, StatusCode::OK, "patch account").await;
    let reveal = api.reveal_external_account_identification(ORG, c, &account);
    expect_status(reveal.await, StatusCode::OK, "reveal").await;
    let delete = api.delete_external_account(ORG, c, &account);
    expect_status(delete.await, StatusCode::NO_CONTENT, "delete account").await;

    let credential = id_of(&api.new_credential(ORG, c, "password", PASSWORD).await);
    let patch = api.update_customer_credential(ORG, c, &credential, &json!({"label": "Web"}));
    expect_status(patch.await, StatusCode::OK, "patch credential").await;
    let secret = json!({"secret": NEW_PASSWORD, "must_change": true});
    let set = api.set_customer_credential_secret(ORG, c, &credential, &secret);
    expect_status(set.await, StatusCode::NO_CONTENT, "new secret").await;
    let delete = api.delete_customer_credential(ORG, c, &credential);
    expect_status(delete.await, StatusCode::NO_CONTENT, "delete credential").await;

    let process = api.new_identification(ORG, c).await;
    api.submit_identification(ORG, c, &process).await;
    let review = reviewer(&app);
    let start = review.start_identification_review(ORG, c, &process);
    expect_status(start.await, StatusCode::OK, "start review").await;
    let approve = review.approve_identification_process(ORG, c, &process);
    sent_as(approve, "req-approve", StatusCode::OK).await;

    let delete = api.delete_customer(ORG, c);
    sent_as(delete, "req-delete", StatusCode::NO_CONTENT).await;

    // Still readable after the delete; the other paths under the customer are gone.
    let history = events(api, c).await;
    assert_eq!(
        actions(&history),
        [
            "customer.created",
            "special_treatment.set",
            "categories.set",
            "account.created",
            "account.updated",
            "account.identification_revealed",
            "account.deleted",
            "credential.created",
            "credential.updated",
            "credential.secret_set",
            "credential.deleted",
            "identification.created",
            "identification.submitted",
            "identification.review_started",
            "identification.approved",
            "customer.deleted",
        ]
    );
    let treatment = api.get_customer_special_treatment(ORG, c).await;
    assert_eq!(treatment.status(), StatusCode::NOT_FOUND);

    // Who, which request, about what.
    for event in &history {
        let who = match event["action"].as_str().unwrap() {
            "identification.review_started" | "identification.approved" => "reviewer-9",
            _ => "tester",
        };
        assert_eq!(event["actor"], who, "{event}");
        assert!(event["id"].as_str().is_some_and(|id| id.len() == 36));
        assert!(event["occurred_at"].as_str().is_some());
    }
    assert_eq!(history[0]["request_id"], "req-create");
    assert_eq!(history[1]["request_id"], "req-treatment");
    assert_eq!(history[14]["request_id"], "req-approve");
    assert_eq!(history[15]["request_id"], "req-delete");
    assert_eq!(
        history[0]["resource"],
        json!({"type": "customer", "id": customer})
    );
    assert_eq!(
        history[0]["changes"],
        json!({"external_id": "hist-1", "display_name": "Ada"})
    );
    assert_eq!(
        history[1]["resource"],
        json!({"type": "special_treatment", "id": customer})
    );
    assert_eq!(
        history[1]["changes"],
        json!({"values": ["vulnerable", "no-marketing"]})
    );
    assert_eq!(history[2]["changes"], json!({"keys": ["retail", "sme"]}));
    assert_eq!(
        history[3]["resource"],
        json!({"type": "account", "id": account})
    );
    assert_eq!(history[4]["changes"], json!({"nickname": "Salary"}));
    assert_eq!(history[9]["changes"], json!({"must_change": true}));
    assert_eq!(
        history[12]["resource"],
        json!({"type": "identification_process", "id": process})
    );
    assert_eq!(history[14]["changes"]["status"], "approved");
    assert_eq!(history[15]["changes"], json!({}));
    // Never a secret, a hash or an account number, not even in part.
    let whole = serde_json::to_string(&history).unwrap();
    for secret in [PASSWORD, NEW_PASSWORD, IBAN, "argon2", "5698765432", "GB82"] {
        assert!(!whole.contains(secret), "{secret} in the history: {whole}");
    }
}

#[tokio::test]
async fn refused_failed_and_empty_writes_leave_no_event_and_a_lock_leaves_one() {
    let app = spawn_app().await;
    let api = &app.api;
    let customer = api.new_customer(ORG).await;
    let c = customer.as_str();
    let baseline = events(api, c).await.len();
    assert_eq!(baseline, 1, "customer.created");

    // Refused: a bad body, an unknown category, another organization's token, a duplicate.
    let bad = api.set_customer_special_treatment(ORG, c, &json!({"values": [" x"]}));
    assert_eq!(bad.await.status(), StatusCode::BAD_REQUEST);
    let unknown = api.set_customer_categories(ORG, c, &json!({"keys": ["nope"]}));
    assert_eq!(unknown.await.status(), StatusCode::BAD_REQUEST);
    let outsider = app
        .api
        .with_token(&token_for("outsider", &["globex"], ALL_SCOPES));
    let body = json!({"values": ["vip"]});
    let refused = outsider.set_customer_special_treatment(ORG, c, &body);
    assert_eq!(refused.await.status(), StatusCode::FORBIDDEN);
    let account = json!({"external_id": "dup", "scheme": "iban", "identification": IBAN,
                         "currency": "EUR", "kind": "current", "holder_type": "individual"});
    api.create_external_account_ok(ORG, c, &account).await;
    let duplicate = api.create_external_account(ORG, c, &account).await;
    assert_eq!(duplicate.status(), StatusCode::CONFLICT);
    // A transition not allowed from the current state.
    let process = api.new_identification(ORG, c).await;
    let refused = api.start_identification_review(ORG, c, &process).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    // An account patch that changes nothing.
    let account_id = id_of(&api.external_accounts_page(ORG, c, "").await["items"][0]);
    let same = api.update_external_account(ORG, c, &account_id, &json!({"status": "active"}));
    expect_status(same.await, StatusCode::OK, "no-op patch").await;
    assert_eq!(
        actions(&events(api, c).await),
        [
            "customer.created",
            "account.created",
            "identification.created"
        ]
    );

    // Wrong secrets: no event until the fifth locks the credential, then exactly one.
    let credential = id_of(&api.new_credential(ORG, c, "password", PASSWORD).await);
    for attempt in 1..=5 {
        let verification = api.verify(ORG, c, &credential, "wrong-password-123").await;
        assert_eq!(verification["valid"], false);
        let locked = events(api, c)
            .await
            .iter()
            .filter(|e| e["action"] == "credential.locked")
            .count();
        assert_eq!(locked, usize::from(attempt == 5), "after attempt {attempt}");
    }
    let history = events(api, c).await;
    let last = history.last().unwrap();
    assert_eq!(last["action"], "credential.locked");
    assert_eq!(
        last["changes"],
        json!({"status": "locked", "failed_attempts": 5})
    );
    // A locked credential's verifications change nothing: no event.
    api.verify(ORG, c, &credential, PASSWORD).await;
    assert_eq!(events(api, c).await.len(), history.len());
}

#[tokio::test]
async fn pages_run_newest_first_with_cursors_and_since_keeps_the_newer_events() {
    let app = spawn_app().await;
    let api = &app.api;
    let customer = api.new_customer(ORG).await;
    let c = customer.as_str();
    for n in 0..5 {
        api.set_special_treatment(ORG, c, &[&format!("v{n}")]).await;
    }
    // 6 events: created, then v0..v4. Pages of 2, newest first.
    let mut seen = Vec::new();
    let mut query = "limit=2".to_owned();
    loop {
        let page = api.history(ORG, c, &query).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit=2&cursor={cursor}"),
            None => break,
        }
    }
    let values: Vec<Value> = seen
        .iter()
        .map(|e| e["changes"]["values"].clone())
        .collect();
    assert_eq!(
        values,
        [
            json!(["v4"]),
            json!(["v3"]),
            json!(["v2"]),
            json!(["v1"]),
            json!(["v0"]),
            Value::Null
        ]
    );
    assert_eq!(seen[5]["action"], "customer.created");

    // `since` the third newest event's time: only what came after it.
    let third = seen[2]["occurred_at"].as_str().unwrap();
    let since = url_encode(third);
    let page = api.history(ORG, c, &format!("since={since}")).await;
    let newer: Vec<&Value> = page["items"].as_array().unwrap().iter().collect();
    assert!(
        newer
            .iter()
            .all(|e| e["occurred_at"].as_str().unwrap() > third),
        "{page}"
    );
    assert!(newer.len() <= 2 && newer.first().map(|e| &e["id"]) == Some(&seen[0]["id"]));
    // After the newest: none, but the customer exists: an empty page.
    let newest = url_encode(seen[0]["occurred_at"].as_str().unwrap());
    let page = api.history(ORG, c, &format!("since={newest}")).await;
    assert_eq!(page, json!({"items": [], "next_cursor": null}));

    // Malformed parameters are 400 naming them.
    for (query, field) in [
        ("cursor=not-a-cursor", "cursor"),
        ("limit=0", "limit"),
        ("since=yesterday", "since"),
    ] {
        let resp = api.get_customer_history(ORG, c, query).await;
        let body = assert_error(resp, StatusCode::BAD_REQUEST, "invalid_parameter").await;
        assert_eq!(body["details"][0]["field"], field, "{query}: {body}");
    }
}

fn url_encode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn only_customers_that_exist_or_existed_in_the_organization_have_a_history() {
    let app = spawn_app().await;
    let api = &app.api;
    let nobody = uuid::Uuid::now_v7().to_string();
    let resp = api.get_customer_history(ORG, &nobody, "").await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    // Another organization's customer is not found, deleted or not.
    let theirs = app.create_customer("globex", "theirs").await;
    let theirs = id_of(&theirs);
    let resp = api.get_customer_history(ORG, &theirs, "").await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    // The history needs the privileged scope: the default grant does not carry it.
    let customer = api.new_customer(ORG).await;
    let default = api.with_token(&token_for("tester", &[ORG], DEFAULT_SCOPES));
    let resp = default.get_customer_history(ORG, &customer, "").await;
    assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
    // Other paths under a deleted customer are 404; its history is not.
    let delete = api.delete_customer(ORG, &customer).await;
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    let gone = api.get_customer_special_treatment(ORG, &customer).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let gone = api.get_customer(ORG, &customer).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let history = events(api, &customer).await;
    assert_eq!(actions(&history), ["customer.created", "customer.deleted"]);
}
