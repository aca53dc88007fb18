//! [`ApiClient`]: the suite's one client of the API, with one helper per operation of
//! `openapi.yaml`. Every test file calls the server through it, whether the server runs in the
//! test's process ([`TestApp::api`](crate::helpers::TestApp)) or as a child process
//! ([`ServerProcess::api`](crate::process::ServerProcess)): both are just a base URL.
//!
//! Two layers per operation:
//!
//! - **The operation**, named after its `operationId` in snake case (`createCustomer` is
//!   [`create_customer`](ApiClient::create_customer)): its path parameters in path order, then
//!   the query string, then the body as JSON. It sends exactly that, with this client's
//!   `Authorization` header, and gives back the [`Response`] whatever its status: for tests of
//!   refusals. It returns a [`Call`], which sends when awaited (`.header(..)` and
//!   `.timeout(..)` first if needed; [`Call::try_send`] when the server may be gone).
//! - **A convenience** where setups need one ([`register`](ApiClient::register),
//!   [`special_treatment`](ApiClient::special_treatment), ...): it makes the call, asserts the
//!   operation's success status (panicking with the answer's body) and returns the parsed
//!   answer. A setup step that uses one cannot fail unnoticed.
//!
//! Tokens: a client carries one `Authorization` value; [`with_token`](ApiClient::with_token),
//! [`with_authorization`](ApiClient::with_authorization) and
//! [`without_token`](ApiClient::without_token) give a copy that sends another (cheap: the
//! connection pool is shared).
//!
//! # Adding a resource
//!
//! For each of its operations, in this file: a path function beside [`customer_path`] (one per
//! path of the spec), the operation method in a `// --- <tag>` section of its own (the same
//! shape as the customers' ones), and a convenience when a setup needs the resource to exist
//! (e.g. `category(org, key) -> Value` asserting the `200`). Then one row per operation in
//! `MATRIX` in `auth.rs`: the authorization matrix reads the served spec and fails the suite
//! for any bearer-secured operation without a row.

use std::{
    future::{Future, IntoFuture},
    net::SocketAddr,
    pin::Pin,
    time::Duration,
};

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

/// How long one request may take before the test gives up on it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// `/v1/organizations/{org}/customers`: `createCustomer`, `listCustomers`.
pub fn customers_path(org: &str) -> String {
    format!("/v1/organizations/{org}/customers")
}

/// `/v1/organizations/{org}/customers/{id}`: `getCustomer`, `deleteCustomer`.
pub fn customer_path(org: &str, id: &str) -> String {
    format!("/v1/organizations/{org}/customers/{id}")
}

/// `/v1/organizations/{org}/customers/{id}/history`: `getCustomerHistory`.
pub fn customer_history_path(org: &str, id: &str) -> String {
    format!("{}/history", customer_path(org, id))
}

/// `/v1/organizations/{org}/customers/{id}/special-treatment`: `getCustomerSpecialTreatment`,
/// `setCustomerSpecialTreatment`.
pub fn special_treatment_path(org: &str, id: &str) -> String {
    format!("/v1/organizations/{org}/customers/{id}/special-treatment")
}

/// `/v1/organizations/{org}/categories`: `listCategories`.
pub fn categories_path(org: &str) -> String {
    format!("/v1/organizations/{org}/categories")
}

/// `/v1/organizations/{org}/categories/{key}`: `putCategory`, `getCategory`, `deleteCategory`.
pub fn category_path(org: &str, key: &str) -> String {
    format!("/v1/organizations/{org}/categories/{key}")
}

/// `/v1/organizations/{org}/categories/{key}/customers`: `listCategoryCustomers`.
pub fn category_customers_path(org: &str, key: &str) -> String {
    format!("/v1/organizations/{org}/categories/{key}/customers")
}

/// `/v1/organizations/{org}/customers/{id}/categories`: `getCustomerCategories`,
/// `setCustomerCategories`.
pub fn customer_categories_path(org: &str, id: &str) -> String {
    format!("/v1/organizations/{org}/customers/{id}/categories")
}

