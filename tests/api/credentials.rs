//! Customer credentials: create, list, get, merge-patch, delete, new secret, and verification
//! (counting, locking, unlocking), and that no secret or hash ever leaves the server. Every
//! rule of the contract's "Customer credentials" section, on SQLite and (with
//! `TEST_DATABASE_URL`) PostgreSQL.

use std::time::Duration;

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::{
    client::{ApiClient, credential_path, credentials_path, expect_status},
    helpers::{
        ALL_SCOPES, ORG, TestDb, assert_error, detail_fields, direct_connection, spawn_app,
        spawn_app_with, token,
    },
    process::ServerProcess,
};

const OTHER_ORG: &str = "globex";
const PASSWORD: &str = "Zebra-Password-5Kx!";
const PIN: &str = "8642";

/// A customer with a password credential; (customer id, credential).
async fn customer_with_password(api: &ApiClient) -> (String, Value) {
    let customer = api.new_customer(ORG).await;
    let credential = api
        .new_credential(ORG, &customer, "password", PASSWORD)
        .await;
    (customer, credential)
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_credential_is_created_listed_read_and_deleted() {
    let app = spawn_app().await;
    let api = &app.api;
    let customer = api.new_customer(ORG).await;

    // Empty list first.
    let page = api.get_json(&credentials_path(ORG, &customer)).await;
    assert_eq!(page, json!({"items": [], "next_cursor": null}));

    let body = json!({"type": "password", "secret": PASSWORD, "label": "Online banking", "must_change": true});
    let resp = api.create_customer_credential(ORG, &customer, &body).await;
    let resp = expect_status(resp, StatusCode::CREATED, "create").await;
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = resp.json().await.unwrap();
    assert_eq!(location, credential_path(ORG, &customer, &id(&created)));
    let keys: Vec<&str> = created
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "type",
            "label",
            "status",
            "must_change",
            "failed_attempts",
            "created_at",
            "updated_at",
            "last_changed_at"
        ]
    );
    assert_eq!(created["type"], "password");
    assert_eq!(created["label"], "Online banking");
    assert_eq!(created["status"], "active");
    assert_eq!(created["must_change"], true);
    assert_eq!(created["failed_attempts"], 0);
    assert_eq!(created["created_at"], created["last_changed_at"]);
    assert_eq!(api.get_json(&location).await, created);

    // One per type: a second password is 409 naming `type`; a PIN is fine.
    let resp = api
        .create_customer_credential(
            ORG,
            &customer,
            &json!({"type": "password", "secret": "another password!"}),
        )
        .await;
    let error = assert_error(resp, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(detail_fields(&error), ["type"], "{error}");
    let pin = api.new_credential(ORG, &customer, "pin", PIN).await;
    assert_eq!(pin["label"], Value::Null);
    assert_eq!(pin["must_change"], false, "must_change defaults to false");

    // The list: both, in id order, one page.
    let page = api.get_json(&credentials_path(ORG, &customer)).await;
    assert_eq!(page["next_cursor"], Value::Null);
    let ids: Vec<String> = page["items"].as_array().unwrap().iter().map(id).collect();
    assert_eq!(ids, [id(&created), id(&pin)]);

    // Another organization's path does not reach it; nor does another customer's.
    let both = api.with_token(&token(&[ORG, OTHER_ORG], ALL_SCOPES));
    let resp = both
        .get_customer_credential(OTHER_ORG, &customer, &id(&created))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = both.list_customer_credentials(OTHER_ORG, &customer).await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let stranger = api.new_customer(ORG).await;
    let resp = api
        .get_customer_credential(ORG, &stranger, &id(&created))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = api
        .verify_customer_credential(ORG, &stranger, &id(&created), &json!({"secret": PASSWORD}))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;

    // A credential for a customer that does not exist: 404.
    let nobody = uuid::Uuid::now_v7().to_string();
    let resp = api
        .create_customer_credential(ORG, &nobody, &json!({"type": "pin", "secret": PIN}))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;

    // Delete: 204, then 404; the type is free again.
    let resp = api
        .delete_customer_credential(ORG, &customer, &id(&created))
        .await;
    expect_status(resp, StatusCode::NO_CONTENT, "delete").await;
    let resp = api
        .delete_customer_credential(ORG, &customer, &id(&created))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = api
        .get_customer_credential(ORG, &customer, &id(&created))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    api.new_credential(ORG, &customer, "password", PASSWORD)
        .await;
}

