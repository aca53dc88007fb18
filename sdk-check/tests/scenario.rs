//! The client scenario against a live server, through the client progenitor generates from
//! `openapi.yaml`: register a customer, set and read its special treatment, and get a typed
//! `ErrorResponse` for a bad body; the categories: create and replace two, page through the
//! catalogue, file a customer under them, list a category's members, and delete a category
//! (409 while it has members, 204 once it has none); register, list, patch, reveal (with the
//! privileged token) and delete an external account; and an identification process from
//! creation to approval by a second principal (the creator's own decision is 403, four eyes),
//! the customer's processes newest first and by status, a cancelled one, and an illegal
//! transition (409 naming status); and set, verify (right and wrong) and reset a credential.
//! `conformance/run` starts the server and sets `CAPI_URL`, `CAPI_TOKEN`, `CAPI_REVEAL_TOKEN`,
//! `CAPI_CREATOR_REVIEW_TOKEN`, `CAPI_REVIEWER_TOKEN`, `CAPI_VERIFY_TOKEN` (with the
//! privileged `credentials:verify`) and `CAPI_ORG`.

use customers_api_sdk_check::{Client, Error, types};

fn client() -> (Client, types::OrgId) {
    client_of("CAPI_TOKEN")
}

/// A client with the token in the environment variable `token_var`.
fn client_of(token_var: &str) -> (Client, types::OrgId) {
    let url = std::env::var("CAPI_URL").expect("CAPI_URL: run through conformance/run");
    let token = std::env::var(token_var)
        .unwrap_or_else(|_| panic!("{token_var}: run through conformance/run"));
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

fn category(name: &str, description: Option<&str>) -> types::CategoryDefinition {
    types::CategoryDefinition {
        name: name.parse().expect("a valid name"),
        description: description.map(|d| d.parse().expect("a valid description")),
    }
}

fn keys(items: &[&str]) -> types::CustomerCategories {
    types::CustomerCategories {
        keys: Some(
            items
                .iter()
                .map(|k| k.parse().expect("a valid key"))
                .collect(),
        ),
    }
}

fn expect_error(
    result: Result<impl std::fmt::Debug, Error<types::ErrorResponse>>,
    status: u16,
) -> types::ErrorResponse {
    match result {
        Err(Error::ErrorResponse(error)) if error.status() == status => error.into_inner(),
        other => panic!("expected a typed {status} ErrorResponse, got {other:?}"),
    }
}

#[tokio::test]
async fn categories_catalogue_membership_and_delete_rules() {
    let (client, org) = client();
    // Keys unique to this run: Schemathesis has already filled the catalogue.
    let run = format!("rs-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let (key_a, key_b) = (format!("{run}-a"), format!("{run}-b"));
    let a: types::CategoryKey = key_a.parse().expect("a valid key");
    let b: types::CategoryKey = key_b.parse().expect("a valid key");

    // B first: the list's order is the keys', not the creation order.
    let created_b = client
        .put_category(&org, &b, &category("Staff", None))
        .await
        .expect("category created");
    assert_eq!(created_b.status(), 201);
    let created_b = created_b.into_inner();
    assert_eq!(
        (created_b.key.as_str(), created_b.description),
        (key_b.as_str(), None)
    );
    println!("ok - category created (201), description absent means null");
    let created_a = client
        .put_category(&org, &a, &category("Retail", Some("Personal customers")))
        .await
        .expect("category created");
    assert_eq!(created_a.status(), 201);
    let location = created_a.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        format!("/v1/organizations/{}/categories/{key_a}", *org)
    );
    let created_a = created_a.into_inner();
    println!("ok - second category created (201), Location names it");
    let replaced = client
        .put_category(
            &org,
            &a,
            &category(
                "Retail banking",
                Some("Personal customers\nof the branches"),
            ),
        )
        .await
        .expect("category replaced");
    assert_eq!(replaced.status(), 200);
    let replaced = replaced.into_inner();
    assert_eq!(replaced.name, "Retail banking");
    assert_eq!(
        replaced.description.as_deref(),
        Some("Personal customers\nof the branches")
    );
    assert_eq!(replaced.created_at, created_a.created_at);
    println!("ok - category replaced (200), created_at kept");

    // The whole catalogue one category a page: key order (byte order), both of ours in it.
    let one = std::num::NonZeroU32::new(1);
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<types::ListCategoriesCursor> = None;
    for _ in 0..10_000 {
        let page = client
            .list_categories(&org, cursor.as_ref(), one)
            .await
            .expect("a page of categories")
            .into_inner();
        assert_eq!(page.items.len(), 1, "a page of one category");
        seen.push(page.items[0].key.clone());
        match page.next_cursor {
            Some(next) => cursor = Some(next.parse().expect("a well-formed cursor")),
            None => break,
        }
    }
    assert!(seen.len() >= 2);
    println!(
        "ok - paged through {} categories, limit=1 then next_cursor",
        seen.len()
    );
    assert!(seen.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()));
    let at = seen
        .iter()
        .position(|k| *k == key_a)
        .expect("category a listed");
    assert_eq!(seen.get(at + 1), Some(&key_b));
    println!("ok - categories listed in key order, both of ours in it");

    let got = client.get_category(&org, &a).await.expect("category read");
    assert_eq!(got.into_inner().name, "Retail banking");
    println!("ok - category read (getCategory)");

    let new = types::NewCustomer {
        external_id: format!("{run}-member")
            .try_into()
            .expect("a valid external id"),
        display_name: None,
    };
    let member = client
        .create_customer(&org, &new)
        .await
        .expect("customer registered")
        .into_inner();
    let filed = client
        .set_customer_categories(&org, &member.id, &keys(&[&key_b, &key_a]))
        .await
        .expect("categories set");
    assert_eq!(filed.status(), 204);
    let read: Vec<String> = client
        .get_customer_categories(&org, &member.id)
        .await
        .expect("categories read")
        .into_inner()
        .keys
        .unwrap_or_default()
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(read, [key_a.clone(), key_b.clone()]);
    println!("ok - customer's categories set (204) and read back in key order");

    let unknown = format!("{run}-none");
    let error = expect_error(
        client
            .set_customer_categories(&org, &member.id, &keys(&[&key_a, &unknown]))
            .await,
        400,
    );
    assert_eq!(error.details[0].field, "keys[1]");
    println!("ok - a key not in the catalogue is a typed 400 naming keys[1]");

    let members = client
        .list_category_customers(&org, &a, None, std::num::NonZeroU32::new(10))
        .await
        .expect("members listed")
        .into_inner();
    let ids: Vec<_> = members.items.iter().map(|c| c.id).collect();
    assert_eq!(ids, [member.id]);
    assert!(members.next_cursor.is_none());
    println!("ok - the category's customers listed (listCategoryCustomers)");

    let error = expect_error(client.delete_category(&org, &a).await, 409);
    assert_eq!(
        (error.code.as_str(), error.details[0].field.as_str()),
        ("conflict", "key")
    );
    println!("ok - a category with members is not deleted (typed 409 conflict)");

    let cleared = client
        .set_customer_categories(&org, &member.id, &keys(&[]))
        .await
        .expect("categories cleared");
    assert_eq!(cleared.status(), 204);
    let none = client
        .get_customer_categories(&org, &member.id)
        .await
        .expect("categories read")
        .into_inner();
    assert_eq!(none.keys.map(|k| k.len()), Some(0));
    println!("ok - customer's categories cleared (204, then [])");

    let removed = client.delete_category(&org, &a).await.expect("deleted");
    assert_eq!(removed.status(), 204);
    let error = expect_error(client.get_category(&org, &a).await, 404);
    assert_eq!(error.code, "not_found");
    println!("ok - category deleted (204), then not found (typed 404)");

    let removed_b = client.delete_category(&org, &b).await.expect("deleted");
    let deleted = client
        .delete_customer(&org, &member.id)
        .await
        .expect("deleted");
    assert_eq!(removed_b.status(), 204);
    assert_eq!(deleted.status(), 204);
    println!("rust categories scenario: passed");
}

