//! Customer identification processes: every operation, every transition of the state machine
//! (and every illegal one), expiry, four eyes, racing decisions, one unfinished process per
//! customer, the customer DELETE rule and retention. On SQLite and (with `TEST_DATABASE_URL`)
//! PostgreSQL.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::{
    client::{ApiClient, expect_status, id_of, identification_process_path},
    helpers::{ALL_SCOPES, ORG, TestApp, assert_error, direct_connection, spawn_app, token_for},
};

const OTHER_ORG: &str = "globex";

/// A second principal (`sub` "reviewer") with the privileged review scope: may decide the
/// processes "tester" creates.
fn reviewer(app: &TestApp) -> ApiClient {
    app.api
        .with_token(&token_for("reviewer", &[ORG, OTHER_ORG], ALL_SCOPES))
}

/// The creator ("tester", `app.api`'s `sub`) with the review scope too.
fn creator_reviewer(app: &TestApp) -> ApiClient {
    app.api.with_token(&token_for("tester", &[ORG], ALL_SCOPES))
}

async fn json_of(resp: Response, expected: StatusCode, context: &str) -> Value {
    expect_status(resp, expected, context)
        .await
        .json()
        .await
        .expect("JSON")
}

/// A `409 conflict` naming `status`, whose message names `current`.
async fn assert_state_conflict(resp: Response, current: &str, context: &str) {
    let resp = expect_status(resp, StatusCode::CONFLICT, context).await;
    let body = assert_error(resp, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(body["details"][0]["field"], "status", "{context}: {body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(" {current}")),
        "{context}: the message names {current}: {message}"
    );
}

/// The `details[].field`s of a 400 with `code`.
async fn fields_of(resp: Response, code: &str) -> Vec<String> {
    let body = assert_error(resp, StatusCode::BAD_REQUEST, code).await;
    body["details"]
        .as_array()
        .unwrap_or_else(|| panic!("a 400 has details: {body}"))
        .iter()
        .map(|d| d["field"].as_str().unwrap().to_owned())
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Action {
    Submit,
    Cancel,
    StartReview,
    Approve,
    Reject,
}

const ACTIONS: [Action; 5] = [
    Action::Submit,
    Action::Cancel,
    Action::StartReview,
    Action::Approve,
    Action::Reject,
];

async fn act(api: &ApiClient, action: Action, customer: &str, process: &str) -> Response {
    match action {
        Action::Submit => {
            api.submit_identification_process(ORG, customer, process)
                .await
        }
        Action::Cancel => {
            api.cancel_identification_process(ORG, customer, process)
                .await
        }
        Action::StartReview => {
            api.start_identification_review(ORG, customer, process)
                .await
        }
        Action::Approve => {
            api.approve_identification_process(ORG, customer, process)
                .await
        }
        Action::Reject => {
            let body = json!({"reason": "document_expired"});
            api.reject_identification_process(ORG, customer, process, &body)
                .await
        }
    }
}

/// The contract's table: where `action` leads from `state`, if anywhere.
fn allowed(state: &str, action: Action) -> Option<&'static str> {
    match (state, action) {
        ("created", Action::Submit) => Some("pending"),
        ("created" | "pending", Action::Cancel) => Some("cancelled"),
        ("pending", Action::StartReview) => Some("in_review"),
        ("pending" | "in_review", Action::Approve) => Some("approved"),
        ("pending" | "in_review", Action::Reject) => Some("rejected"),
        _ => None,
    }
}

/// A new customer with a process brought to `state` (created by "tester", moved on by the
/// reviewer); `(customer, process)`. `expires_in_s` for the processes that will expire.
async fn in_state(app: &TestApp, state: &str, expires_in_s: u64) -> (String, String) {
    let review = reviewer(app);
    let customer = app.api.new_customer(ORG).await;
    let body = json!({"method": "video", "expires_in_s": expires_in_s});
    let process = id_of(&app.api.start_identification(ORG, &customer, &body).await);
    let path: &[Action] = match state {
        "created" => &[],
        "pending" => &[Action::Submit],
        "in_review" => &[Action::Submit, Action::StartReview],
        "approved" => &[Action::Submit, Action::Approve],
        "rejected" => &[Action::Submit, Action::Reject],
        "cancelled" => &[Action::Cancel],
        other => panic!("no path to {other}"),
    };
    for action in path {
        let resp = act(&review, *action, &customer, &process).await;
        expect_status(resp, StatusCode::OK, &format!("{action:?} towards {state}")).await;
    }
    (customer, process)
}

#[tokio::test]
async fn a_process_goes_from_creation_to_approval_by_a_second_principal() {
    let app = spawn_app().await;
    let customer = app.api.new_customer(ORG).await;
    let body = json!({
        "method": "video", "provider": "veriff", "provider_reference": "sess-1",
        "expires_in_s": 3600
    });
    let resp = app
        .api
        .create_identification_process(ORG, &customer, &body)
        .await;
    let resp = expect_status(resp, StatusCode::CREATED, "create").await;
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = resp.json().await.unwrap();
    let id = id_of(&created);
    assert_eq!(location, identification_process_path(ORG, &customer, &id));
    assert_eq!(created["customer_id"], customer.as_str());
    assert_eq!(created["method"], "video");
    assert_eq!(created["provider"], "veriff");
    assert_eq!(created["provider_reference"], "sess-1");
    assert_eq!(created["status"], "created");
    assert_eq!(created["status_reason"], Value::Null);
    assert_eq!(created["created_by"], "tester");
    assert_eq!(created["created_at"], created["updated_at"]);
    assert_eq!(created["decided_at"], Value::Null);
    assert_eq!(created["decided_by"], Value::Null);
    let created_at = chrono::DateTime::parse_from_rfc3339(created["created_at"].as_str().unwrap());
    let expires_at = chrono::DateTime::parse_from_rfc3339(created["expires_at"].as_str().unwrap());
    assert_eq!(
        expires_at.unwrap() - created_at.unwrap(),
        chrono::Duration::seconds(3600)
    );
    assert_eq!(app.get_json(&location).await, created);

    let pending = app.api.submit_identification(ORG, &customer, &id).await;
    assert_eq!(pending["status"], "pending");
    assert!(pending["updated_at"].as_str() > created["updated_at"].as_str());

    // The creator may start the review, not decide.
    let creator = creator_reviewer(&app);
    let resp = creator
        .start_identification_review(ORG, &customer, &id)
        .await;
    let in_review = json_of(resp, StatusCode::OK, "start-review by the creator").await;
    assert_eq!(in_review["status"], "in_review");
    let resp = creator
        .approve_identification_process(ORG, &customer, &id)
        .await;
    assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;

    let resp = reviewer(&app)
        .approve_identification_process(ORG, &customer, &id)
        .await;
    let approved = json_of(resp, StatusCode::OK, "approve by the reviewer").await;
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["decided_by"], "reviewer");
    assert_eq!(approved["decided_at"], approved["updated_at"]);
    assert_eq!(approved["status_reason"], Value::Null);
    assert_eq!(approved["created_by"], "tester");
    assert_eq!(approved["created_at"], created["created_at"]);
    assert_eq!(app.api.identification(ORG, &customer, &id).await, approved);

    // Finished: a retry is a new process.
    let retry = app.api.new_identification(ORG, &customer).await;
    let page = app.api.identifications_page(ORG, &customer, "").await;
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [retry.as_str(), id.as_str()], "newest first");
    assert_eq!(page["next_cursor"], Value::Null);
}