#[tokio::test]
async fn deleting_the_customer_removes_its_credentials() {
    let (db, url) = TestDb::create().await;
    let app = crate::helpers::start(crate::helpers::test_settings(url.clone()), db).await;
    let api = &app.api;
    let (customer, _) = customer_with_password(api).await;
    api.new_credential(ORG, &customer, "pin", PIN).await;
    let (kept, _) = customer_with_password(api).await;
    let resp = api.delete_customer(ORG, &customer).await;
    expect_status(resp, StatusCode::NO_CONTENT, "delete customer").await;

    let resp = api.list_customer_credentials(ORG, &customer).await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let db = direct_connection(&url).await;
    let left = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) FROM customer_credentials".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap();
    assert_eq!(left, 1, "only the other customer's credential is left");
    let page = api.get_json(&credentials_path(ORG, &kept)).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_body_that_breaks_a_rule_is_400_naming_the_field_never_the_value() {
    let app = spawn_app().await;
    let api = &app.api;
    let customer = api.new_customer(ORG).await;
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({}), vec!["type", "secret"]),
        (
            json!({"type": "otp", "secret": "Kestrel-77-secret"}),
            vec!["type"],
        ),
        (
            json!({"type": "password", "secret": "Kestrel-77"}),
            vec!["secret"],
        ),
        (
            json!({"type": "password", "secret": format!("Kestrel{}", "x".repeat(122))}),
            vec!["secret"],
        ),
        (json!({"type": "pin", "secret": "975"}), vec!["secret"]),
        (
            json!({"type": "pin", "secret": "975310864"}),
            vec!["secret"],
        ),
        (json!({"type": "pin", "secret": "97a5"}), vec!["secret"]),
        (json!({"type": "pin", "secret": 9753}), vec!["secret"]),
        (
            json!({"type": "pin", "secret": "9753", "label": " x"}),
            vec!["label"],
        ),
        (
            json!({"type": "pin", "secret": "9753", "label": "x".repeat(65)}),
            vec!["label"],
        ),
        (
            json!({"type": "pin", "secret": "9753", "must_change": "yes"}),
            vec!["must_change"],
        ),
        (
            json!({"type": "pin", "secret": "9753", "status": "active"}),
            vec!["status"],
        ),
    ];
    for (body, fields) in cases {
        let resp = api.create_customer_credential(ORG, &customer, &body).await;
        let error = assert_error(resp, StatusCode::BAD_REQUEST, "invalid_request_body").await;
        assert_eq!(detail_fields(&error), fields, "{error}");
        // The message and details (not the request id, whose hex digits may hold a PIN).
        let said = format!("{} {}", error["message"], error["details"]);
        if let Some(secret) = body["secret"].as_str() {
            assert!(!said.contains(secret), "{error}");
            assert!(!said.contains("Kestrel"), "{error}");
        }
    }
    // Any characters in a password, white space included; 12 and 128 characters.
    let (c1, c2) = (api.new_customer(ORG).await, api.new_customer(ORG).await);
    api.new_credential(ORG, &c1, "password", " twelve char")
        .await;
    api.new_credential(ORG, &c2, "password", &"é".repeat(128))
        .await;
    let page = api.get_json(&credentials_path(ORG, &customer)).await;
    assert_eq!(page["items"], json!([]), "nothing was created");

    // A new secret follows the credential's type; its error names `secret` only.
    let pin = api.new_credential(ORG, &customer, "pin", PIN).await;
    for bad in ["Kestrel-77-secret", "123", ""] {
        let resp = api
            .set_customer_credential_secret(ORG, &customer, &id(&pin), &json!({"secret": bad}))
            .await;
        let error = assert_error(resp, StatusCode::BAD_REQUEST, "invalid_request_body").await;
        assert_eq!(detail_fields(&error), ["secret"], "{error}");
        assert!(!error.to_string().contains("Kestrel"), "{error}");
    }
    let resp = api
        .set_customer_credential_secret(
            ORG,
            &customer,
            &id(&pin),
            &json!({"secret": "1357", "x": 1}),
        )
        .await;
    let error = assert_error(resp, StatusCode::BAD_REQUEST, "invalid_request_body").await;
    assert_eq!(detail_fields(&error), ["x"]);
    let nobody = uuid::Uuid::now_v7().to_string();
    let resp = api
        .set_customer_credential_secret(ORG, &customer, &nobody, &json!({"secret": "1357"}))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;

    // Verify: the secret must be a string; anything else about it is just wrong.
    for (body, field) in [
        (json!({}), "secret"),
        (json!({"secret": 1357}), "secret"),
        (json!({"secret": "1357", "pin": 1}), "pin"),
    ] {
        let resp = api
            .verify_customer_credential(ORG, &customer, &id(&pin), &body)
            .await;
        let error = assert_error(resp, StatusCode::BAD_REQUEST, "invalid_request_body").await;
        assert_eq!(detail_fields(&error), [field], "{error}");
    }
    let unchanged = api.credential(ORG, &customer, &id(&pin)).await;
    assert_eq!(unchanged["failed_attempts"], 0, "a 400 counts nothing");
}