/// `/v1/organizations/{org}/customers/{id}/identification-processes`:
/// `createIdentificationProcess`, `listIdentificationProcesses`.
pub fn identification_processes_path(org: &str, customer: &str) -> String {
    format!("/v1/organizations/{org}/customers/{customer}/identification-processes")
}

/// `.../identification-processes/{process}`: `getIdentificationProcess`; with `/{action}`
/// (`submit`, `cancel`, `start-review`, `approve`, `reject`) its transitions.
pub fn identification_process_path(org: &str, customer: &str, process: &str) -> String {
    format!("{}/{process}", identification_processes_path(org, customer))
}

/// `path` with `?query` when `query` is not empty.
fn with_query(path: String, query: &str) -> String {
    match query {
        "" => path,
        query => format!("{path}?{query}"),
    }
}

/// `/v1/organizations/{org}/customers/{customer}/accounts`: `createExternalAccount`,
/// `listExternalAccounts`.
pub fn accounts_path(org: &str, customer: &str) -> String {
    format!("/v1/organizations/{org}/customers/{customer}/accounts")
}

/// `/v1/organizations/{org}/customers/{customer}/accounts/{id}`: `getExternalAccount`,
/// `updateExternalAccount`, `deleteExternalAccount`.
pub fn account_path(org: &str, customer: &str, id: &str) -> String {
    format!("/v1/organizations/{org}/customers/{customer}/accounts/{id}")
}

/// `/v1/organizations/{org}/customers/{customer}/accounts/{id}/identification`:
/// `revealExternalAccountIdentification`.
pub fn account_identification_path(org: &str, customer: &str, id: &str) -> String {
    format!("{}/identification", account_path(org, customer, id))
}

/// `/v1/organizations/{org}/accounts`: `lookupExternalAccounts`.
pub fn org_accounts_path(org: &str) -> String {
    format!("/v1/organizations/{org}/accounts")
}

/// The IBAN standard's example: valid, and nobody's.
pub const EXAMPLE_IBAN: &str = "GB82 WEST 1234 5698 7654 32";

/// A valid `NewExternalAccount` body with `external_id` and the example IBAN.
pub fn new_account_body(external_id: &str) -> Value {
    json!({
        "external_id": external_id,
        "scheme": "iban",
        "identification": EXAMPLE_IBAN,
        "currency": "GBP",
        "kind": "current",
    })
}

/// `/v1/organizations/{org}/customers/{id}/credentials`: `listCustomerCredentials`,
/// `createCustomerCredential`.
pub fn credentials_path(org: &str, customer: &str) -> String {
    format!("/v1/organizations/{org}/customers/{customer}/credentials")
}

/// `/v1/organizations/{org}/customers/{id}/credentials/{credential}`: `getCustomerCredential`,
/// `updateCustomerCredential`, `deleteCustomerCredential`.
pub fn credential_path(org: &str, customer: &str, credential: &str) -> String {
    format!("/v1/organizations/{org}/customers/{customer}/credentials/{credential}")
}

/// `.../credentials/{credential}/secret`: `setCustomerCredentialSecret`.
pub fn credential_secret_path(org: &str, customer: &str, credential: &str) -> String {
    format!("{}/secret", credential_path(org, customer, credential))
}

/// `.../credentials/{credential}/verify`: `verifyCustomerCredential`.
pub fn credential_verify_path(org: &str, customer: &str, credential: &str) -> String {
    format!("{}/verify", credential_path(org, customer, credential))
}

/// A client of one server: its base URL, an HTTP client, and the `Authorization` header it
/// sends.
#[derive(Clone)]
pub struct ApiClient {
    /// `http://host:port`, no trailing slash.
    base: String,
    http: reqwest::Client,
    /// The `Authorization` header's value; `None`: no header.
    authorization: Option<String>,
}

impl ApiClient {
    /// A client of the server at `addr` sending `Bearer <token>`.
    pub fn new(addr: SocketAddr, token: &str) -> ApiClient {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("http client");
        ApiClient {
            base: format!("http://{addr}"),
            http,
            authorization: Some(format!("Bearer {token}")),
        }
    }