#[tokio::test]
async fn a_rejection_records_its_reason_and_the_decision() {
    let app = spawn_app().await;
    let (customer, id) = in_state(&app, "pending", 3600).await;
    let review = reviewer(&app);
    for (body, fields) in [
        (json!({}), vec!["reason"]),
        (json!({"reason": "Free text"}), vec!["reason"]),
        (json!({"reason": ""}), vec!["reason"]),
        (json!({"reason": "a".repeat(65)}), vec!["reason"]),
        (json!({"reason": 3}), vec!["reason"]),
        (json!({"reason": "fraud", "note": "x"}), vec!["note"]),
    ] {
        let resp = review
            .reject_identification_process(ORG, &customer, &id, &body)
            .await;
        assert_eq!(
            fields_of(resp, "invalid_request_body").await,
            fields,
            "{body}"
        );
    }
    let resp = review
        .reject_identification_process(ORG, &customer, &id, &json!({"reason": "document_expired"}))
        .await;
    let rejected = json_of(resp, StatusCode::OK, "reject").await;
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["status_reason"], "document_expired");
    assert_eq!(rejected["decided_by"], "reviewer");
    assert_eq!(rejected["decided_at"], rejected["updated_at"]);
    assert_eq!(app.api.identification(ORG, &customer, &id).await, rejected);
}