#[tokio::test]
async fn a_patch_is_a_merge_patch_of_label_and_status() {
    let app = spawn_app().await;
    let api = &app.api;
    let (customer, credential) = customer_with_password(api).await;
    let cid = id(&credential);
    let patch = |body: Value| {
        let (customer, cid) = (customer.clone(), cid.clone());
        async move {
            api.update_customer_credential(ORG, &customer, &cid, &body)
                .await
        }
    };
    let resp = patch(json!({"label": "Online"})).await;
    let labelled: Value = expect_status(resp, StatusCode::OK, "label")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(labelled["label"], "Online");
    assert_eq!(labelled["status"], "active");
    // Absent: unchanged.
    let resp = patch(json!({"status": "disabled"})).await;
    let disabled: Value = expect_status(resp, StatusCode::OK, "disable")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(disabled["label"], "Online");
    assert_eq!(disabled["status"], "disabled");
    let resp = patch(json!({})).await;
    let same: Value = expect_status(resp, StatusCode::OK, "empty")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(same, disabled);
    // null clears the label.
    let resp = patch(json!({"label": null, "status": "active"})).await;
    let cleared: Value = expect_status(resp, StatusCode::OK, "clear")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["label"], Value::Null);
    assert_eq!(cleared["status"], "active");
    assert_eq!(api.credential(ORG, &customer, &cid).await, cleared);

    for (body, field) in [
        (json!({"status": "locked"}), "status"),
        (json!({"status": null}), "status"),
        (json!({"label": ""}), "label"),
        (json!({"label": 3}), "label"),
        (json!({"secret": PASSWORD}), "secret"),
        (json!({"type": "pin"}), "type"),
    ] {
        let resp = patch(body.clone()).await;
        let error = assert_error(resp, StatusCode::BAD_REQUEST, "invalid_request_body").await;
        assert_eq!(detail_fields(&error), [field], "{body}: {error}");
        assert!(!error.to_string().contains(PASSWORD), "{error}");
    }
    let nobody = uuid::Uuid::now_v7().to_string();
    let resp = api
        .update_customer_credential(ORG, &customer, &nobody, &json!({"label": "x"}))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn five_consecutive_failures_lock_and_only_a_new_secret_unlocks() {
    let app = spawn_app().await;
    let api = &app.api;
    let (customer, credential) = customer_with_password(api).await;
    let cid = id(&credential);
    let verify = |secret: &'static str| {
        let (customer, cid) = (customer.clone(), cid.clone());
        async move { api.verify(ORG, &customer, &cid, secret).await }
    };

    assert_eq!(
        verify(PASSWORD).await,
        json!({"valid": true, "status": "active", "must_change": false})
    );
    // Four wrong (any format): counted, still active.
    for (n, wrong) in ["wrong password!", "1234", "", "Zebra-Password-5Kx"]
        .into_iter()
        .enumerate()
    {
        let result = verify(wrong).await;
        assert_eq!(
            result,
            json!({"valid": false, "status": "active", "must_change": false})
        );
        let now = api.credential(ORG, &customer, &cid).await;
        assert_eq!(now["failed_attempts"], n + 1, "{now}");
    }
    // A right one resets the count.
    assert_eq!(verify(PASSWORD).await["valid"], true);
    assert_eq!(
        api.credential(ORG, &customer, &cid).await["failed_attempts"],
        0
    );

    // Five consecutive wrong ones: the fifth answer already says locked.
    for n in 1..=5 {
        let result = verify("wrong password!").await;
        let expected = if n < 5 { "active" } else { "locked" };
        assert_eq!(result["valid"], false);
        assert_eq!(result["status"], expected, "failure {n}");
    }
    let locked = api.credential(ORG, &customer, &cid).await;
    assert_eq!(locked["status"], "locked");
    assert_eq!(locked["failed_attempts"], 5);
    // Locked: the right secret does not verify, and nothing more is counted.
    for secret in [PASSWORD, "wrong password!"] {
        assert_eq!(
            verify(secret).await,
            json!({"valid": false, "status": "locked", "must_change": false})
        );
    }
    assert_eq!(
        api.credential(ORG, &customer, &cid).await["failed_attempts"],
        5
    );

    // A status on a locked credential is 409 naming `status`; its label may change.
    for status in ["active", "disabled"] {
        let resp = api
            .update_customer_credential(
                ORG,
                &customer,
                &cid,
                &json!({"status": status, "label": "x"}),
            )
            .await;
        let error = assert_error(resp, StatusCode::CONFLICT, "conflict").await;
        assert_eq!(detail_fields(&error), ["status"], "{error}");
    }
    let resp = api
        .update_customer_credential(ORG, &customer, &cid, &json!({"label": "Locked one"}))
        .await;
    let relabelled: Value = expect_status(resp, StatusCode::OK, "label")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(relabelled["label"], "Locked one");
    assert_eq!(relabelled["status"], "locked");

    // A new secret unlocks, clears the count, sets must_change and last_changed_at.
    tokio::time::sleep(Duration::from_millis(5)).await;
    api.set_secret(ORG, &customer, &cid, "a brand new password", true)
        .await;
    let reset = api.credential(ORG, &customer, &cid).await;
    assert_eq!(reset["status"], "active");
    assert_eq!(reset["failed_attempts"], 0);
    assert_eq!(reset["must_change"], true);
    assert!(
        reset["last_changed_at"].as_str() > credential["last_changed_at"].as_str(),
        "{reset}"
    );
    assert_eq!(reset["created_at"], credential["created_at"]);
    assert_eq!(
        verify(PASSWORD).await,
        json!({"valid": false, "status": "active", "must_change": true}),
        "the old secret no longer verifies"
    );
    assert_eq!(
        verify("a brand new password").await,
        json!({"valid": true, "status": "active", "must_change": true})
    );
    // must_change absent: false.
    let resp = api
        .set_customer_credential_secret(
            ORG,
            &customer,
            &cid,
            &json!({"secret": "yet another password"}),
        )
        .await;
    expect_status(resp, StatusCode::NO_CONTENT, "set").await;
    assert_eq!(
        verify("yet another password").await,
        json!({"valid": true, "status": "active", "must_change": false})
    );
}