    /// The server at `addr`, with the same `Authorization` header.
    pub fn at(&self, addr: SocketAddr) -> ApiClient {
        ApiClient {
            base: format!("http://{addr}"),
            ..self.clone()
        }
    }

    /// The same server, with `Bearer <token>`.
    pub fn with_token(&self, token: &str) -> ApiClient {
        self.with_authorization(Some(&format!("Bearer {token}")))
    }

    /// The same server, with this `Authorization` header (any scheme, or none).
    pub fn with_authorization(&self, authorization: Option<&str>) -> ApiClient {
        ApiClient {
            authorization: authorization.map(str::to_owned),
            ..self.clone()
        }
    }

    /// The same server, without credentials.
    pub fn without_token(&self) -> ApiClient {
        self.with_authorization(None)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The HTTP client, for requests that are not calls of the API (e.g. without redirects).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// A request of any shape, with this client's `Authorization` header: for what the
    /// operation helpers do not send (malformed bodies, unknown routes, wrong methods).
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, self.url(path));
        match &self.authorization {
            Some(value) => request.header("authorization", value),
            None => request,
        }
    }

    fn call(&self, method: Method, path: &str) -> Call {
        Call(self.request(method, path))
    }

    /// `GET path`, asserting a 200, as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let resp = self.call(Method::GET, path).await;
        expect_status(resp, StatusCode::OK, &format!("GET {path}"))
            .await
            .json()
            .await
            .expect("a JSON body")
    }

    // --- Customers -------------------------------------------------------------------------

    /// `getCustomerHistory`: `GET .../customers/{id}/history?{query}`.
    pub fn get_customer_history(&self, org: &str, id: &str, query: &str) -> Call {
        self.call(
            Method::GET,
            &with_query(customer_history_path(org, id), query),
        )
    }

    /// The customer's history page for `query`, asserting the `200`.
    pub async fn history(&self, org: &str, id: &str, query: &str) -> Value {
        self.get_json(&with_query(customer_history_path(org, id), query))
            .await
    }

    /// `createCustomer`: `POST /v1/organizations/{org}/customers`.
    pub fn create_customer(&self, org: &str, body: &Value) -> Call {
        Call(self.request(Method::POST, &customers_path(org)).json(body))
    }

    /// `listCustomers`: `GET /v1/organizations/{org}/customers?{query}` (`query` as it goes on
    /// the wire, e.g. `limit=3&cursor=...`; empty for none).
    pub fn list_customers(&self, org: &str, query: &str) -> Call {
        let path = match query {
            "" => customers_path(org),
            query => format!("{}?{query}", customers_path(org)),
        };
        self.call(Method::GET, &path)
    }

    /// `getCustomer`: `GET /v1/organizations/{org}/customers/{id}`.
    pub fn get_customer(&self, org: &str, id: &str) -> Call {
        self.call(Method::GET, &customer_path(org, id))
    }

    /// `deleteCustomer`: `DELETE /v1/organizations/{org}/customers/{id}`.
    pub fn delete_customer(&self, org: &str, id: &str) -> Call {
        self.call(Method::DELETE, &customer_path(org, id))
    }

    /// `createCustomer` with `body`, asserting the 201; the customer.
    pub async fn create_customer_ok(&self, org: &str, body: &Value) -> Value {
        let resp = self.create_customer(org, body).await;
        let context = format!("createCustomer {body} in {org}");
        expect_status(resp, StatusCode::CREATED, &context)
            .await
            .json()
            .await
            .expect("a Customer")
    }

    /// Registers `external_id` in `org` (`createCustomer`, asserting the 201); the customer.
    pub async fn register(&self, org: &str, external_id: &str) -> Value {
        self.create_customer_ok(org, &json!({ "external_id": external_id }))
            .await
    }

    /// Registers a customer with a fresh external id in `org`; its id.
    pub async fn new_customer(&self, org: &str) -> String {
        let external_id = format!("ext-{}", uuid::Uuid::new_v4());
        id_of(&self.register(org, &external_id).await)
    }

    /// `getCustomer`, asserting the 200; the customer.
    pub async fn customer(&self, org: &str, id: &str) -> Value {
        self.get_json(&customer_path(org, id)).await
    }

    /// `listCustomers` with `query`, asserting the 200; the page.
    pub async fn customers_page(&self, org: &str, query: &str) -> Value {
        let resp = self.list_customers(org, query).await;
        let context = format!("listCustomers ?{query} in {org}");
        expect_status(resp, StatusCode::OK, &context)
            .await
            .json()
            .await
            .expect("a page of customers")
    }

    // --- Special Treatment -----------------------------------------------------------------

    /// `getCustomerSpecialTreatment`: `GET .../customers/{id}/special-treatment`.
    pub fn get_customer_special_treatment(&self, org: &str, id: &str) -> Call {
        self.call(Method::GET, &special_treatment_path(org, id))
    }

    /// `setCustomerSpecialTreatment`: `PUT .../customers/{id}/special-treatment` with `body`.
    pub fn set_customer_special_treatment(&self, org: &str, id: &str, body: &Value) -> Call {
        Call(
            self.request(Method::PUT, &special_treatment_path(org, id))
                .json(body),
        )
    }

    /// The customer's stored values (`getCustomerSpecialTreatment`, asserting the 200).
    pub async fn special_treatment(&self, org: &str, id: &str) -> Vec<String> {
        let resp = self.get_customer_special_treatment(org, id).await;
        let context = format!("getCustomerSpecialTreatment of {id} in {org}");
        let body: Value = expect_status(resp, StatusCode::OK, &context)
            .await
            .json()
            .await
            .expect("JSON");
        serde_json::from_value(body["values"].clone()).expect("values is a list of strings")
    }

    /// Sets the customer's values (`setCustomerSpecialTreatment`, asserting the 204).
    pub async fn set_special_treatment(&self, org: &str, id: &str, values: &[&str]) {
        let resp = self
            .set_customer_special_treatment(org, id, &json!({ "values": values }))
            .await;
        let context = format!("setCustomerSpecialTreatment {values:?} of {id} in {org}");
        expect_status(resp, StatusCode::NO_CONTENT, &context).await;
    }

    // --- Categories ------------------------------------------------------------------------

    /// `putCategory`: `PUT /v1/organizations/{org}/categories/{key}` with `body`.
    pub fn put_category(&self, org: &str, key: &str, body: &Value) -> Call {
        Call(
            self.request(Method::PUT, &category_path(org, key))
                .json(body),
        )
    }

    /// `listCategories`: `GET /v1/organizations/{org}/categories?{query}`.
    pub fn list_categories(&self, org: &str, query: &str) -> Call {
        self.call(Method::GET, &with_query(categories_path(org), query))
    }

    /// `getCategory`: `GET /v1/organizations/{org}/categories/{key}`.
    pub fn get_category(&self, org: &str, key: &str) -> Call {
        self.call(Method::GET, &category_path(org, key))
    }

    /// `deleteCategory`: `DELETE /v1/organizations/{org}/categories/{key}`.
    pub fn delete_category(&self, org: &str, key: &str) -> Call {
        self.call(Method::DELETE, &category_path(org, key))
    }

    /// `listCategoryCustomers`: `GET .../categories/{key}/customers?{query}`.
    pub fn list_category_customers(&self, org: &str, key: &str, query: &str) -> Call {
        let path = with_query(category_customers_path(org, key), query);
        self.call(Method::GET, &path)
    }

    /// `getCustomerCategories`: `GET .../customers/{id}/categories`.
    pub fn get_customer_categories(&self, org: &str, id: &str) -> Call {
        self.call(Method::GET, &customer_categories_path(org, id))
    }

    /// `setCustomerCategories`: `PUT .../customers/{id}/categories` with `body`.
    pub fn set_customer_categories(&self, org: &str, id: &str, body: &Value) -> Call {
        Call(
            self.request(Method::PUT, &customer_categories_path(org, id))
                .json(body),
        )
    }

    /// Creates (or replaces) category `key` named `name` (`putCategory`, asserting a 201 or
    /// 200); the category.
    pub async fn save_category(&self, org: &str, key: &str, name: &str) -> Value {
        let resp = self.put_category(org, key, &json!({ "name": name })).await;
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        assert!(
            status == StatusCode::CREATED || status == StatusCode::OK,
            "putCategory {key} in {org}: expected 201 or 200, got {status} {body}"
        );
        serde_json::from_str(&body).expect("a Category")
    }

    /// `getCategory`, asserting the 200; the category.
    pub async fn category(&self, org: &str, key: &str) -> Value {
        self.get_json(&category_path(org, key)).await
    }

    /// `listCategories` with `query`, asserting the 200; the page.
    pub async fn categories_page(&self, org: &str, query: &str) -> Value {
        self.get_json(&with_query(categories_path(org), query))
            .await
    }

    /// `listCategoryCustomers` with `query`, asserting the 200; the page.
    pub async fn category_customers_page(&self, org: &str, key: &str, query: &str) -> Value {
        self.get_json(&with_query(category_customers_path(org, key), query))
            .await
    }

    /// The customer's category keys (`getCustomerCategories`, asserting the 200).
    pub async fn customer_categories(&self, org: &str, id: &str) -> Vec<String> {
        let body = self.get_json(&customer_categories_path(org, id)).await;
        serde_json::from_value(body["keys"].clone()).expect("keys is a list of strings")
    }

    /// Sets the customer's categories (`setCustomerCategories`, asserting the 204).
    pub async fn set_categories(&self, org: &str, id: &str, keys: &[&str]) {
        let resp = self
            .set_customer_categories(org, id, &json!({ "keys": keys }))
            .await;
        let context = format!("setCustomerCategories {keys:?} of {id} in {org}");
        expect_status(resp, StatusCode::NO_CONTENT, &context).await;
    }

    // --- Customer Identification Processes -------------------------------------------------

    /// `createIdentificationProcess`: `POST .../customers/{id}/identification-processes`.
    pub fn create_identification_process(&self, org: &str, customer: &str, body: &Value) -> Call {
        let path = identification_processes_path(org, customer);
        Call(self.request(Method::POST, &path).json(body))
    }

    /// `listIdentificationProcesses`: `GET .../identification-processes?{query}`.
    pub fn list_identification_processes(&self, org: &str, customer: &str, query: &str) -> Call {
        let path = with_query(identification_processes_path(org, customer), query);
        self.call(Method::GET, &path)
    }

    /// `getIdentificationProcess`: `GET .../identification-processes/{process}`.
    pub fn get_identification_process(&self, org: &str, customer: &str, process: &str) -> Call {
        let path = identification_process_path(org, customer, process);
        self.call(Method::GET, &path)
    }

    fn identification_action(
        &self,
        org: &str,
        customer: &str,
        process: &str,
        action: &str,
    ) -> Call {
        let path = format!(
            "{}/{action}",
            identification_process_path(org, customer, process)
        );
        self.call(Method::POST, &path)
    }

    /// `submitIdentificationProcess`: `POST .../{process}/submit`.
    pub fn submit_identification_process(&self, org: &str, customer: &str, process: &str) -> Call {
        self.identification_action(org, customer, process, "submit")
    }

    /// `cancelIdentificationProcess`: `POST .../{process}/cancel`.
    pub fn cancel_identification_process(&self, org: &str, customer: &str, process: &str) -> Call {
        self.identification_action(org, customer, process, "cancel")
    }

    /// `startIdentificationReview`: `POST .../{process}/start-review`.
    pub fn start_identification_review(&self, org: &str, customer: &str, process: &str) -> Call {
        self.identification_action(org, customer, process, "start-review")
    }

    /// `approveIdentificationProcess`: `POST .../{process}/approve`.
    pub fn approve_identification_process(&self, org: &str, customer: &str, process: &str) -> Call {
        self.identification_action(org, customer, process, "approve")
    }

    /// `rejectIdentificationProcess`: `POST .../{process}/reject` with `body`.
    pub fn reject_identification_process(
        &self,
        org: &str,
        customer: &str,
        process: &str,
        body: &Value,
    ) -> Call {
        let path = format!(
            "{}/reject",
            identification_process_path(org, customer, process)
        );
        Call(self.request(Method::POST, &path).json(body))
    }

    /// Starts a process with `body` (`createIdentificationProcess`, asserting the 201); the
    /// process.
    pub async fn start_identification(&self, org: &str, customer: &str, body: &Value) -> Value {
        let resp = self
            .create_identification_process(org, customer, body)
            .await;
        let context = format!("createIdentificationProcess {body} for {customer} in {org}");
        expect_status(resp, StatusCode::CREATED, &context)
            .await
            .json()
            .await
            .expect("an IdentificationProcess")
    }

    /// Starts a `document` process for the customer; its id.
    pub async fn new_identification(&self, org: &str, customer: &str) -> String {
        let process = self
            .start_identification(org, customer, &json!({"method": "document"}))
            .await;
        id_of(&process)
    }

    /// Submits the process (asserting the 200); the process.
    pub async fn submit_identification(&self, org: &str, customer: &str, process: &str) -> Value {
        let resp = self
            .submit_identification_process(org, customer, process)
            .await;
        let context = format!("submitIdentificationProcess {process}");
        expect_status(resp, StatusCode::OK, &context)
            .await
            .json()
            .await
            .expect("an IdentificationProcess")
    }

    /// `getIdentificationProcess`, asserting the 200; the process.
    pub async fn identification(&self, org: &str, customer: &str, process: &str) -> Value {
        self.get_json(&identification_process_path(org, customer, process))
            .await
    }

    /// `listIdentificationProcesses` with `query`, asserting the 200; the page.
    pub async fn identifications_page(&self, org: &str, customer: &str, query: &str) -> Value {
        self.get_json(&with_query(
            identification_processes_path(org, customer),
            query,
        ))
        .await
    }

    // --- External Accounts -----------------------------------------------------------------

    /// `createExternalAccount`: `POST .../customers/{customer}/accounts` with `body`.
    pub fn create_external_account(&self, org: &str, customer: &str, body: &Value) -> Call {
        Call(
            self.request(Method::POST, &accounts_path(org, customer))
                .json(body),
        )
    }

    /// `listExternalAccounts`: `GET .../customers/{customer}/accounts?{query}`.
    pub fn list_external_accounts(&self, org: &str, customer: &str, query: &str) -> Call {
        let path = match query {
            "" => accounts_path(org, customer),
            query => format!("{}?{query}", accounts_path(org, customer)),
        };
        self.call(Method::GET, &path)
    }

    /// `getExternalAccount`: `GET .../customers/{customer}/accounts/{id}`.
    pub fn get_external_account(&self, org: &str, customer: &str, id: &str) -> Call {
        self.call(Method::GET, &account_path(org, customer, id))
    }

    /// `updateExternalAccount`: `PATCH .../customers/{customer}/accounts/{id}` with `body`, as
    /// `application/merge-patch+json`.
    pub fn update_external_account(
        &self,
        org: &str,
        customer: &str,
        id: &str,
        body: &Value,
    ) -> Call {
        Call(
            self.request(Method::PATCH, &account_path(org, customer, id))
                .header("content-type", "application/merge-patch+json")
                .body(body.to_string()),
        )
    }

    /// `deleteExternalAccount`: `DELETE .../customers/{customer}/accounts/{id}`.
    pub fn delete_external_account(&self, org: &str, customer: &str, id: &str) -> Call {
        self.call(Method::DELETE, &account_path(org, customer, id))
    }

    /// `lookupExternalAccounts`: `GET /v1/organizations/{org}/accounts?{query}`.
    pub fn lookup_external_accounts(&self, org: &str, query: &str) -> Call {
        let path = match query {
            "" => org_accounts_path(org),
            query => format!("{}?{query}", org_accounts_path(org)),
        };
        self.call(Method::GET, &path)
    }

    /// `revealExternalAccountIdentification`: `GET .../accounts/{id}/identification`.
    pub fn reveal_external_account_identification(
        &self,
        org: &str,
        customer: &str,
        id: &str,
    ) -> Call {
        self.call(Method::GET, &account_identification_path(org, customer, id))
    }

    /// `createExternalAccount` with `body`, asserting the 201; the account.
    pub async fn create_external_account_ok(
        &self,
        org: &str,
        customer: &str,
        body: &Value,
    ) -> Value {
        let resp = self.create_external_account(org, customer, body).await;
        let context = format!("createExternalAccount for {customer} in {org}");
        expect_status(resp, StatusCode::CREATED, &context)
            .await
            .json()
            .await
            .expect("an ExternalAccount")
    }

    /// Registers an account with a fresh external id and the example IBAN; its id.
    pub async fn new_account(&self, org: &str, customer: &str) -> String {
        let external_id = format!("acct-{}", uuid::Uuid::new_v4());
        let body = new_account_body(&external_id);
        id_of(&self.create_external_account_ok(org, customer, &body).await)
    }

    /// `getExternalAccount`, asserting the 200; the account.
    pub async fn external_account(&self, org: &str, customer: &str, id: &str) -> Value {
        self.get_json(&account_path(org, customer, id)).await
    }

    /// `listExternalAccounts` with `query`, asserting the 200; the page.
    pub async fn external_accounts_page(&self, org: &str, customer: &str, query: &str) -> Value {
        let resp = self.list_external_accounts(org, customer, query).await;
        let context = format!("listExternalAccounts ?{query} of {customer} in {org}");
        expect_status(resp, StatusCode::OK, &context)
            .await
            .json()
            .await
            .expect("a page of accounts")
    }

    /// `lookupExternalAccounts` for `external_id`, asserting the 200; the page.
    pub async fn lookup_page(&self, org: &str, external_id: &str) -> Value {
        let resp = self
            .lookup_external_accounts(org, &format!("external_id={external_id}"))
            .await;
        let context = format!("lookupExternalAccounts {external_id} in {org}");
        expect_status(resp, StatusCode::OK, &context)
            .await
            .json()
            .await
            .expect("a page of accounts")
    }

    // --- Customer Credentials ---------------------------------------------------------------
    // Context messages never include a body: bodies here carry secrets.

    /// `listCustomerCredentials`: `GET .../customers/{id}/credentials`.
    pub fn list_customer_credentials(&self, org: &str, customer: &str) -> Call {
        self.call(Method::GET, &credentials_path(org, customer))
    }

    /// `createCustomerCredential`: `POST .../customers/{id}/credentials` with `body`.
    pub fn create_customer_credential(&self, org: &str, customer: &str, body: &Value) -> Call {
        Call(
            self.request(Method::POST, &credentials_path(org, customer))
                .json(body),
        )
    }

    /// `getCustomerCredential`: `GET .../credentials/{credential}`.
    pub fn get_customer_credential(&self, org: &str, customer: &str, credential: &str) -> Call {
        self.call(Method::GET, &credential_path(org, customer, credential))
    }

    /// `updateCustomerCredential`: `PATCH .../credentials/{credential}` with `body`.
    pub fn update_customer_credential(
        &self,
        org: &str,
        customer: &str,
        credential: &str,
        body: &Value,
    ) -> Call {
        Call(
            self.request(Method::PATCH, &credential_path(org, customer, credential))
                .json(body),
        )
    }

    /// `deleteCustomerCredential`: `DELETE .../credentials/{credential}`.
    pub fn delete_customer_credential(&self, org: &str, customer: &str, credential: &str) -> Call {
        self.call(Method::DELETE, &credential_path(org, customer, credential))
    }

    /// `setCustomerCredentialSecret`: `PUT .../credentials/{credential}/secret` with `body`.
    pub fn set_customer_credential_secret(
        &self,
        org: &str,
        customer: &str,
        credential: &str,
        body: &Value,
    ) -> Call {
        Call(
            self.request(
                Method::PUT,
                &credential_secret_path(org, customer, credential),
            )
            .json(body),
        )
    }

    /// `verifyCustomerCredential`: `POST .../credentials/{credential}/verify` with `body`.
    pub fn verify_customer_credential(
        &self,
        org: &str,
        customer: &str,
        credential: &str,
        body: &Value,
    ) -> Call {
        Call(
            self.request(
                Method::POST,
                &credential_verify_path(org, customer, credential),
            )
            .json(body),
        )
    }

    /// Creates a credential of `kind` with `secret` (`createCustomerCredential`, asserting
    /// the 201); the credential.
    pub async fn new_credential(
        &self,
        org: &str,
        customer: &str,
        kind: &str,
        secret: &str,
    ) -> Value {
        let body = json!({ "type": kind, "secret": secret });
        let resp = self.create_customer_credential(org, customer, &body).await;
        let context = format!("createCustomerCredential {kind} for {customer} in {org}");
        expect_status(resp, StatusCode::CREATED, &context)
            .await
            .json()
            .await
            .expect("a CustomerCredential")
    }

    /// `getCustomerCredential`, asserting the 200; the credential.
    pub async fn credential(&self, org: &str, customer: &str, credential: &str) -> Value {
        self.get_json(&credential_path(org, customer, credential))
            .await
    }

    /// `verifyCustomerCredential` with `secret`, asserting the 200; the result.
    pub async fn verify(&self, org: &str, customer: &str, credential: &str, secret: &str) -> Value {
        let body = json!({ "secret": secret });
        let resp = self
            .verify_customer_credential(org, customer, credential, &body)
            .await;
        let context = format!("verifyCustomerCredential {credential} in {org}");
        expect_status(resp, StatusCode::OK, &context)
            .await
            .json()
            .await
            .expect("a verification result")
    }

    /// Sets a new secret (`setCustomerCredentialSecret`, asserting the 204).
    pub async fn set_secret(
        &self,
        org: &str,
        customer: &str,
        credential: &str,
        secret: &str,
        must_change: bool,
    ) {
        let body = json!({ "secret": secret, "must_change": must_change });
        let resp = self
            .set_customer_credential_secret(org, customer, credential, &body)
            .await;
        let context = format!("setCustomerCredentialSecret {credential} in {org}");
        expect_status(resp, StatusCode::NO_CONTENT, &context).await;
    }

    // --- Probes ----------------------------------------------------------------------------

    /// `getHealth`: `GET /healthz`.
    pub fn get_health(&self) -> Call {
        self.call(Method::GET, "/healthz")
    }

    /// `getReadiness`: `GET /readyz`.
    pub fn get_readiness(&self) -> Call {
        self.call(Method::GET, "/readyz")
    }
}

