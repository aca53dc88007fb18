//! The client scenario against a live server, through the client progenitor generates from
//! `openapi.yaml`: register a customer, set and read its special treatment, and get a typed
//! `ErrorResponse` for a bad body; the categories: create and replace two, page through the
//! catalogue, file a customer under them, list a category's members, and delete a category
//! (409 while it has members, 204 once it has none); and register, list, patch, reveal (with
//! the privileged token) and delete an external account. `conformance/run` starts the server
//! and sets `CAPI_URL`, `CAPI_TOKEN`, `CAPI_REVEAL_TOKEN` and `CAPI_ORG`.

use customers_api_sdk_check::{Client, Error, types};

fn client() -> (Client, types::OrgId) {
    let url = std::env::var("CAPI_URL").expect("CAPI_URL: run through conformance/run");
    let token = std::env::var("CAPI_TOKEN").expect("CAPI_TOKEN: run through conformance/run");
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