#[tokio::test]
async fn a_disabled_credential_never_verifies_and_a_new_secret_does_not_enable_it() {
    let app = spawn_app().await;
    let api = &app.api;
    let customer = api.new_customer(ORG).await;
    let pin = api.new_credential(ORG, &customer, "pin", PIN).await;
    let cid = id(&pin);
    let resp = api
        .update_customer_credential(ORG, &customer, &cid, &json!({"status": "disabled"}))
        .await;
    expect_status(resp, StatusCode::OK, "disable").await;
    for secret in [PIN, "0000", "not a pin"] {
        assert_eq!(
            api.verify(ORG, &customer, &cid, secret).await,
            json!({"valid": false, "status": "disabled", "must_change": false})
        );
    }
    assert_eq!(
        api.credential(ORG, &customer, &cid).await["failed_attempts"],
        0
    );

    api.set_secret(ORG, &customer, &cid, "97531", false).await;
    let still = api.credential(ORG, &customer, &cid).await;
    assert_eq!(
        still["status"], "disabled",
        "a new secret does not re-enable"
    );
    assert_eq!(
        api.verify(ORG, &customer, &cid, "97531").await["valid"],
        false
    );

    let resp = api
        .update_customer_credential(ORG, &customer, &cid, &json!({"status": "active"}))
        .await;
    expect_status(resp, StatusCode::OK, "enable").await;
    assert_eq!(
        api.verify(ORG, &customer, &cid, "97531").await,
        json!({"valid": true, "status": "active", "must_change": false})
    );
}

