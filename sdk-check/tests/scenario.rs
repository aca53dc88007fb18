//! The client scenario against a live server, through the client progenitor generates from
//! `openapi.yaml`: register a customer, set and read its special treatment, and get a typed
//! `ErrorResponse` for a bad body; and set, verify (right and wrong) and reset a credential.
//! `conformance/run` starts the server and sets `CAPI_URL`, `CAPI_TOKEN`, `CAPI_VERIFY_TOKEN`
//! (with the privileged `credentials:verify`) and `CAPI_ORG`.

use customers_api_sdk_check::{Client, Error, types};

fn client() -> (Client, types::OrgId) {
    client_with("CAPI_TOKEN")
}

fn client_with(token_variable: &str) -> (Client, types::OrgId) {
    let url = std::env::var("CAPI_URL").expect("CAPI_URL: run through conformance/run");
    let token = std::env::var(token_variable)
        .unwrap_or_else(|_| panic!("{token_variable}: run through conformance/run"));
    let org = std::env::var("CAPI_ORG").unwrap_or_else(|_| "acme".to_owned());
    let mut headers = reqwest::header::HeaderMap::new();
    let bearer = format!("Bearer {token}").parse().expect("a header value");
    headers.insert(reqwest::header::AUTHORIZATION, bearer);
    let http = reqwest::Client::builder()
        .no_proxy()
        .default_headers(headers)
        .build()
        .expect("an HTTP client");
    let org = types::OrgId::try_from(org).expect("a valid organization name");
    (Client::new_with_client(&url, http), org)
}

fn values(items: &[&str]) -> types::CustomerSpecialTreatment {
    types::SpecialTreatmentValues {
        values: Some(items.iter().map(|v| v.parse().expect("a valid value")).collect()),
    }
    .into()
}

#[tokio::test]
async fn register_set_read_and_a_typed_error() {
    let (client, org) = client();
    let external_id = format!("rust-sdk-{}", uuid::Uuid::new_v4());
    let new = types::NewCustomer {
        external_id: external_id.clone().try_into().expect("a valid external id"),
        display_name: Some("Rust SDK".to_owned().try_into().expect("a valid name")),
    };
    let created = client.create_customer(&org, &new).await.expect("customer registered");
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let customer = created.into_inner();
    assert_eq!(customer.external_id, external_id);
    assert_eq!(customer.display_name.as_deref(), Some("Rust SDK"));
    assert!(location.ends_with(&customer.id.to_string()));
    println!("ok - customer registered (201)");

    let wanted: types::ListCustomersExternalId =
        external_id.clone().try_into().expect("a valid external id");
    let listed = client
        .list_customers(&org, None, Some(&wanted), None)
        .await
        .expect("customers listed")
        .into_inner();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].id, customer.id);
    assert!(listed.next_cursor.is_none());
    println!("ok - listed by external_id");

    let initial = client
        .get_customer_special_treatment(&org, &customer.id)
        .await
        .expect("special treatment read")
        .into_inner();
    assert_eq!(initial.values.as_deref().map(<[_]>::len), Some(0));
    println!("ok - a new customer has no special treatment");

    let set = client
        .set_customer_special_treatment(&org, &customer.id, &values(&["vulnerable", "no-marketing"]))
        .await
        .expect("special treatment set");
    assert_eq!(set.status(), 204);
    let read = client
        .get_customer_special_treatment(&org, &customer.id)
        .await
        .expect("special treatment read")
        .into_inner();
    let read: Vec<String> = read.0.values.unwrap_or_default().into_iter().map(String::from).collect();
    assert_eq!(read, ["vulnerable", "no-marketing"]);
    println!("ok - special treatment set (204) and read back in order");

    match client
        .set_customer_special_treatment(&org, &customer.id, &values(&["vip", "vip"]))
        .await
    {
        Err(Error::ErrorResponse(error)) => {
            assert_eq!(error.status(), 400);
            let request_id = error.headers()["x-request-id"].to_str().unwrap().to_owned();
            let body = error.into_inner();
            assert_eq!(body.code, "invalid_request_body");
            assert_eq!(body.details[0].field, "values[1]");
            assert_eq!(body.request_id, request_id);
        }
        other => panic!("expected a typed ErrorResponse, got {other:?}"),
    }
    println!("ok - a bad body is a typed 400 ErrorResponse");

    let deleted = client.delete_customer(&org, &customer.id).await.expect("deleted");
    assert_eq!(deleted.status(), 204);
    println!("rust scenario: passed");
}

#[tokio::test]
async fn set_verify_right_and_wrong_and_reset_a_credential() {
    let (client, org) = client();
    let (channel, _) = client_with("CAPI_VERIFY_TOKEN");
    let new = types::NewCustomer {
        external_id: format!("rust-sdk-{}", uuid::Uuid::new_v4())
            .try_into()
            .expect("a valid external id"),
        display_name: None,
    };
    let customer = client
        .create_customer(&org, &new)
        .await
        .expect("customer registered")
        .into_inner();
    let secret = format!("rust-{}", uuid::Uuid::new_v4().simple());
    let body = types::NewCustomerCredential {
        type_: types::NewCustomerCredentialType::Password,
        secret: secret.clone().try_into().expect("a valid secret"),
        label: None,
        must_change: None,
    };
    let created = client
        .create_customer_credential(&org, &customer.id, &body)
        .await
        .expect("credential set");
    assert_eq!(created.status(), 201);
    let credential = created.into_inner();
    assert_eq!(credential.type_, types::CredentialType::Password);
    assert_eq!(credential.status, types::CredentialStatus::Active);
    assert_eq!(credential.failed_attempts, 0);
    println!("ok - credential set (201)");

    let verify = |with: String| {
        let (channel, org, customer_id, credential_id) =
            (&channel, &org, customer.id, credential.id);
        async move {
            channel
                .verify_customer_credential(
                    org,
                    &customer_id,
                    &credential_id,
                    &types::CredentialVerification { secret: with },
                )
                .await
                .expect("verified")
                .into_inner()
        }
    };
    assert!(verify(secret.clone()).await.valid);
    let wrong = verify(format!("{secret}x")).await;
    assert!(!wrong.valid);
    assert_eq!(wrong.status, types::CredentialStatus::Active);
    println!("ok - the right secret verifies, a wrong one does not");

    let new_secret = format!("{secret}-new");
    let reset = client
        .set_customer_credential_secret(
            &org,
            &customer.id,
            &credential.id,
            &types::NewCredentialSecret {
                secret: new_secret.clone().try_into().expect("a valid secret"),
                must_change: Some(true),
            },
        )
        .await
        .expect("secret reset");
    assert_eq!(reset.status(), 204);
    let after = verify(new_secret).await;
    assert!(after.valid && after.must_change);
    assert!(!verify(secret).await.valid);
    println!("ok - reset (204): the new secret verifies, the old one no longer");

    client
        .delete_customer(&org, &customer.id)
        .await
        .expect("deleted");
    println!("rust credentials scenario: passed");
}