#[tokio::test]
async fn every_transition_from_every_state_follows_the_table() {
    let app = spawn_app().await;
    let review = reviewer(&app);
    // Expiring ones first (one second), then the rest (a day); then past the second.
    let mut cases = vec![];
    for (state, reached) in [("expired", "created"), ("expired", "pending")] {
        for action in ACTIONS {
            let (customer, process) = in_state(&app, reached, 1).await;
            cases.push((state, action, customer, process));
        }
    }
    for state in [
        "created",
        "pending",
        "in_review",
        "approved",
        "rejected",
        "cancelled",
    ] {
        for action in ACTIONS {
            let (customer, process) = in_state(&app, state, 86_400).await;
            cases.push((state, action, customer, process));
        }
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(cases.len(), 8 * 5);
    for (state, action, customer, process) in &cases {
        let before = app.api.identification(ORG, customer, process).await;
        assert_eq!(before["status"], *state);
        let resp = act(&review, *action, customer, process).await;
        let context = format!("{action:?} from {state}");
        match allowed(state, *action) {
            Some(to) => {
                let after = json_of(resp, StatusCode::OK, &context).await;
                assert_eq!(after["status"], to, "{context}");
                let decision = matches!(action, Action::Approve | Action::Reject);
                assert_eq!(after["decided_by"].is_string(), decision, "{context}");
                assert_eq!(app.api.identification(ORG, customer, process).await, after);
            }
            None => {
                assert_state_conflict(resp, state, &context).await;
                let after = app.api.identification(ORG, customer, process).await;
                assert_eq!(after, before, "{context}: nothing changed");
            }
        }
    }
}

#[tokio::test]
async fn created_and_pending_processes_expire_in_review_ones_do_not() {
    let app = spawn_app().await;
    let review = reviewer(&app);
    let (created_customer, created) = in_state(&app, "created", 1).await;
    let (pending_customer, pending) = in_state(&app, "pending", 1).await;
    let (review_customer, in_review) = in_state(&app, "in_review", 1).await;
    let before = app
        .api
        .identification(ORG, &pending_customer, &pending)
        .await;
    assert_eq!(before["status"], "pending");
    assert_eq!(
        app.api
            .identifications_page(ORG, &created_customer, "status=expired")
            .await["items"],
        json!([])
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let expired = app
        .api
        .identification(ORG, &pending_customer, &pending)
        .await;
    assert_eq!(expired["status"], "expired");
    assert_eq!(
        expired["updated_at"], before["updated_at"],
        "expiry changes status alone"
    );
    assert_eq!(expired["decided_at"], Value::Null);
    for (customer, process) in [(&created_customer, &created), (&pending_customer, &pending)] {
        let page = app
            .api
            .identifications_page(ORG, customer, "status=expired")
            .await;
        assert_eq!(page["items"][0]["id"], process.as_str());
        for status in ["created", "pending"] {
            let page = app
                .api
                .identifications_page(ORG, customer, &format!("status={status}"))
                .await;
            assert_eq!(page["items"], json!([]), "{status}");
        }
        // Expired is finished: a new process may start.
        app.api.new_identification(ORG, customer).await;
    }
    let resp = review
        .approve_identification_process(ORG, &pending_customer, &pending)
        .await;
    assert_state_conflict(resp, "expired", "approve an expired process").await;

    let still = app
        .api
        .identification(ORG, &review_customer, &in_review)
        .await;
    assert_eq!(still["status"], "in_review", "in_review never expires");
    let page = app
        .api
        .identifications_page(ORG, &review_customer, "status=in_review")
        .await;
    assert_eq!(page["items"][0]["id"], in_review.as_str());
    let resp = review
        .approve_identification_process(ORG, &review_customer, &in_review)
        .await;
    assert_eq!(
        json_of(resp, StatusCode::OK, "approve").await["status"],
        "approved"
    );
}

#[tokio::test]
async fn a_customer_has_at_most_one_unfinished_process() {
    let app = spawn_app().await;
    let customer = app.api.new_customer(ORG).await;
    let first = app.api.new_identification(ORG, &customer).await;
    let body = json!({"method": "bank"});
    for state in ["created", "pending", "in_review"] {
        match state {
            "pending" => {
                app.api.submit_identification(ORG, &customer, &first).await;
            }
            "in_review" => {
                let resp = reviewer(&app)
                    .start_identification_review(ORG, &customer, &first)
                    .await;
                expect_status(resp, StatusCode::OK, "start-review").await;
            }
            _ => {}
        }
        let resp = app
            .api
            .create_identification_process(ORG, &customer, &body)
            .await;
        assert_state_conflict(resp, state, &format!("create while {state}")).await;
    }
    let resp = reviewer(&app)
        .approve_identification_process(ORG, &customer, &first)
        .await;
    expect_status(resp, StatusCode::OK, "approve").await;
    app.api.new_identification(ORG, &customer).await;

    // Racing creates for a fresh customer: exactly one 201.
    let racing = app.api.new_customer(ORG).await;
    let calls = (0..10).map(|_| {
        let api = app.api.clone();
        let racing = racing.clone();
        tokio::spawn(async move {
            api.create_identification_process(ORG, &racing, &json!({"method": "manual"}))
                .await
                .status()
        })
    });
    let statuses: Vec<StatusCode> = futures_util::future::join_all(calls)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let conflicts = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, conflicts), (1, 9), "{statuses:?}");
    let page = app.api.identifications_page(ORG, &racing, "").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn of_racing_decisions_exactly_one_wins() {
    let app = spawn_app().await;
    for state in ["pending", "in_review"] {
        let (customer, process) = in_state(&app, state, 3600).await;
        let calls = (0..20).map(|i| {
            // Each call its own principal: four eyes holds for all, none is the creator.
            let api = app
                .api
                .with_token(&token_for(&format!("reviewer-{i}"), &[ORG], ALL_SCOPES));
            let (customer, process) = (customer.clone(), process.clone());
            let action = if i % 2 == 0 {
                Action::Approve
            } else {
                Action::Reject
            };
            tokio::spawn(async move {
                let resp = act(&api, action, &customer, &process).await;
                let status = resp.status();
                let body: Value = resp.json().await.unwrap();
                (i, action, status, body)
            })
        });
        let outcomes: Vec<_> = futures_util::future::join_all(calls)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let winners: Vec<_> = outcomes
            .iter()
            .filter(|(_, _, status, _)| *status == StatusCode::OK)
            .collect();
        assert_eq!(winners.len(), 1, "{state}: {outcomes:#?}");
        for (_, _, status, body) in &outcomes {
            if *status != StatusCode::OK {
                assert_eq!(*status, StatusCode::CONFLICT, "{body}");
                assert_eq!(body["details"][0]["field"], "status", "{body}");
            }
        }
        let (i, action, _, won) = winners[0];
        let stored = app.api.identification(ORG, &customer, &process).await;
        assert_eq!(&stored, won);
        let expected = if *action == Action::Approve {
            "approved"
        } else {
            "rejected"
        };
        assert_eq!(stored["status"], expected);
        assert_eq!(stored["decided_by"], format!("reviewer-{i}"));
    }
}

#[tokio::test]
async fn four_eyes_the_creator_may_not_decide() {
    let app = spawn_app().await;
    let creator = creator_reviewer(&app);
    let (customer, process) = in_state(&app, "pending", 3600).await;
    for action in [Action::Approve, Action::Reject] {
        let resp = act(&creator, action, &customer, &process).await;
        let body = assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
        assert!(
            body["message"].as_str().unwrap().contains("four eyes"),
            "{body}"
        );
        // 404 comes first: a process that does not exist.
        let missing = uuid::Uuid::now_v7().to_string();
        let resp = act(&creator, action, &customer, &missing).await;
        assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    }
    assert_eq!(
        app.api.identification(ORG, &customer, &process).await["status"],
        "pending"
    );
    // 403 is decided before the state: the creator's decision on a finished process.
    let (customer, cancelled) = in_state(&app, "cancelled", 3600).await;
    let resp = act(&creator, Action::Approve, &customer, &cancelled).await;
    assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
    // The creator may cancel.
    let (customer, created) = in_state(&app, "created", 3600).await;
    let resp = act(&creator, Action::Cancel, &customer, &created).await;
    expect_status(resp, StatusCode::OK, "the creator cancels").await;
}

#[tokio::test]
async fn the_list_is_newest_first_paged_and_filtered_by_status() {
    let app = spawn_app().await;
    let customer = app.api.new_customer(ORG).await;
    let mut ids = vec![];
    for _ in 0..5 {
        let id = app.api.new_identification(ORG, &customer).await;
        let resp = app
            .api
            .cancel_identification_process(ORG, &customer, &id)
            .await;
        expect_status(resp, StatusCode::OK, "cancel").await;
        ids.push(id);
    }
    let last = app.api.new_identification(ORG, &customer).await;
    app.api.submit_identification(ORG, &customer, &last).await;
    ids.push(last.clone());
    ids.reverse();

    let mut seen = vec![];
    let mut query = "limit=2".to_owned();
    loop {
        let page = app.api.identifications_page(ORG, &customer, &query).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|p| p["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ids, "every process once, newest first");

    let page = app
        .api
        .identifications_page(ORG, &customer, "status=cancelled&limit=200")
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
    let page = app
        .api
        .identifications_page(ORG, &customer, "status=pending")
        .await;
    assert_eq!(page["items"][0]["id"], last.as_str());
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let page = app
        .api
        .identifications_page(ORG, &customer, "status=approved")
        .await;
    assert_eq!(page["items"], json!([]));

    for (query, field) in [
        ("status=done", "status"),
        ("status=Pending", "status"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("cursor=%21%21", "cursor"),
    ] {
        let resp = app
            .api
            .list_identification_processes(ORG, &customer, query)
            .await;
        assert_eq!(
            fields_of(resp, "invalid_parameter").await,
            [field],
            "{query}"
        );
    }
    // Another customer's list does not show them.
    let other = app.api.new_customer(ORG).await;
    let page = app.api.identifications_page(ORG, &other, "").await;
    assert_eq!(page["items"], json!([]));
}

#[tokio::test]
async fn every_route_is_404_outside_the_customers_processes() {
    let app = spawn_app().await;
    let (customer, process) = in_state(&app, "pending", 3600).await;
    let other_customer = app.api.new_customer(ORG).await;
    let missing = uuid::Uuid::now_v7().to_string();
    let review = reviewer(&app);
    // The process under another customer, a missing process, a missing customer.
    for (c, p) in [
        (&other_customer, &process),
        (&customer, &missing),
        (&missing, &process),
    ] {
        let resp = review.get_identification_process(ORG, c, p).await;
        assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
        for action in ACTIONS {
            let resp = act(&review, action, c, p).await;
            assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
        }
    }
    for resp in [
        review
            .list_identification_processes(ORG, &missing, "")
            .await,
        review
            .create_identification_process(ORG, &missing, &json!({"method": "bank"}))
            .await,
    ] {
        assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    }
    // Another organization's token and path: its customers only.
    let resp = review
        .get_identification_process(OTHER_ORG, &customer, &process)
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(
        app.api.identification(ORG, &customer, &process).await["status"],
        "pending"
    );
}

#[tokio::test]
async fn a_create_names_each_broken_field() {
    let app = spawn_app().await;
    let customer = app.api.new_customer(ORG).await;
    for (body, fields) in [
        (json!({}), vec!["method"]),
        (json!({"method": "selfie"}), vec!["method"]),
        (json!({"method": 1}), vec!["method"]),
        (
            json!({"method": "document", "provider": "", "provider_reference": " x"}),
            vec!["provider", "provider_reference"],
        ),
        (
            json!({"method": "document", "provider": "p".repeat(65), "provider_reference": "r".repeat(129)}),
            vec!["provider", "provider_reference"],
        ),
        (
            json!({"method": "document", "provider": "a\u{7}b"}),
            vec!["provider"],
        ),
        (
            json!({"method": "document", "expires_in_s": 0}),
            vec!["expires_in_s"],
        ),
        (
            json!({"method": "document", "expires_in_s": 2_592_001}),
            vec!["expires_in_s"],
        ),
        (
            json!({"method": "document", "expires_in_s": "60"}),
            vec!["expires_in_s"],
        ),
        (
            json!({"method": "document", "status": "approved"}),
            vec!["status"],
        ),
        (json!(["document"]), vec!["body"]),
    ] {
        let resp = app
            .api
            .create_identification_process(ORG, &customer, &body)
            .await;
        assert_eq!(
            fields_of(resp, "invalid_request_body").await,
            fields,
            "{body}"
        );
    }
    // The limits themselves pass; null means none.
    let process = app
        .api
        .start_identification(
            ORG,
            &customer,
            &json!({
                "method": "in_person", "provider": "p".repeat(64),
                "provider_reference": null, "expires_in_s": 2_592_000
            }),
        )
        .await;
    assert_eq!(process["method"], "in_person");
    assert_eq!(process["provider_reference"], Value::Null);
}

#[tokio::test]
async fn a_customer_with_an_unfinished_process_cannot_be_deleted_and_finished_ones_are_kept() {
    let app = spawn_app().await;
    for state in ["created", "pending", "in_review"] {
        let (customer, _) = in_state(&app, state, 3600).await;
        let resp = app.api.delete_customer(ORG, &customer).await;
        assert_state_conflict(resp, state, &format!("delete while {state}")).await;
        app.api.customer(ORG, &customer).await;
    }
    // Expired counts as finished.
    let (expiring, _) = in_state(&app, "pending", 1).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let resp = app.api.delete_customer(ORG, &expiring).await;
    expect_status(
        resp,
        StatusCode::NO_CONTENT,
        "delete with an expired process",
    )
    .await;

    let (customer, approved) = in_state(&app, "approved", 3600).await;
    let cancelled = app.api.new_identification(ORG, &customer).await;
    let resp = app
        .api
        .cancel_identification_process(ORG, &customer, &cancelled)
        .await;
    expect_status(resp, StatusCode::OK, "cancel").await;
    let resp = app.api.delete_customer(ORG, &customer).await;
    expect_status(
        resp,
        StatusCode::NO_CONTENT,
        "delete with finished processes",
    )
    .await;

    // Unreachable through the API...
    let resp = app
        .api
        .list_identification_processes(ORG, &customer, "")
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = app
        .api
        .get_identification_process(ORG, &customer, &approved)
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = reviewer(&app)
        .reject_identification_process(ORG, &customer, &approved, &json!({"reason": "x"}))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    // ... and kept in the table.
    use entity::identification_process::{Column, Entity};
    let db = direct_connection(&app.settings.repo.database_url).await;
    let customer_id: uuid::Uuid = customer.parse().unwrap();
    let mut kept: Vec<(String, String)> = Entity::find()
        .filter(Column::CustomerId.eq(customer_id))
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.id.to_string(), row.status))
        .collect();
    kept.sort();
    let mut expected = vec![
        (approved.clone(), "approved".to_owned()),
        (cancelled.clone(), "cancelled".to_owned()),
    ];
    expected.sort();
    assert_eq!(kept, expected);
    db.close().await.ok();
}