#[tokio::test]
async fn identification_from_creation_to_approval_by_a_second_principal() {
    // CAPI_TOKEN (sub "conformance") creates; the same sub with the review scope may not
    // decide (four eyes); CAPI_REVIEWER_TOKEN (sub "reviewer") decides.
    let (client, org) = client();
    let (creator_reviewer, _) = client_of("CAPI_CREATOR_REVIEW_TOKEN");
    let (reviewer, _) = client_of("CAPI_REVIEWER_TOKEN");
    let run = format!("rs-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);

    let new = types::NewCustomer {
        external_id: format!("{run}-kyc").try_into().expect("a valid external id"),
        display_name: None,
    };
    let subject = client
        .create_customer(&org, &new)
        .await
        .expect("customer registered")
        .into_inner();
    println!("ok - a customer registered to identify");

    let reference = format!("{run}-ref-1");
    let body = types::NewIdentificationProcess {
        method: types::IdentificationMethod::Document,
        provider: Some("conformance-kyc".parse().expect("a valid provider")),
        provider_reference: Some(reference.parse().expect("a valid reference")),
        expires_in_s: None,
    };
    let started = client
        .create_identification_process(&org, &subject.id, &body)
        .await
        .expect("process created");
    assert_eq!(started.status(), 201);
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    let first = started.into_inner();
    assert_eq!(first.status, types::IdentificationStatus::Created);
    assert_eq!(first.method, types::IdentificationMethod::Document);
    assert_eq!(first.provider.as_deref(), Some("conformance-kyc"));
    assert_eq!(first.provider_reference.as_deref(), Some(reference.as_str()));
    assert_eq!(first.customer_id, subject.id);
    assert_eq!(first.created_by, "conformance");
    assert!(first.decided_at.is_none() && first.decided_by.is_none());
    assert_eq!(
        location,
        format!(
            "/v1/organizations/{}/customers/{}/identification-processes/{}",
            *org, subject.id, first.id
        )
    );
    println!("ok - identification process created (201), typed, Location names it");

    let submitted = client
        .submit_identification_process(&org, &subject.id, &first.id)
        .await
        .expect("submitted");
    assert_eq!(submitted.status(), 200);
    assert_eq!(
        submitted.into_inner().status,
        types::IdentificationStatus::Pending
    );
    println!("ok - submitted (200 pending)");

    let error = expect_error(
        creator_reviewer
            .approve_identification_process(&org, &subject.id, &first.id)
            .await,
        403,
    );
    assert_eq!(error.code, "forbidden");
    assert!(error.message.contains("four eyes"), "{}", error.message);
    println!("ok - the creator's own approval is refused (typed 403 forbidden, four eyes)");

    let approved = reviewer
        .approve_identification_process(&org, &subject.id, &first.id)
        .await
        .expect("approved");
    assert_eq!(approved.status(), 200);
    let approved = approved.into_inner();
    assert_eq!(approved.status, types::IdentificationStatus::Approved);
    assert_eq!(approved.decided_by.as_deref(), Some("reviewer"));
    assert!(approved.decided_at.is_some());
    assert_eq!(approved.created_by, "conformance");
    println!("ok - approved by a second principal (200, decided_by = reviewer)");

    let read = client
        .get_identification_process(&org, &subject.id, &first.id)
        .await
        .expect("process read")
        .into_inner();
    assert_eq!(read.status, types::IdentificationStatus::Approved);
    assert_eq!(read.decided_by.as_deref(), Some("reviewer"));
    println!("ok - the approval read back (getIdentificationProcess)");

    let body = types::NewIdentificationProcess {
        method: types::IdentificationMethod::Video,
        provider: None,
        provider_reference: None,
        expires_in_s: None,
    };
    let retried = client
        .create_identification_process(&org, &subject.id, &body)
        .await
        .expect("second process created");
    assert_eq!(retried.status(), 201);
    let second = retried.into_inner();
    assert!(second.provider.is_none() && second.provider_reference.is_none());
    println!("ok - a second process created (201), provider absent means null");
    let cancelled = client
        .cancel_identification_process(&org, &subject.id, &second.id)
        .await
        .expect("cancelled");
    assert_eq!(cancelled.status(), 200);
    let cancelled = cancelled.into_inner();
    assert_eq!(cancelled.status, types::IdentificationStatus::Cancelled);
    assert!(cancelled.decided_by.is_none());
    println!("ok - the second process cancelled (200)");

    let error = expect_error(
        client
            .submit_identification_process(&org, &subject.id, &second.id)
            .await,
        409,
    );
    assert_eq!(
        (error.code.as_str(), error.details[0].field.as_str()),
        ("conflict", "status")
    );
    println!("ok - submitting a cancelled process is a typed 409 conflict naming status");

    let history = client
        .list_identification_processes(&org, &subject.id, None, None, None)
        .await
        .expect("processes listed")
        .into_inner();
    let listed: Vec<_> = history.items.iter().map(|p| (p.id, p.status)).collect();
    assert_eq!(
        listed,
        [
            (second.id, types::IdentificationStatus::Cancelled),
            (first.id, types::IdentificationStatus::Approved)
        ]
    );
    assert!(history.next_cursor.is_none());
    println!("ok - the customer's processes listed newest first (listIdentificationProcesses)");
    let only_approved = reviewer
        .list_identification_processes(
            &org,
            &subject.id,
            None,
            None,
            Some(types::IdentificationStatus::Approved),
        )
        .await
        .expect("approved processes listed")
        .into_inner();
    let ids: Vec<_> = only_approved.items.iter().map(|p| p.id).collect();
    assert_eq!(ids, [first.id]);
    println!("ok - status=approved lists the approved one only");

    let deleted = client
        .delete_customer(&org, &subject.id)
        .await
        .expect("deleted");
    assert_eq!(deleted.status(), 204);
    println!("ok - a customer whose processes are all finished is deleted (204)");
    println!("rust identification scenario: passed");
}

/// A client with `CAPI_REVEAL_TOKEN`: the default scopes and the privileged `accounts:reveal`.
fn revealer() -> Client {
    let url = std::env::var("CAPI_URL").expect("CAPI_URL: run through conformance/run");
    let token =
        std::env::var("CAPI_REVEAL_TOKEN").expect("CAPI_REVEAL_TOKEN: run through conformance/run");
    let mut headers = reqwest::header::HeaderMap::new();
    let bearer = format!("Bearer {token}").parse().expect("a header value");
    headers.insert(reqwest::header::AUTHORIZATION, bearer);
    let http = reqwest::Client::builder()
        .no_proxy()
        .default_headers(headers)
        .build()
        .expect("an HTTP client");
    Client::new_with_client(&url, http)
}

#[tokio::test]
async fn register_list_patch_reveal_and_delete_an_account() {
    let (client, org) = client();
    let new = types::NewCustomer {
        external_id: format!("rust-sdk-{}", uuid::Uuid::new_v4())
            .try_into()
            .expect("a valid external id"),
        display_name: None,
    };
    let customer = client.create_customer(&org, &new).await.expect("customer registered").into_inner();

    let account_ref = format!("rust-acct-{}", uuid::Uuid::new_v4());
    let body = types::NewExternalAccount {
        external_id: account_ref.clone().try_into().expect("a valid reference"),
        scheme: types::AccountScheme::Iban,
        identification: "GB82 WEST 1234 5698 7654 32".try_into().expect("a valid number"),
        currency: "GBP".try_into().expect("a currency"),
        kind: types::AccountKind::Current,
        holder_type: None,
        nickname: None,
    };
    let created = client
        .create_external_account(&org, &customer.id, &body)
        .await
        .expect("account registered");
    assert_eq!(created.status(), 201);
    let account = created.into_inner();
    assert_eq!(account.identification_masked.as_str(), "****5432");
    assert_eq!(account.status, types::AccountStatus::Active);
    println!("ok - account registered (201), masked");

    let listed = client
        .list_external_accounts(&org, &customer.id, None, None)
        .await
        .expect("accounts listed")
        .into_inner();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].id, account.id);
    let wanted: types::LookupExternalAccountsExternalId =
        account_ref.clone().try_into().expect("a valid reference");
    let found = client
        .lookup_external_accounts(&org, None, &wanted, None)
        .await
        .expect("looked up")
        .into_inner();
    assert_eq!(found.items[0].id, account.id);
    println!("ok - listed, and found by external_id");

    let patch = types::ExternalAccountPatch {
        nickname: Some("Joint".try_into().expect("a valid nickname")),
        status: Some(types::AccountStatus::Disabled),
    };
    let patched = client
        .update_external_account(&org, &customer.id, &account.id, &patch)
        .await
        .expect("patched")
        .into_inner();
    assert_eq!(patched.nickname.as_deref(), Some("Joint"));
    assert_eq!(patched.status, types::AccountStatus::Disabled);
    println!("ok - account patched (200)");

    match client
        .reveal_external_account_identification(&org, &customer.id, &account.id)
        .await
    {
        Err(Error::ErrorResponse(error)) => assert_eq!(error.status(), 403),
        other => panic!("the default token cannot reveal, got {other:?}"),
    }
    let revealed = revealer()
        .reveal_external_account_identification(&org, &customer.id, &account.id)
        .await
        .expect("revealed")
        .into_inner();
    assert_eq!(revealed.identification, "GB82WEST12345698765432");
    println!("ok - only the privileged token reveals the number");

    let deleted = client
        .delete_external_account(&org, &customer.id, &account.id)
        .await
        .expect("account deleted");
    assert_eq!(deleted.status(), 204);
    client.delete_customer(&org, &customer.id).await.expect("customer deleted");
    println!("rust accounts scenario: passed");
}

#[tokio::test]
async fn set_verify_right_and_wrong_and_reset_a_credential() {
    let (client, org) = client();
    let (channel, _) = client_of("CAPI_VERIFY_TOKEN");
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