/// 20 wrong verifications of one credential at once: every one counts until the lock, so
/// the count stops at exactly 5, exactly four answers say `active` (failures 1-4), and the
/// others say `locked`. A lost update would leave the count short or let more through.
#[tokio::test]
async fn concurrent_wrong_verifications_all_count_until_the_lock() {
    // Hashing is bounded per core: give the queue time on a busy machine.
    let app = spawn_app_with(|s| s.repo.acquire_timeout = Duration::from_secs(20)).await;
    let api = &app.api;
    let (customer, credential) = customer_with_password(api).await;
    let cid = id(&credential);
    let calls = (0..20).map(|i| {
        let (api, customer, cid) = (api.clone(), customer.clone(), cid.clone());
        async move {
            let secret = format!("wrong password {i}");
            api.verify(ORG, &customer, &cid, &secret).await
        }
    });
    let results = futures::future::join_all(calls).await;
    let active = results.iter().filter(|r| r["status"] == "active").count();
    let locked = results.iter().filter(|r| r["status"] == "locked").count();
    assert!(results.iter().all(|r| r["valid"] == false), "{results:?}");
    assert_eq!((active, locked), (4, 16), "{results:?}");
    let now = api.credential(ORG, &customer, &cid).await;
    assert_eq!(now["status"], "locked");
    assert_eq!(now["failed_attempts"], 5, "{now}");

    // Unlocked by a new secret, 20 concurrent right ones all verify, counting nothing.
    api.set_secret(ORG, &customer, &cid, PASSWORD, false).await;
    let calls = (0..20).map(|_| {
        let (api, customer, cid) = (api.clone(), customer.clone(), cid.clone());
        async move { api.verify(ORG, &customer, &cid, PASSWORD).await }
    });
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().all(|r| r["valid"] == true), "{results:?}");
    assert_eq!(
        api.credential(ORG, &customer, &cid).await["failed_attempts"],
        0
    );
}