/// One call of an operation, sent when awaited (a send failure panics: the server is expected
/// to answer). Adjust it first with [`header`](Call::header) or [`timeout`](Call::timeout).
#[must_use = "a call is sent when awaited"]
pub struct Call(RequestBuilder);

impl Call {
    pub fn header(self, name: &str, value: &str) -> Call {
        Call(self.0.header(name, value))
    }

    pub fn timeout(self, timeout: Duration) -> Call {
        Call(self.0.timeout(timeout))
    }

    /// Sends it, keeping a send failure (for calls the server may not answer: it is being
    /// stopped or killed).
    pub fn try_send(self) -> impl Future<Output = reqwest::Result<Response>> + Send + 'static {
        self.0.send()
    }
}

impl IntoFuture for Call {
    type Output = Response;
    type IntoFuture = Pin<Box<dyn Future<Output = Response> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.0.send().await.expect("the server answers") })
    }
}

/// Panics with the answer's body when its status is not `expected`; else the answer.
pub async fn expect_status(resp: Response, expected: StatusCode, context: &str) -> Response {
    if resp.status() != expected {
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        panic!("{context}: expected {expected}, got {status} {body}");
    }
    resp
}

/// A customer's `id`.
pub fn id_of(customer: &Value) -> String {
    customer["id"]
        .as_str()
        .unwrap_or_else(|| panic!("a customer has an id: {customer}"))
        .to_owned()
}