/// The whole life of two credentials through the real binary, logging at `trace`: no answer
/// (body or header) and no log line holds a secret or the stored hash; the hash is an
/// Argon2id PHC string with OWASP's parameters and its own salt. And the v1 promises: every
/// answer `no-store` with a request id, `405` with `Allow`, the routes in the metrics.
#[tokio::test]
async fn no_secret_or_hash_leaves_the_server() {
    let (_db, url) = TestDb::create().await;
    let server = ServerProcess::start(&url, &[("RUST_LOG", "trace")]).await;
    let api = &server.api;
    let secrets = [
        "Ocelot-Secret-3Qz#",
        "Narwhal-Secret-8Vb$",
        "Wrong-Guess-Pangolin",
        "70419356",
        "86203571",
    ];
    let [first, second, wrong, pin, new_pin] = secrets;
    let customer = api.new_customer(ORG).await;
    let body = |secret: &str| json!({"type": "password", "secret": secret, "label": "web"});
    let resp = api
        .create_customer_credential(ORG, &customer, &body(first))
        .await;
    let created: Value = expect_status(resp, StatusCode::CREATED, "create")
        .await
        .json()
        .await
        .unwrap();
    let cid = id(&created);
    let resp = api
        .create_customer_credential(ORG, &customer, &json!({"type": "pin", "secret": pin}))
        .await;
    let pin_credential: Value = expect_status(resp, StatusCode::CREATED, "pin")
        .await
        .json()
        .await
        .unwrap();
    let pid = id(&pin_credential);

    let mut answers = vec![
        (
            "conflict",
            api.create_customer_credential(ORG, &customer, &body(second))
                .await,
        ),
        (
            "bad pin",
            api.create_customer_credential(
                ORG,
                &customer,
                &json!({"type": "pin", "secret": first}),
            )
            .await,
        ),
        ("list", api.list_customer_credentials(ORG, &customer).await),
        (
            "get",
            api.get_customer_credential(ORG, &customer, &cid).await,
        ),
        (
            "verify right",
            api.verify_customer_credential(ORG, &customer, &cid, &json!({"secret": first}))
                .await,
        ),
    ];
    for _ in 0..5 {
        answers.push((
            "verify wrong",
            api.verify_customer_credential(ORG, &customer, &cid, &json!({"secret": wrong}))
                .await,
        ));
    }
    answers.extend([
        (
            "patch locked",
            api.update_customer_credential(ORG, &customer, &cid, &json!({"status": "active"}))
                .await,
        ),
        (
            "bad secret for a pin",
            api.set_customer_credential_secret(ORG, &customer, &pid, &json!({"secret": second}))
                .await,
        ),
        (
            "reset",
            api.set_customer_credential_secret(
                ORG,
                &customer,
                &cid,
                &json!({"secret": second, "must_change": true}),
            )
            .await,
        ),
        (
            "verify new",
            api.verify_customer_credential(ORG, &customer, &cid, &json!({"secret": second}))
                .await,
        ),
        (
            "pin reset",
            api.set_customer_credential_secret(ORG, &customer, &pid, &json!({"secret": new_pin}))
                .await,
        ),
        (
            "verify pin",
            api.verify_customer_credential(ORG, &customer, &pid, &json!({"secret": new_pin}))
                .await,
        ),
        (
            "verify unknown field",
            api.verify_customer_credential(ORG, &customer, &pid, &json!({"secret": pin, "x": pin}))
                .await,
        ),
        (
            "no token",
            api.without_token()
                .verify_customer_credential(ORG, &customer, &pid, &json!({"secret": pin}))
                .await,
        ),
        (
            "get after",
            api.get_customer_credential(ORG, &customer, &cid).await,
        ),
    ]);

    // The stored hashes, read straight from the database.
    let db = direct_connection(&url).await;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT secret_hash FROM customer_credentials".to_owned(),
        ))
        .await
        .unwrap();
    let hashes: Vec<String> = rows
        .iter()
        .map(|row| row.try_get_by_index::<String>(0).unwrap())
        .collect();
    assert_eq!(hashes.len(), 2);
    for hash in &hashes {
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let parts: Vec<&str> = hash.split('$').collect();
        assert_eq!(parts.len(), 6, "$argon2id$v$params$salt$hash");
        assert!(parts[4].len() >= 22, "a 16-byte salt at least");
        for secret in secrets {
            assert!(!hash.contains(secret));
        }
    }
    assert_ne!(
        hashes[0].split('$').nth(4),
        hashes[1].split('$').nth(4),
        "one salt each"
    );
    let salts: Vec<&str> = hashes
        .iter()
        .map(|h| h.split('$').nth(4).unwrap())
        .collect();
    let digests: Vec<&str> = hashes
        .iter()
        .map(|h| h.split('$').nth(5).unwrap())
        .collect();

    let mut forbidden: Vec<&str> = secrets.to_vec();
    forbidden.extend(hashes.iter().map(String::as_str));
    forbidden.extend(salts.iter().chain(&digests));
    forbidden.extend(["argon2", "m=19456"]);
    let mut statuses = vec![];
    for (what, resp) in answers {
        let status = resp.status();
        statuses.push((what, status.as_u16()));
        assert_eq!(resp.headers()["cache-control"], "no-store", "{what}");
        let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
        let headers = format!("{:?}", resp.headers());
        let body = resp.text().await.unwrap();
        for leak in &forbidden {
            assert!(!body.contains(leak), "{what}: {leak} in the answer {body}");
            assert!(
                !headers.contains(leak),
                "{what}: {leak} in the headers {headers}"
            );
        }
        if !status.is_success() {
            let error: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(error["request_id"], request_id.as_str(), "{what}: {body}");
        }
    }
    let expected = [
        ("conflict", 409),
        ("bad pin", 400),
        ("list", 200),
        ("get", 200),
        ("verify right", 200),
        ("verify wrong", 200),
        ("verify wrong", 200),
        ("verify wrong", 200),
        ("verify wrong", 200),
        ("verify wrong", 200),
        ("patch locked", 409),
        ("bad secret for a pin", 400),
        ("reset", 204),
        ("verify new", 200),
        ("pin reset", 204),
        ("verify pin", 200),
        ("verify unknown field", 400),
        ("no token", 401),
        ("get after", 200),
    ];
    assert_eq!(statuses, expected);

    // 405 with Allow on the new paths.
    for (method, path, allow) in [
        (
            reqwest::Method::PUT,
            credentials_path(ORG, &customer),
            "GET, POST",
        ),
        (
            reqwest::Method::GET,
            format!("{}/verify", credential_path(ORG, &customer, &cid)),
            "POST",
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
    let route =
        "/v1/organizations/{org_id}/customers/{customer_id}/credentials/{credential_id}/verify";
    assert!(
        metrics.contains(&format!("route=\"{route}\"")),
        "{route} in {metrics}"
    );

    // The writes' lines name the actor, the organization and the ids; nothing else.
    let created_line = server
        .wait_for_log_line(|line| line["message"] == "credential created")
        .await;
    assert_eq!(created_line["credential"], cid.as_str(), "{created_line}");
    server
        .wait_for_log_line(|line| line["message"] == "credential secret set")
        .await;
    server
        .wait_for_log_line(|line| line["message"] == "credential verified")
        .await;
    let log = server.log();
    assert!(
        log.lines().count() > 20,
        "the trace log was written:\n{log}"
    );
    for leak in &forbidden {
        assert!(!log.contains(leak), "{leak} reached the log:\n{log}");
    }
}
