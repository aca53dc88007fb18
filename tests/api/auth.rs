//! Authentication (401) and authorization (403) on every `/v1` operation, their precedence over
//! the other errors, the accepted algorithms (HS256, RS256, ES256), and the `token` subcommand.
//!
//! "Every operation" is read from the served spec: each test's [`Server`] fetches
//! `/openapi.json` and calls every operation that declares the bearer security requirement,
//! the way [`MATRIX`] (keyed by `operationId`) says to call it. An operation of the spec
//! without a row fails the suite; so does a row whose scope the operation's description does
//! not name. A new operation needs one row there (and its helpers in `client.rs`).
//!
//! The RSA and EC key pairs are generated when the test binary first needs them: no private key
//! is committed.

use std::{
    ffi::OsStr,
    os::unix::fs::PermissionsExt,
    path::Path,
    process::{Output, Stdio},
    sync::LazyLock,
    time::Duration,
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use customers_api::auth::KeySettings;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use reqwest::{Method, RequestBuilder, Response, StatusCode, header::WWW_AUTHENTICATE};
use serde_json::{Value, json};

use crate::{
    client::{
        ApiClient, credentials_path, customer_path, customers_path, expect_status,
        new_account_body, special_treatment_path,
    },
    helpers::{ALL_SCOPES, DEFAULT_SCOPES, ORG, SECRET, TestApp, assert_error, spawn_app_with},
    process::ServerProcess,
};

/// Another organization: the fixtures register customers there too.
const OTHER_ORG: &str = "globex";
const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "customers-api";
const CHALLENGE: &str = r#"Bearer realm="customers-api""#;
/// How long a child process of the binary may take before the test gives up on it.
const PROCESS_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// The authorization matrix.

/// How to call one operation, keyed by its `operationId`; the served spec gives its method and
/// path template.
struct Entry {
    operation_id: &'static str,
    /// The scope it needs; its description in the spec must say "Requires scope `<scope>`".
    scope: &'static str,
    /// Its answer to a valid call from a caller who may make it.
    success: StatusCode,
    /// Its path parameters besides `org_id`, in path order, and what each takes.
    params: &'static [(&'static str, Param)],
    /// Its query parameters besides `limit` and `cursor`, as on the wire (`""`: none).
    query: Query,
    /// Its body, if it takes one.
    body: Body,
    /// What it changes: after a refused call the matrix checks that nothing was.
    effect: Effect,
}

/// Every bearer-secured operation of the spec, and nothing else.
const MATRIX: &[Entry] = &[
    Entry {
        operation_id: "createCustomer",
        scope: "customers:write",
        success: StatusCode::CREATED,
        params: &[],
        query: Query::None,
        body: Body::NewCustomer,
        effect: Effect::Registers,
    },
    Entry {
        operation_id: "listCustomers",
        scope: "customers:read",
        success: StatusCode::OK,
        params: &[],
        query: Query::None,
        body: Body::None,
        effect: Effect::None,
    },
    Entry {
        operation_id: "getCustomer",
        scope: "customers:read",
        success: StatusCode::OK,
        params: &[("customer_id", Param::Customer)],
        query: Query::None,
        body: Body::None,
        effect: Effect::None,
    },
    Entry {
        operation_id: "getCustomerHistory",
        scope: "history:read",
        success: StatusCode::OK,
        params: &[("customer_id", Param::Customer)],
        query: Query::None,
        body: Body::None,
        effect: Effect::None,
    },
    Entry {
        operation_id: "deleteCustomer",
        scope: "customers:write",
        success: StatusCode::NO_CONTENT,
        params: &[("customer_id", Param::Customer)],
        query: Query::None,
        body: Body::None,
        effect: Effect::Deletes,
    },
    Entry {
        operation_id: "getCustomerSpecialTreatment",
        scope: "special-treatment:read",
        success: StatusCode::OK,
        params: &[("customer_id", Param::Customer)],
        query: Query::None,
        body: Body::None,
        effect: Effect::None,
    },
    Entry {
        operation_id: "setCustomerSpecialTreatment",
        scope: "special-treatment:write",
        success: StatusCode::NO_CONTENT,
        params: &[("customer_id", Param::Customer)],
        query: Query::None,
        body: Body::SpecialTreatment,
        effect: Effect::SetsSpecialTreatment,
    },
    Entry {
        operation_id: "putCategory",
        scope: "categories:write",
        success: StatusCode::CREATED,
        params: &[("key", Param::NewCategory)],
        query: Query::None,
        body: Body::CategoryDefinition,
        effect: Effect::CreatesCategory,
    },
    Entry {
        operation_id: "listCategories",
        scope: "categories:read",
        success: StatusCode::OK,
        params: &[],
        query: Query::None,
        body: Body::None,
        effect: Effect::None,
    },
    Entry {
        operation_id: "getCategory",
        scope: "categories:read",
        success: StatusCode::OK,
        params: &[("key", Param::Category)],
        query: Query::None,
        body: Body::None,
        effect: Effect::None,
    },
    Entry {
        operation_id: "deleteCategory",
        scope: "categories:write",
        success: StatusCode::NO_CONTENT,
        params: &[("key", Param::Category)],
        query: Query::None,
        body: Body::None,
        effect: Effect::DeletesCategory,
    },
    Entry {
        operation_id: "listCategoryCustomers",
        scope: "categories:read",
        success: StatusCode::OK,
        params: &[("key", Param::Category)],
        query: Query::None,
        body: Body::None,
        effect: Effect::None,
    },
    Entry {
        operation_id: "getCustomerCategories",
        scope: "categories:read",
        success: StatusCode::OK,
        params: &[("customer_id", Param::Customer)],
        query: Query::None,
        body: Body::None,
        effect: Effect::None,
    },
    Entry {
        operation_id: "setCustomerCategories",
        scope: "categories:write",
        success: StatusCode::NO_CONTENT,
        params: &[("customer_id", Param::Customer)],
        query: Query::None,
        body: Body::CustomerCategories,
        effect: Effect::SetsCategories,
    },
    Entry {
        operation_id: "createIdentificationProcess",
        scope: "identification:write",
        success: StatusCode::CREATED,
        params: &[("customer_id", Param::Customer)],
        query: Query::None,
        body: Body::NewIdentificationProcess,
        effect: Effect::StartsIdentification,
    },
    Entry {
        operation_id: "listIdentificationProcesses",
        scope: "identification:read",
        success: StatusCode::OK,
        params: &[("customer_id", Param::Customer)],
        query: Query::None,
        body: Body::None,
        effect: Effect::None,
    },
    Entry {
        operation_id: "getIdentificationProcess",
        scope: "identification:read",
        success: StatusCode::OK,
        params: &[
            ("customer_id", Param::Customer),
            ("process_id", Param::Process),
        ],
        query: Query::None,
        body: Body::None,
        effect: Effect::None,
    },
    Entry {
        operation_id: "submitIdentificationProcess",
        scope: "identification:write",
        success: StatusCode::OK,
        params: &[
            ("customer_id", Param::Customer),
            ("process_id", Param::Process),
        ],
        query: Query::None,
        body: Body::None,
        effect: Effect::MovesIdentification,
    },
    Entry {
        operation_id: "cancelIdentificationProcess",
        scope: "identification:write",
        success: StatusCode::OK,
        params: &[
            ("customer_id", Param::Customer),
            ("process_id", Param::Process),
        ],
        query: Query::None,
        body: Body::None,
        effect: Effect::MovesIdentification,
    },
    Entry {
        operation_id: "startIdentificationReview",
        scope: "identification:review",
        success: StatusCode::OK,
        params: &[
            ("customer_id", Param::Customer),
            ("process_id", Param::PendingProcess),
        ],
        query: Query::None,
        body: Body::None,
        effect: Effect::MovesIdentification,
    },
    Entry {
        operation_id: "approveIdentificationProcess",
        scope: "identification:review",
        success: StatusCode::OK,
        params: &[
            ("customer_id", Param::Customer),
            ("process_id", Param::PendingProcess),
        ],
        query: Query::None,
        body: Body::None,
        effect: Effect::MovesIdentification,
    },
    Entry {
        operation_id: "rejectIdentificationProcess",
        scope: "identification:review",
        success: StatusCode::OK,
        params: &[
            ("customer_id", Param::Customer),
            ("process_id", Param::PendingProcess),
        ],
        query: Query::None,
        body: Body::IdentificationRejection,
        effect: Effect::MovesIdentification,
    },
    Entry {
        operation_id: "createExternalAccount",
        scope: "accounts:write",
        success: StatusCode::CREATED,
        params: &[("customer_id", Param::Customer)],
        query: Query::None,
        body: Body::NewAccount,
        effect: Effect::RegistersAccount,
    },
    Entry {
        operation_id: "listExternalAccounts",
        scope: "accounts:read",
        success: StatusCode::OK,
        params: &[("customer_id", Param::Customer)],
        query: Query::None,
        body: Body::None,
        effect: Effect::None,
    },
    Entry {
        operation_id: "lookupExternalAccounts",
        scope: "accounts:read",
        success: StatusCode::OK,
        params: &[],
        query: Query::NewExternalId,
        body: Body::None,
        effect: Effect::None,
    },
    Entry {
        operation_id: "getExternalAccount",
        scope: "accounts:read",
        success: StatusCode::OK,
        params: &[
            ("customer_id", Param::Customer),
            ("account_id", Param::Account),
        ],
        query: Query::None,
        body: Body::None,
        effect: Effect::None,
    },
    Entry {
        operation_id: "updateExternalAccount",
        scope: "accounts:write",
        success: StatusCode::OK,
        params: &[
            ("customer_id", Param::Customer),
            ("account_id", Param::Account),
        ],
        query: Query::None,
        body: Body::AccountPatch,
        effect: Effect::UpdatesAccount,
    },
    Entry {
        operation_id: "deleteExternalAccount",
        scope: "accounts:write",
        success: StatusCode::NO_CONTENT,
        params: &[
            ("customer_id", Param::Customer),
            ("account_id", Param::Account),
        ],
        query: Query::None,
        body: Body::None,
        effect: Effect::DeletesAccount,
    },
    Entry {
        operation_id: "revealExternalAccountIdentification",
        scope: "accounts:reveal",
        success: StatusCode::OK,
        params: &[
            ("customer_id", Param::Customer),
            ("account_id", Param::Account),
        ],
        query: Query::None,
        body: Body::None,
        effect: Effect::None,
    },
    Entry {
        operation_id: "listCustomerCredentials",
        scope: "credentials:read",
        success: StatusCode::OK,
        params: &[("customer_id", Param::Customer)],
        query: Query::None,
        body: Body::None,
        effect: Effect::None,
    },
    Entry {
        operation_id: "createCustomerCredential",
        scope: "credentials:write",
        success: StatusCode::CREATED,
        params: &[("customer_id", Param::Customer)],
        query: Query::None,
        body: Body::NewCredential,
        effect: Effect::CreatesCredential,
    },
    Entry {
        operation_id: "getCustomerCredential",
        scope: "credentials:read",
        success: StatusCode::OK,
        params: &[
            ("customer_id", Param::Customer),
            ("credential_id", Param::Credential),
        ],
        query: Query::None,
        body: Body::None,
        effect: Effect::None,
    },
    Entry {
        operation_id: "updateCustomerCredential",
        scope: "credentials:write",
        success: StatusCode::OK,
        params: &[
            ("customer_id", Param::Customer),
            ("credential_id", Param::Credential),
        ],
        query: Query::None,
        body: Body::CredentialPatch,
        effect: Effect::DisablesCredential,
    },
    Entry {
        operation_id: "deleteCustomerCredential",
        scope: "credentials:write",
        success: StatusCode::NO_CONTENT,
        params: &[
            ("customer_id", Param::Customer),
            ("credential_id", Param::Credential),
        ],
        query: Query::None,
        body: Body::None,
        effect: Effect::DeletesCredential,
    },
    Entry {
        operation_id: "setCustomerCredentialSecret",
        scope: "credentials:write",
        success: StatusCode::NO_CONTENT,
        params: &[
            ("customer_id", Param::Customer),
            ("credential_id", Param::Credential),
        ],
        query: Query::None,
        body: Body::NewSecret,
        effect: Effect::SetsSecret,
    },
    // Privileged: not in the `token` command's default grant.
    Entry {
        operation_id: "verifyCustomerCredential",
        scope: "credentials:verify",
        success: StatusCode::OK,
        params: &[
            ("customer_id", Param::Customer),
            ("credential_id", Param::Credential),
        ],
        query: Query::None,
        body: Body::WrongSecret,
        effect: Effect::CountsFailure,
    },
];

/// The fixture credential's type and secret (a password).
const FIXTURE_SECRET: &str = "fixture password 1";

/// The `sub` of the principal that creates the identification processes the matrix acts on:
/// not the matrix tokens' "tester", so that four eyes lets them decide.
const PROCESS_CREATOR: &str = "fixture-maker";

/// What a path parameter names. Each call gets its own, registered for it.
#[derive(Debug, Clone, Copy)]
enum Param {
    /// A customer of the call's organization.
    Customer,
    /// A category of the call's organization.
    Category,
    /// A category key the call's organization does not have yet (a create's path).
    NewCategory,
    /// An identification process of the call's customer, `created` by [`PROCESS_CREATOR`].
    Process,
    /// The same, submitted (`pending`).
    PendingProcess,
    /// An account of the call's customer (the parameter before it).
    Account,
    /// A password credential of the call's customer (the parameter before it).
    Credential,
}

/// The query string an operation needs.
#[derive(Debug, Clone, Copy)]
enum Query {
    None,
    /// `external_id=` the fixture's fresh external id.
    NewExternalId,
}

impl Query {
    /// Whether it sends the parameter `name` in `location`.
    fn fills(self, location: Option<&str>, name: Option<&str>) -> bool {
        match self {
            Query::None => false,
            Query::NewExternalId => location == Some("query") && name == Some("external_id"),
        }
    }
}

impl Param {
    /// A well-formed value that names nothing.
    fn missing(self) -> String {
        match self {
            Param::Customer
            | Param::Process
            | Param::PendingProcess
            | Param::Account
            | Param::Credential => uuid::Uuid::now_v7().to_string(),
            Param::Category | Param::NewCategory => fresh_category_key(),
        }
    }
}

/// A category key nobody has made yet.
fn fresh_category_key() -> String {
    format!("cat-{}", uuid::Uuid::new_v4().simple())
}

/// A valid body.
#[derive(Debug, Clone, Copy)]
enum Body {
    None,
    /// `NewCustomer` with the fixture's fresh external id.
    NewCustomer,
    /// `CustomerSpecialTreatment` with one value.
    SpecialTreatment,
    /// `CategoryDefinition` with a name.
    CategoryDefinition,
    /// `CustomerCategories` with the fixture's own category.
    CustomerCategories,
    /// `NewIdentificationProcess` with a method.
    NewIdentificationProcess,
    /// `IdentificationRejection` with a reason.
    IdentificationRejection,
    /// `NewExternalAccount` with the fixture's fresh external id.
    NewAccount,
    /// `ExternalAccountPatch` disabling the account.
    AccountPatch,
    /// `NewCustomerCredential`: a PIN (the fixture customer has none).
    NewCredential,
    /// `CustomerCredentialPatch` disabling the credential.
    CredentialPatch,
    /// `NewCredentialSecret` with another password.
    NewSecret,
    /// `CredentialVerification` with a wrong secret.
    WrongSecret,
}

/// What a successful call changes, so what a refused one must not have.
#[derive(Debug, Clone, Copy)]
enum Effect {
    None,
    /// Registers the fixture's new external id.
    Registers,
    /// Sets the fixture customer's special treatment (never set before).
    SetsSpecialTreatment,
    /// Deletes the fixture customer.
    Deletes,
    /// Creates the category of the fixture's `key`.
    CreatesCategory,
    /// Deletes the fixture category.
    DeletesCategory,
    /// Sets the fixture customer's categories (none before).
    SetsCategories,
    /// Starts the fixture customer's first identification process.
    StartsIdentification,
    /// Moves the fixture process on from the status it was made in.
    MovesIdentification,
    /// Registers an account with the fixture's new external id.
    RegistersAccount,
    /// Disables the fixture account.
    UpdatesAccount,
    /// Deletes the fixture account.
    DeletesAccount,
    /// Creates a credential for the fixture customer (none before).
    CreatesCredential,
    /// Disables the fixture credential.
    DisablesCredential,
    /// Deletes the fixture credential.
    DeletesCredential,
    /// Sets a new secret on the fixture credential.
    SetsSecret,
    /// Counts a failed verification of the fixture credential.
    CountsFailure,
}

/// A bearer-secured operation of the served spec, with its matrix entry.
struct Operation {
    id: String,
    method: Method,
    /// The spec's path template, e.g. `/v1/organizations/{org_id}/customers/{customer_id}`.
    path: String,
    entry: &'static Entry,
}

impl Operation {
    /// Whether its path names something in the organization that may not exist (a customer,
    /// a category; not the key a create-or-replace creates): a caller who may not access it
    /// must get the same 403 whether it exists or not.
    fn names_a_resource(&self) -> bool {
        self.entry
            .params
            .iter()
            .any(|(_, param)| !matches!(param, Param::NewCategory))
    }
}

/// What one call acts on, made for it.
struct Fixture {
    org: String,
    /// The path parameters' values, `org_id` included.
    params: Vec<(&'static str, String)>,
    /// The external id a `createCustomer` registers: fresh, so nobody has it yet.
    new_external_id: String,
    /// A category of the organization for a `CustomerCategories` body, made for it.
    category_for_body: Option<String>,
    /// The status the fixture's identification process was made in.
    process_status: Option<&'static str>,
}

impl Fixture {
    fn new(org: &str) -> Fixture {
        Fixture {
            org: org.to_owned(),
            params: vec![("org_id", org.to_owned())],
            new_external_id: format!("new-{}", uuid::Uuid::new_v4()),
            category_for_body: None,
            process_status: None,
        }
    }

    fn value(&self, name: &str) -> &str {
        self.params
            .iter()
            .find_map(|(param, value)| (*param == name).then_some(value.as_str()))
            .unwrap_or_else(|| panic!("the fixture has no {name}"))
    }

    fn customer_id(&self) -> &str {
        self.value("customer_id")
    }

    fn account_id(&self) -> &str {
        self.value("account_id")
    }

    /// `template` with each `{name}` replaced by its value.
    fn path(&self, template: &str) -> String {
        self.params
            .iter()
            .fold(template.to_owned(), |path, (name, value)| {
                path.replace(&format!("{{{name}}}"), value)
            })
    }

    fn body(&self, body: Body) -> Option<Value> {
        match body {
            Body::None => None,
            Body::NewCustomer => Some(json!({ "external_id": self.new_external_id })),
            Body::SpecialTreatment => Some(json!({ "values": ["vip"] })),
            Body::CategoryDefinition => Some(json!({ "name": "Fixture" })),
            // Without a category made for it (a fixture of names only): the empty set.
            Body::CustomerCategories => Some(json!({
                "keys": self.category_for_body.iter().collect::<Vec<_>>()
            })),
            Body::NewIdentificationProcess => Some(json!({ "method": "document" })),
            Body::IdentificationRejection => Some(json!({ "reason": "fixture_reason" })),
            Body::NewAccount => Some(new_account_body(&self.new_external_id)),
            Body::AccountPatch => Some(json!({ "status": "disabled" })),
            Body::NewCredential => Some(json!({"type": "pin", "secret": "2468"})),
            Body::CredentialPatch => Some(json!({"status": "disabled"})),
            Body::NewSecret => Some(json!({"secret": "another fixture password"})),
            Body::WrongSecret => Some(json!({"secret": "not the fixture password"})),
        }
    }

    /// `template` with its values, and the query string `query` asks for.
    fn url(&self, template: &str, query: Query) -> String {
        match query {
            Query::None => self.path(template),
            Query::NewExternalId => {
                format!(
                    "{}?external_id={}",
                    self.path(template),
                    self.new_external_id
                )
            }
        }
    }
}

/// The `{name}`s of a path template, in order.
fn path_params(template: &str) -> Vec<&str> {
    template
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect()
}

/// The scopes a description names as "Requires scope `<scope>`" (line breaks included).
fn scopes_named(description: &str) -> Vec<String> {
    let words = description.split_whitespace().collect::<Vec<_>>().join(" ");
    words
        .split("Requires scope `")
        .skip(1)
        .filter_map(|rest| rest.split_once('`').map(|(scope, _)| scope.to_owned()))
        .collect()
}

/// The operations of `spec` that declare the bearer security requirement, each with its
/// [`MATRIX`] entry; or every way the spec and the matrix disagree.
fn secured_operations(spec: &Value) -> Result<Vec<Operation>, Vec<String>> {
    let bearer_schemes: Vec<&String> = spec["components"]["securitySchemes"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, scheme)| {
            scheme["type"] == "http"
                && scheme["scheme"]
                    .as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case("bearer"))
        })
        .map(|(name, _)| name)
        .collect();
    let mut problems = Vec::new();
    if bearer_schemes.is_empty() {
        problems.push("the spec declares no HTTP bearer security scheme".to_owned());
    }
    let mut operations = Vec::new();
    let paths = spec["paths"].as_object().into_iter().flatten();
    for (path, item) in paths {
        for (method, op) in item.as_object().into_iter().flatten() {
            // A path item's other keys (`parameters`, `summary`, ...) are not operations.
            const METHODS: [&str; 8] = [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ];
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let method =
                Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("an HTTP method");
            let id = op["operationId"].as_str().unwrap_or("(no operationId)");
            // An operation's own `security` replaces the document's.
            let security = op.get("security").unwrap_or(&spec["security"]);
            let secured = security
                .as_array()
                .into_iter()
                .flatten()
                .any(|requirement| {
                    bearer_schemes
                        .iter()
                        .any(|scheme| requirement.get(scheme.as_str()).is_some())
                });
            if !secured {
                if path.starts_with("/v1") {
                    problems.push(format!("operation {id} ({method} {path}) is under /v1 but declares no bearer security"));
                }
                continue;
            }
            let Some(entry) = MATRIX.iter().find(|entry| entry.operation_id == id) else {
                problems.push(format!(
                    "operation {id} is not covered by the authorization matrix: add it to MATRIX in tests/api/auth.rs"
                ));
                continue;
            };
            let named = scopes_named(op["description"].as_str().unwrap_or_default());
            if named != [entry.scope] {
                problems.push(format!(
                    "operation {id}: the matrix says scope `{}`, its description names {named:?}",
                    entry.scope
                ));
            }
            let params: Vec<&str> = path_params(path)
                .into_iter()
                .filter(|name| *name != "org_id")
                .collect();
            let known: Vec<&str> = entry.params.iter().map(|(name, _)| *name).collect();
            if !path.starts_with("/v1/organizations/{org_id}/") || params != known {
                problems.push(format!(
                    "operation {id}: the matrix knows the path parameters org_id + {known:?}, the spec's path is {path}"
                ));
            }
            let required_query = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] != "path" && p["required"] == true)
                .filter(|p| !entry.query.fills(p["in"].as_str(), p["name"].as_str()));
            for parameter in required_query {
                problems.push(format!(
                    "operation {id}: the matrix does not fill its required {} parameter {}",
                    parameter["in"], parameter["name"]
                ));
            }
            if !op["responses"][entry.success.as_str()].is_object() {
                problems.push(format!(
                    "operation {id}: the matrix expects {}, which the spec does not list",
                    entry.success
                ));
            }
            operations.push(Operation {
                id: id.to_owned(),
                method,
                path: path.clone(),
                entry,
            });
        }
    }
    for entry in MATRIX {
        if !operations.iter().any(|op| op.id == entry.operation_id) {
            problems.push(format!(
                "the authorization matrix has {}, which the spec has not (as a bearer-secured operation)",
                entry.operation_id
            ));
        }
    }
    if problems.is_empty() {
        Ok(operations)
    } else {
        Err(problems)
    }
}

// ---------------------------------------------------------------------------------------------
// A server with a signer it trusts, and the operations its spec serves.

struct Server {
    app: TestApp,
    signer: Signer,
    /// All scopes in [`ORG`] and [`OTHER_ORG`]: makes what calls act on, and checks what
    /// refused calls left.
    admin: ApiClient,
    /// As `admin`, with `sub` [`PROCESS_CREATOR`]: creates the identification processes.
    creator: ApiClient,
    /// The served spec's bearer-secured operations.
    operations: Vec<Operation>,
}

impl Server {
    async fn start(keys: KeySettings, signer: Signer) -> Server {
        let app = spawn_app_with(|settings| settings.keys = keys).await;
        let admin = app
            .api
            .with_token(&signer.token(&[ORG, OTHER_ORG], ALL_SCOPES));
        let mut creator_claims = claims(&[ORG, OTHER_ORG], DEFAULT_SCOPES);
        creator_claims["sub"] = json!(PROCESS_CREATOR);
        let creator = app.api.with_token(&signer.sign(&creator_claims));
        let spec = app.api.without_token().get_json("/openapi.json").await;
        let operations = secured_operations(&spec)
            .unwrap_or_else(|problems| panic!("the served spec:\n{}", problems.join("\n")));
        Server {
            app,
            signer,
            admin,
            creator,
            operations,
        }
    }

    /// The default test server: HS256 with the test secret.
    async fn hs256() -> Server {
        Server::start(
            KeySettings {
                hs256_secret: Some(SECRET.as_bytes().to_vec()),
                ..KeySettings::default()
            },
            Signer::hs256(SECRET.as_bytes()),
        )
        .await
    }

    fn token(&self, orgs: &[&str], scope: &str) -> String {
        self.signer.token(orgs, scope)
    }

    /// The operation of the served spec with this `operationId`.
    fn operation(&self, id: &str) -> &Operation {
        self.operations
            .iter()
            .find(|op| op.id == id)
            .unwrap_or_else(|| panic!("the served spec has no bearer-secured {id}"))
    }

    /// What a call of `op` in `org` acts on: each path parameter's resource, made for it.
    async fn fixture(&self, op: &Operation, org: &str) -> Fixture {
        let mut fixture = Fixture::new(org);
        for (name, param) in op.entry.params {
            let value = match param {
                Param::Customer => self.admin.new_customer(org).await,
                Param::Category => self.new_category(org).await,
                Param::NewCategory => fresh_category_key(),
                Param::Process | Param::PendingProcess => {
                    let customer = fixture.customer_id().to_owned();
                    let process = self.creator.new_identification(org, &customer).await;
                    fixture.process_status = Some("created");
                    if let Param::PendingProcess = param {
                        self.creator
                            .submit_identification(org, &customer, &process)
                            .await;
                        fixture.process_status = Some("pending");
                    }
                    process
                }
                Param::Account => self.admin.new_account(org, fixture.customer_id()).await,
                Param::Credential => {
                    let customer = fixture.customer_id().to_owned();
                    let created = self
                        .admin
                        .new_credential(org, &customer, "password", FIXTURE_SECRET)
                        .await;
                    created["id"].as_str().unwrap().to_owned()
                }
            };
            fixture.params.push((name, value));
        }
        if let Body::CustomerCategories = op.entry.body {
            fixture.category_for_body = Some(self.new_category(org).await);
        }
        fixture
    }

    /// A new category of `org`; its key.
    async fn new_category(&self, org: &str) -> String {
        let key = fresh_category_key();
        self.admin.save_category(org, &key, "Fixture").await;
        key
    }

    /// A fixture for `op` in `org` whose path parameters are `value`s (e.g. one that does not
    /// exist).
    fn fixture_with(&self, op: &Operation, org: &str, value: impl Fn(Param) -> String) -> Fixture {
        let mut fixture = Fixture::new(org);
        for (name, param) in op.entry.params {
            fixture.params.push((name, value(*param)));
        }
        fixture
    }

    /// `op` on `fixture`, well formed, with this `Authorization` header (if any).
    fn request(
        &self,
        op: &Operation,
        fixture: &Fixture,
        authorization: Option<&str>,
    ) -> RequestBuilder {
        let request = self
            .app
            .api
            .with_authorization(authorization)
            .request(op.method.clone(), &fixture.url(&op.path, op.entry.query));
        match fixture.body(op.entry.body) {
            Some(body) => request.json(&body),
            None => request,
        }
    }

    /// `op` on a fresh fixture in `org`.
    async fn call(
        &self,
        op: &Operation,
        org: &str,
        authorization: Option<&str>,
    ) -> (Response, Fixture) {
        let fixture = self.fixture(op, org).await;
        let resp = self
            .request(op, &fixture, authorization)
            .send()
            .await
            .expect("send");
        (resp, fixture)
    }

    /// A refused call left no trace: nothing registered, set or deleted.
    async fn assert_untouched(&self, op: &Operation, fixture: &Fixture, context: &str) {
        let org = &fixture.org;
        match op.entry.effect {
            Effect::Registers => {
                let query = format!("external_id={}", fixture.new_external_id);
                let page = self.admin.customers_page(org, &query).await;
                assert_eq!(page["items"], json!([]), "{context}: nothing registered");
            }
            Effect::SetsSpecialTreatment => {
                let path = special_treatment_path(org, fixture.customer_id());
                let body = self.admin.get_json(&path).await;
                assert_eq!(body, json!({"values": []}), "{context}: nothing set");
            }
            Effect::Deletes => {
                let resp = self.admin.get_customer(org, fixture.customer_id()).await;
                let context = format!("{context}: the customer is still there");
                expect_status(resp, StatusCode::OK, &context).await;
            }
            Effect::CreatesCategory => {
                let resp = self.admin.get_category(org, fixture.value("key")).await;
                let context = format!("{context}: no category created");
                expect_status(resp, StatusCode::NOT_FOUND, &context).await;
            }
            Effect::DeletesCategory => {
                let resp = self.admin.get_category(org, fixture.value("key")).await;
                let context = format!("{context}: the category is still there");
                expect_status(resp, StatusCode::OK, &context).await;
            }
            Effect::SetsCategories => {
                let keys = self
                    .admin
                    .customer_categories(org, fixture.customer_id())
                    .await;
                assert!(
                    keys.is_empty(),
                    "{context}: no categories set, found {keys:?}"
                );
            }
            Effect::StartsIdentification => {
                let page = self
                    .admin
                    .identifications_page(org, fixture.customer_id(), "")
                    .await;
                assert_eq!(page["items"], json!([]), "{context}: no process started");
            }
            Effect::MovesIdentification => {
                let process = self
                    .admin
                    .identification(org, fixture.customer_id(), fixture.value("process_id"))
                    .await;
                assert_eq!(
                    process["status"],
                    fixture.process_status.expect("a process fixture"),
                    "{context}: the process did not move"
                );
            }
            Effect::RegistersAccount => {
                let page = self.admin.lookup_page(org, &fixture.new_external_id).await;
                assert_eq!(page["items"], json!([]), "{context}: no account registered");
            }
            Effect::UpdatesAccount => {
                let account = self
                    .admin
                    .external_account(org, fixture.customer_id(), fixture.account_id())
                    .await;
                assert_eq!(
                    account["status"], "active",
                    "{context}: the account is unchanged"
                );
            }
            Effect::DeletesAccount => {
                let resp = self
                    .admin
                    .get_external_account(org, fixture.customer_id(), fixture.account_id())
                    .await;
                let context = format!("{context}: the account is still there");
                expect_status(resp, StatusCode::OK, &context).await;
            }
            Effect::CreatesCredential => {
                let path = credentials_path(org, fixture.customer_id());
                let page = self.admin.get_json(&path).await;
                assert_eq!(page["items"], json!([]), "{context}: no credential created");
            }
            Effect::DisablesCredential | Effect::SetsSecret | Effect::CountsFailure => {
                let credential = self
                    .admin
                    .credential(org, fixture.customer_id(), fixture.value("credential_id"))
                    .await;
                assert_eq!(credential["status"], "active", "{context}: {credential}");
                assert_eq!(credential["failed_attempts"], 0, "{context}: {credential}");
                assert_eq!(
                    credential["last_changed_at"], credential["created_at"],
                    "{context}: no new secret: {credential}"
                );
            }
            Effect::DeletesCredential => {
                let resp = self
                    .admin
                    .get_customer_credential(
                        org,
                        fixture.customer_id(),
                        fixture.value("credential_id"),
                    )
                    .await;
                let context = format!("{context}: the credential is still there");
                expect_status(resp, StatusCode::OK, &context).await;
            }
            Effect::None => {}
        }
    }

    /// `op` in `org` with `token` succeeds.
    async fn assert_allowed(&self, op: &Operation, org: &str, token: &str, context: &str) {
        let (resp, _) = self.call(op, org, bearer(token).as_deref()).await;
        let context = format!("{context}: {} in {org}", op.id);
        expect_status(resp, op.entry.success, &context).await;
    }

    /// `op` in `org` with `token` is a 403 `forbidden` without effect.
    async fn assert_forbidden(&self, op: &Operation, org: &str, token: &str, context: &str) {
        let context = format!("{context}: {} in {org}", op.id);
        let (resp, fixture) = self.call(op, org, bearer(token).as_deref()).await;
        let resp = expect_status(resp, StatusCode::FORBIDDEN, &context).await;
        assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
        self.assert_untouched(op, &fixture, &context).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens.

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// Claims every server below accepts (issuer and audience included, whether checked or not);
/// each case breaks one thing.
fn claims(orgs: &[&str], scope: &str) -> Value {
    let now = now();
    json!({
        "sub": "tester",
        "iat": now,
        "exp": now + 600,
        "orgs": orgs,
        "scope": scope,
        "iss": ISSUER,
        "aud": AUDIENCE,
    })
}

/// `claims` with `edit` applied.
fn claims_with(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut claims = claims(&[ORG], ALL_SCOPES);
    edit(claims.as_object_mut().expect("claims are an object"));
    claims
}

/// Signs with one algorithm and key.
#[derive(Clone)]
struct Signer {
    alg: Algorithm,
    key: EncodingKey,
}

impl Signer {
    fn hs256(secret: &[u8]) -> Signer {
        Signer {
            alg: Algorithm::HS256,
            key: EncodingKey::from_secret(secret),
        }
    }

    fn sign(&self, claims: &Value) -> String {
        jsonwebtoken::encode(&Header::new(self.alg), claims, &self.key).expect("sign a token")
    }

    fn token(&self, orgs: &[&str], scope: &str) -> String {
        self.sign(&claims(orgs, scope))
    }
}

/// An `alg: none` token: header and claims, no signature.
fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

/// `token` with its payload replaced by `claims`, keeping the original signature.
fn with_payload(token: &str, claims: &Value) -> String {
    let mut parts = token.split('.');
    let (header, _, signature) = (parts.next(), parts.next(), parts.next());
    format!(
        "{}.{}.{}",
        header.expect("a JWT header"),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        signature.expect("a JWT signature")
    )
}

fn bearer(token: &str) -> Option<String> {
    Some(format!("Bearer {token}"))
}

/// A key pair made at test time: the private half signs, the public half configures a server.
struct KeyPair {
    signer: Signer,
    /// SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    public_pem: String,
}

fn rsa_key_pair() -> (KeyPair, String) {
    use rsa::{
        pkcs1::EncodeRsaPublicKey,
        pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding},
    };
    let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("RSA key");
    let private_pem = private.to_pkcs8_pem(LineEnding::LF).expect("PKCS#8 PEM");
    let public = private.to_public_key();
    let public_pem = public
        .to_public_key_pem(LineEnding::LF)
        .expect("public key PEM");
    let pkcs1_public_pem = public.to_pkcs1_pem(LineEnding::LF).expect("PKCS#1 PEM");
    let signer = Signer {
        alg: Algorithm::RS256,
        key: EncodingKey::from_rsa_pem(private_pem.as_bytes()).expect("RSA encoding key"),
    };
    (KeyPair { signer, public_pem }, pkcs1_public_pem)
}

fn ec_key_pair() -> KeyPair {
    use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let private = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
    let private_pem = private.to_pkcs8_pem(LineEnding::LF).expect("PKCS#8 PEM");
    let public_pem = private
        .public_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("public key PEM");
    let signer = Signer {
        alg: Algorithm::ES256,
        key: EncodingKey::from_ec_pem(private_pem.as_bytes()).expect("EC encoding key"),
    };
    KeyPair { signer, public_pem }
}

/// RSA 2048 key generation is slow in a debug build: once per test binary. The second value
/// is the same public key as PKCS#1 PEM (`-----BEGIN RSA PUBLIC KEY-----`).
static RSA_KEY: LazyLock<(KeyPair, String)> = LazyLock::new(rsa_key_pair);
static EC_KEY: LazyLock<KeyPair> = LazyLock::new(ec_key_pair);

fn public_key_only(pem: &str) -> KeySettings {
    KeySettings {
        public_key_pem: Some(pem.as_bytes().to_vec()),
        ..KeySettings::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Assertions.

/// A 401 `unauthorized` ErrorResponse with RFC 6750's challenge: `error="invalid_token"` when a
/// bearer token was presented, the bare challenge when none was.
async fn assert_unauthorized(resp: Response, token_presented: bool, context: &str) {
    let resp = expect_status(resp, StatusCode::UNAUTHORIZED, context).await;
    let challenge = resp
        .headers()
        .get(WWW_AUTHENTICATE)
        .unwrap_or_else(|| panic!("{context}: a 401 carries WWW-Authenticate"))
        .to_str()
        .expect("ASCII header")
        .to_owned();
    if token_presented {
        assert!(
            challenge.starts_with(CHALLENGE) && challenge.contains(r#"error="invalid_token""#),
            "{context}: challenge {challenge:?}"
        );
    } else {
        assert_eq!(challenge, CHALLENGE, "{context}");
    }
    assert_error(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

/// One way to fail authentication.
struct Case {
    name: &'static str,
    authorization: Option<String>,
    token_presented: bool,
}

impl Case {
    fn token(name: &'static str, token: String) -> Case {
        Case {
            name,
            authorization: bearer(&token),
            token_presented: true,
        }
    }
}

/// Every case is a 401 on every operation, with no effect; the server's own well-formed token
/// (checked first) succeeds on each, so each 401 is down to what its case breaks.
async fn assert_all_unauthorized(server: &Server, cases: &[Case]) {
    let valid = server.signer.sign(&claims(&[ORG], ALL_SCOPES));
    for op in &server.operations {
        server.assert_allowed(op, ORG, &valid, "control").await;
        for case in cases {
            let context = format!("{}: {}", case.name, op.id);
            let (resp, fixture) = server.call(op, ORG, case.authorization.as_deref()).await;
            assert_unauthorized(resp, case.token_presented, &context).await;
            server.assert_untouched(op, &fixture, &context).await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The matrix itself

#[tokio::test]
async fn the_matrix_covers_every_bearer_secured_operation_of_the_served_spec() {
    // `Server::start` reads the served spec and refuses any disagreement with the matrix.
    let server = Server::hs256().await;
    let mut served: Vec<&str> = server.operations.iter().map(|op| op.id.as_str()).collect();
    let mut covered: Vec<&str> = MATRIX.iter().map(|entry| entry.operation_id).collect();
    served.sort_unstable();
    covered.sort_unstable();
    assert_eq!(served, covered);
    assert!(
        served.len() >= 6,
        "v1's six operations at least: {served:?}"
    );
}

/// The failures the matrix is there for: a new operation without a row, a row whose scope the
/// description does not name, a row for an operation the spec has not.
#[test]
fn the_matrix_refuses_an_uncovered_operation_a_wrong_scope_and_a_stale_row() {
    let spec = |operations: Value| {
        json!({
            "components": {"securitySchemes": {"BearerAuth": {"type": "http", "scheme": "bearer"}}},
            "paths": operations,
        })
    };
    let secured = |id: &str, description: &str, success: &str| {
        json!({
            "operationId": id,
            "description": description,
            "security": [{"BearerAuth": []}],
            "responses": {success: {}},
        })
    };
    let customers = "/v1/organizations/{org_id}/customers";
    let customer = "/v1/organizations/{org_id}/customers/{customer_id}";
    let treatment = "/v1/organizations/{org_id}/customers/{customer_id}/special-treatment";
    let mut lookup = secured(
        "lookupExternalAccounts",
        "Requires scope `accounts:read`.",
        "200",
    );
    lookup["parameters"] = json!([{"name": "external_id", "in": "query", "required": true}]);
    let mut v1 = json!({
        customers: {
            "parameters": [{"name": "org_id", "in": "path", "required": true}],
            "post": secured("createCustomer", "Requires scope `customers:write`.", "201"),
            "get": secured("listCustomers", "Requires\nscope `customers:read`.", "200"),
        },
        customer: {
            "get": secured("getCustomer", "Requires scope `customers:read`.", "200"),
            "delete": secured("deleteCustomer", "Requires scope `customers:write`.", "204"),
        },
        "/v1/organizations/{org_id}/customers/{customer_id}/history": {
            "get": secured("getCustomerHistory", "Requires scope `history:read`.", "200"),
        },
        treatment: {
            "get": secured("getCustomerSpecialTreatment", "Requires scope `special-treatment:read`.", "200"),
            "put": secured("setCustomerSpecialTreatment", "Requires scope\n`special-treatment:write`.", "204"),
        },
        "/healthz": {"get": {"operationId": "getHealth", "responses": {"200": {}}}},
        "/v1/organizations/{org_id}/categories": {
            "get": secured("listCategories", "Requires scope `categories:read`.", "200"),
        },
        "/v1/organizations/{org_id}/categories/{key}": {
            "put": secured("putCategory", "Requires scope `categories:write`.", "201"),
            "get": secured("getCategory", "Requires scope `categories:read`.", "200"),
            "delete": secured("deleteCategory", "Requires scope `categories:write`.", "204"),
        },
        "/v1/organizations/{org_id}/categories/{key}/customers": {
            "get": secured("listCategoryCustomers", "Requires scope `categories:read`.", "200"),
        },
        "/v1/organizations/{org_id}/customers/{customer_id}/categories": {
            "get": secured("getCustomerCategories", "Requires scope `categories:read`.", "200"),
            "put": secured("setCustomerCategories", "Requires scope `categories:write`.", "204"),
        },
        "/v1/organizations/{org_id}/customers/{customer_id}/identification-processes": {
            "post": secured("createIdentificationProcess", "Requires scope `identification:write`.", "201"),
            "get": secured("listIdentificationProcesses", "Requires scope `identification:read`.", "200"),
        },
        "/v1/organizations/{org_id}/customers/{customer_id}/identification-processes/{process_id}": {
            "get": secured("getIdentificationProcess", "Requires scope `identification:read`.", "200"),
        },
        "/v1/organizations/{org_id}/customers/{customer_id}/identification-processes/{process_id}/submit": {
            "post": secured("submitIdentificationProcess", "Requires scope `identification:write`.", "200"),
        },
        "/v1/organizations/{org_id}/customers/{customer_id}/identification-processes/{process_id}/cancel": {
            "post": secured("cancelIdentificationProcess", "Requires scope `identification:write`.", "200"),
        },
        "/v1/organizations/{org_id}/customers/{customer_id}/identification-processes/{process_id}/start-review": {
            "post": secured("startIdentificationReview", "Requires scope `identification:review`.", "200"),
        },
        "/v1/organizations/{org_id}/customers/{customer_id}/identification-processes/{process_id}/approve": {
            "post": secured("approveIdentificationProcess", "Requires scope `identification:review`.", "200"),
        },
        "/v1/organizations/{org_id}/customers/{customer_id}/identification-processes/{process_id}/reject": {
            "post": secured("rejectIdentificationProcess", "Requires scope `identification:review`.", "200"),
        },
        "/v1/organizations/{org_id}/customers/{customer_id}/accounts": {
            "post": secured("createExternalAccount", "Requires scope `accounts:write`.", "201"),
            "get": secured("listExternalAccounts", "Requires scope `accounts:read`.", "200"),
        },
        "/v1/organizations/{org_id}/accounts": {
            "get": lookup,
        },
        "/v1/organizations/{org_id}/customers/{customer_id}/accounts/{account_id}": {
            "get": secured("getExternalAccount", "Requires scope `accounts:read`.", "200"),
            "patch": secured("updateExternalAccount", "Requires scope `accounts:write`.", "200"),
            "delete": secured("deleteExternalAccount", "Requires scope `accounts:write`.", "204"),
        },
        "/v1/organizations/{org_id}/customers/{customer_id}/accounts/{account_id}/identification": {
            "get": secured("revealExternalAccountIdentification", "Requires scope `accounts:reveal`.", "200"),
        },
        "/v1/organizations/{org_id}/customers/{customer_id}/credentials": {
            "get": secured("listCustomerCredentials", "Requires scope `credentials:read`.", "200"),
            "post": secured("createCustomerCredential", "Requires scope `credentials:write`.", "201"),
        },
        "/v1/organizations/{org_id}/customers/{customer_id}/credentials/{credential_id}": {
            "get": secured("getCustomerCredential", "Requires scope `credentials:read`.", "200"),
            "patch": secured("updateCustomerCredential", "Requires scope `credentials:write`.", "200"),
            "delete": secured("deleteCustomerCredential", "Requires scope `credentials:write`.", "204"),
        },
        "/v1/organizations/{org_id}/customers/{customer_id}/credentials/{credential_id}/secret": {
            "put": secured("setCustomerCredentialSecret", "Requires scope `credentials:write`.", "204"),
        },
        "/v1/organizations/{org_id}/customers/{customer_id}/credentials/{credential_id}/verify": {
            "post": secured("verifyCustomerCredential", "Requires scope `credentials:verify` (privileged).", "200"),
        },
    });
    let operations =
        secured_operations(&spec(v1.clone())).expect("v1.1 and the history are covered");
    assert_eq!(operations.len(), 36);

    v1[customer]["patch"] = secured("updateCustomer", "Requires scope `customers:write`.", "200");
    v1[customer]["get"]["description"] = json!("Requires scope `customers:write`.");
    v1[treatment]
        .as_object_mut()
        .unwrap()
        .remove("put")
        .unwrap();
    v1["/v1/organizations/{org_id}/open"] = json!({"get": {"operationId": "openDoor"}});
    let problems = secured_operations(&spec(v1)).err().expect("refused");
    for expected in [
        "operation updateCustomer is not covered by the authorization matrix",
        "operation getCustomer: the matrix says scope `customers:read`, its description names [\"customers:write\"]",
        "the authorization matrix has setCustomerSpecialTreatment, which the spec has not",
        "operation openDoor (GET /v1/organizations/{org_id}/open) is under /v1 but declares no bearer security",
    ] {
        assert!(
            problems.iter().any(|p| p.starts_with(expected)),
            "{expected:?} in {problems:#?}"
        );
    }
    assert_eq!(problems.len(), 4, "{problems:#?}");
}

// ---------------------------------------------------------------------------------------------
// 401

#[tokio::test]
async fn every_operation_refuses_missing_and_invalid_credentials_with_401() {
    let server = Server::start(
        KeySettings {
            hs256_secret: Some(SECRET.as_bytes().to_vec()),
            issuer: Some(ISSUER.to_owned()),
            audience: Some(AUDIENCE.to_owned()),
            ..KeySettings::default()
        },
        Signer::hs256(SECRET.as_bytes()),
    )
    .await;
    let signer = &server.signer;
    let sign_with = |edit: fn(&mut serde_json::Map<String, Value>)| signer.sign(&claims_with(edit));
    let other_secret = Signer::hs256(b"another-secret-of-at-least-32-bytes!");
    let cases = [
        Case {
            name: "no Authorization header",
            authorization: None,
            token_presented: false,
        },
        Case {
            name: "Basic scheme",
            authorization: Some("Basic dGVzdGVyOnNlY3JldA==".to_owned()),
            token_presented: false,
        },
        Case::token("garbage token", "not-a-jwt".to_owned()),
        Case::token("three garbage segments", "abc.def.ghi".to_owned()),
        Case::token(
            "signed with another secret",
            other_secret.sign(&claims(&[ORG], ALL_SCOPES)),
        ),
        Case::token(
            "payload changed after signing",
            with_payload(
                &signer.sign(&claims(&[ORG], "customers:read")),
                &claims(&[ORG], ALL_SCOPES),
            ),
        ),
        Case::token(
            "expired beyond the leeway",
            sign_with(|c| {
                c.insert("exp".into(), json!(now() - 90));
            }),
        ),
        Case::token(
            "not yet valid beyond the leeway",
            sign_with(|c| {
                c.insert("nbf".into(), json!(now() + 90));
            }),
        ),
        Case::token("alg none", unsigned(&claims(&[ORG], ALL_SCOPES))),
        Case::token(
            "HS512 with the right secret",
            Signer {
                alg: Algorithm::HS512,
                key: EncodingKey::from_secret(SECRET.as_bytes()),
            }
            .sign(&claims(&[ORG], ALL_SCOPES)),
        ),
        Case::token(
            "sub missing",
            sign_with(|c| {
                c.remove("sub");
            }),
        ),
        Case::token(
            "sub empty",
            sign_with(|c| {
                c.insert("sub".into(), json!(""));
            }),
        ),
        Case::token(
            "exp missing",
            sign_with(|c| {
                c.remove("exp");
            }),
        ),
        Case::token(
            "wrong iss",
            sign_with(|c| {
                c.insert("iss".into(), json!("https://someone-else.example"));
            }),
        ),
        Case::token(
            "iss missing",
            sign_with(|c| {
                c.remove("iss");
            }),
        ),
        Case::token(
            "wrong aud",
            sign_with(|c| {
                c.insert("aud".into(), json!("another-api"));
            }),
        ),
        Case::token(
            "aud missing",
            sign_with(|c| {
                c.remove("aud");
            }),
        ),
    ];
    assert_all_unauthorized(&server, &cases).await;
}

/// Algorithm confusion: with only a public key configured, an HS256 token whose HMAC key is the
/// public key's PEM (which attackers know) must not verify; nor must one with the test secret.
#[tokio::test]
async fn with_only_a_public_key_an_hs256_token_is_401_on_every_operation() {
    let ((rsa, _), ec) = (&*RSA_KEY, &*EC_KEY);
    for key in [rsa, ec] {
        let server = Server::start(public_key_only(&key.public_pem), key.signer.clone()).await;
        let cases = [
            Case::token(
                "HS256 signed with the public key PEM",
                Signer::hs256(key.public_pem.as_bytes()).sign(&claims(&[ORG], ALL_SCOPES)),
            ),
            Case::token(
                "HS256 signed with the test secret",
                Signer::hs256(SECRET.as_bytes()).sign(&claims(&[ORG], ALL_SCOPES)),
            ),
        ];
        assert_all_unauthorized(&server, &cases).await;
    }
}

#[tokio::test]
async fn the_clock_leeway_tolerates_a_few_seconds_of_skew() {
    let server = Server::hs256().await;
    let slightly_expired = server.signer.sign(&claims_with(|c| {
        c.insert("exp".into(), json!(now() - 5));
    }));
    let slightly_early = server.signer.sign(&claims_with(|c| {
        c.insert("nbf".into(), json!(now() + 5));
    }));
    let list = server.operation("listCustomers");
    for token in [slightly_expired, slightly_early] {
        server
            .assert_allowed(list, ORG, &token, "within the leeway")
            .await;
    }
}

// ---------------------------------------------------------------------------------------------
// 403

#[tokio::test]
async fn a_token_without_the_organization_is_403_on_every_operation() {
    let server = Server::hs256().await;
    let other_org_only = server.token(&[OTHER_ORG], ALL_SCOPES);
    let no_org = server.token(&[], ALL_SCOPES);
    let prefix_only = server.token(&["acm"], ALL_SCOPES);
    for op in &server.operations {
        for token in [&other_org_only, &no_org, &prefix_only] {
            server
                .assert_forbidden(op, ORG, token, "org not granted")
                .await;
        }
    }
}

#[tokio::test]
async fn each_operation_needs_its_own_scope() {
    let server = Server::hs256().await;
    for op in &server.operations {
        let scope = op.entry.scope;
        let all_but: Vec<&str> = ALL_SCOPES.split(' ').filter(|s| *s != scope).collect();
        assert_eq!(
            all_but.len(),
            ALL_SCOPES.split(' ').count() - 1,
            "{} needs one of the scopes {ALL_SCOPES}",
            op.id
        );
        let without = server.token(&[ORG], &all_but.join(" "));
        server
            .assert_forbidden(op, ORG, &without, "every scope but the needed one")
            .await;
        let only = server.token(&[ORG], scope);
        server
            .assert_allowed(op, ORG, &only, "only the needed scope")
            .await;
    }
}

#[tokio::test]
async fn a_wildcard_organization_grants_every_organization_but_not_every_scope() {
    let server = Server::hs256().await;
    let wildcard = server.token(&["*"], ALL_SCOPES);
    for op in &server.operations {
        for org in [ORG, OTHER_ORG] {
            server
                .assert_allowed(op, org, &wildcard, "orgs [\"*\"]")
                .await;
        }
    }
    // An organization nobody registered anything in yet.
    let page = server
        .app
        .api
        .with_token(&wildcard)
        .customers_page("initech.eu-1", "")
        .await;
    assert_eq!(page["items"], json!([]), "orgs [\"*\"], a new organization");
    // The wildcard grants organizations, not scopes.
    let wildcard_reader = server.token(&["*"], "customers:read");
    server
        .assert_forbidden(
            server.operation("createCustomer"),
            OTHER_ORG,
            &wildcard_reader,
            "orgs [\"*\"]",
        )
        .await;
}

// ---------------------------------------------------------------------------------------------
// Precedence

/// Malformed requests, each with the operation it targets, without credentials; with valid
/// credentials each is a 400.
fn malformed_requests(api: &ApiClient, customer_id: &str) -> Vec<(&'static str, RequestBuilder)> {
    let api = api.without_token();
    let treatment = special_treatment_path(ORG, customer_id);
    let customers = customers_path(ORG);
    vec![
        (
            "GET customer, bad UUID",
            api.request(Method::GET, &customer_path(ORG, "not-a-uuid")),
        ),
        (
            "DELETE customer, bad UUID",
            api.request(Method::DELETE, &customer_path(ORG, "not-a-uuid")),
        ),
        (
            "GET treatment, bad UUID",
            api.request(Method::GET, &special_treatment_path(ORG, "not-a-uuid")),
        ),
        (
            "PUT treatment, bad UUID",
            api.request(Method::PUT, &special_treatment_path(ORG, "not-a-uuid"))
                .json(&json!({"values": []})),
        ),
        (
            "PUT treatment, broken rule",
            api.request(Method::PUT, &treatment)
                .json(&json!({"values": ["vip", "vip"]})),
        ),
        (
            "PUT treatment, not JSON",
            api.request(Method::PUT, &treatment)
                .header("content-type", "application/json")
                .body("{not json"),
        ),
        (
            "POST customer, broken rule",
            api.request(Method::POST, &customers)
                .json(&json!({"external_id": ""})),
        ),
        (
            "POST customer, unknown field",
            api.request(Method::POST, &customers)
                .json(&json!({"external_id": "x", "admin": true})),
        ),
        (
            "PUT treatment, wrong content type",
            api.request(Method::PUT, &treatment)
                .header("content-type", "text/plain")
                .body(r#"{"values": []}"#),
        ),
        (
            "list, limit out of range",
            api.request(Method::GET, &format!("{customers}?limit=0")),
        ),
        (
            "list, cursor not issued",
            api.request(Method::GET, &format!("{customers}?cursor=%21%21")),
        ),
        (
            "list, bad org_id",
            api.request(Method::GET, &customers_path("-bad-")),
        ),
    ]
}

#[tokio::test]
async fn a_missing_or_invalid_token_is_401_before_a_malformed_request_is_400() {
    let server = Server::hs256().await;
    let app = &server.app;
    let customer_id = server.admin.new_customer(ORG).await;
    let garbage = "Bearer not-a-jwt";
    let expired = bearer(&server.signer.sign(&claims_with(|c| {
        c.insert("exp".into(), json!(now() - 3600));
    })))
    .unwrap();
    for (name, req) in malformed_requests(&app.api, &customer_id) {
        // Control: with a valid token the request is a 400.
        let resp = req
            .try_clone()
            .unwrap()
            .bearer_auth(&app.token)
            .send()
            .await;
        let resp = expect_status(resp.unwrap(), StatusCode::BAD_REQUEST, name).await;
        let body: Value = resp.json().await.unwrap();
        assert!(
            body["code"].as_str().unwrap().starts_with("invalid_"),
            "{name}: {body}"
        );

        let resp = req.try_clone().unwrap().send().await.unwrap();
        assert_unauthorized(resp, false, &format!("{name}, no token")).await;
        for authorization in [garbage, expired.as_str()] {
            let resp = req
                .try_clone()
                .unwrap()
                .header("authorization", authorization)
                .send()
                .await
                .unwrap();
            assert_unauthorized(resp, true, &format!("{name}, {authorization}")).await;
        }
    }
}

#[tokio::test]
async fn forbidden_is_decided_before_the_customer_is_looked_up() {
    let server = Server::hs256().await;
    let admin = server.token(&[ORG, OTHER_ORG], ALL_SCOPES);
    let other_org = server.token(&[OTHER_ORG], ALL_SCOPES);
    let named = server.operations.iter().filter(|op| op.names_a_resource());
    for op in named {
        let existing = server.fixture(op, ORG).await;
        let missing = server.fixture_with(op, ORG, Param::missing);
        // Control: it does not exist.
        let resp = server
            .request(op, &missing, bearer(&admin).as_deref())
            .send()
            .await
            .unwrap();
        assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;

        let all_but_needed = ALL_SCOPES.replace(op.entry.scope, "");
        let lacking_scope = server.token(&[ORG], &all_but_needed);
        for (name, token) in [("other org", &other_org), ("scope missing", &lacking_scope)] {
            let mut messages = Vec::new();
            for fixture in [&missing, &existing] {
                let resp = server
                    .request(op, fixture, bearer(token).as_deref())
                    .send()
                    .await
                    .unwrap();
                let path = fixture.path(&op.path);
                let context = format!("{}, {name}, {path}", op.id);
                let resp = expect_status(resp, StatusCode::FORBIDDEN, &context).await;
                let body = assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
                messages.push(body["message"].clone());
            }
            assert_eq!(
                messages[0], messages[1],
                "{}, {name}: a 403 does not tell whether the resource exists",
                op.id
            );
            server
                .assert_untouched(op, &existing, &format!("{}, {name}", op.id))
                .await;
        }
    }
}

/// The documented choice: requests are parsed before they are authorized, so a malformed
/// request is a 400 even from a caller who may not make it at all.
#[tokio::test]
async fn a_malformed_request_is_400_even_when_it_would_also_be_403() {
    let server = Server::hs256().await;
    let customer_id = server.admin.new_customer(ORG).await;
    let read_only = server.token(&[ORG], "customers:read special-treatment:read");
    let other_org = server.token(&[OTHER_ORG], ALL_SCOPES);
    for (name, req) in malformed_requests(&server.app.api, &customer_id) {
        for token in [&read_only, &other_org] {
            let resp = req.try_clone().unwrap().bearer_auth(token).send().await;
            let resp = expect_status(resp.unwrap(), StatusCode::BAD_REQUEST, name).await;
            let body: Value = resp.json().await.unwrap();
            assert!(
                body["code"].as_str().unwrap().starts_with("invalid_"),
                "{name}: {body}"
            );
        }
    }
    // Control: well-formed, the same callers are refused.
    for token in [&read_only, &other_org] {
        for id in ["createCustomer", "setCustomerSpecialTreatment"] {
            server
                .assert_forbidden(server.operation(id), ORG, token, "well formed")
                .await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// RS256 and ES256

#[tokio::test]
async fn rs256_tokens_verify_against_the_configured_rsa_public_key() {
    let (rsa, pkcs1_public_pem) = &*RSA_KEY;
    let ec = &*EC_KEY;
    for public_pem in [&rsa.public_pem, pkcs1_public_pem] {
        let server = Server::start(public_key_only(public_pem), rsa.signer.clone()).await;
        let token = server.token(&[ORG], ALL_SCOPES);
        for op in &server.operations {
            server.assert_allowed(op, ORG, &token, "RS256").await;
        }
        let tampered = with_payload(
            &server.token(&[ORG], "customers:read"),
            &claims(&[ORG], ALL_SCOPES),
        );
        for (name, token) in [
            ("RS256, payload changed after signing", tampered),
            (
                "ES256 against an RSA key",
                ec.signer.token(&[ORG], ALL_SCOPES),
            ),
        ] {
            let (resp, _) = server
                .call(
                    server.operation("listCustomers"),
                    ORG,
                    bearer(&token).as_deref(),
                )
                .await;
            assert_unauthorized(resp, true, name).await;
        }
    }
}

#[tokio::test]
async fn es256_tokens_verify_against_the_configured_ec_public_key() {
    let ec = &*EC_KEY;
    let (rsa, _) = &*RSA_KEY;
    let server = Server::start(public_key_only(&ec.public_pem), ec.signer.clone()).await;
    let token = server.token(&[ORG], ALL_SCOPES);
    for op in &server.operations {
        server.assert_allowed(op, ORG, &token, "ES256").await;
    }
    let another_ec_key = ec_key_pair();
    for (name, token) in [
        (
            "ES256 signed with another key",
            another_ec_key.signer.token(&[ORG], ALL_SCOPES),
        ),
        (
            "RS256 against an EC key",
            rsa.signer.token(&[ORG], ALL_SCOPES),
        ),
    ] {
        let (resp, _) = server
            .call(
                server.operation("listCustomers"),
                ORG,
                bearer(&token).as_deref(),
            )
            .await;
        assert_unauthorized(resp, true, name).await;
    }
}

#[tokio::test]
async fn with_a_secret_and_a_public_key_both_algorithms_are_accepted() {
    let (rsa, _) = &*RSA_KEY;
    let server = Server::start(
        KeySettings {
            hs256_secret: Some(SECRET.as_bytes().to_vec()),
            public_key_pem: Some(rsa.public_pem.as_bytes().to_vec()),
            ..KeySettings::default()
        },
        rsa.signer.clone(),
    )
    .await;
    let hs256 = Signer::hs256(SECRET.as_bytes()).token(&[ORG], ALL_SCOPES);
    let rs256 = rsa.signer.token(&[ORG], ALL_SCOPES);
    for token in [&hs256, &rs256] {
        server
            .assert_allowed(
                server.operation("listCustomers"),
                ORG,
                token,
                "HS256 or RS256",
            )
            .await;
    }
    let es256 = EC_KEY.signer.token(&[ORG], ALL_SCOPES);
    let (resp, _) = server
        .call(
            server.operation("listCustomers"),
            ORG,
            bearer(&es256).as_deref(),
        )
        .await;
    assert_unauthorized(resp, true, "ES256 not configured").await;
}

// ---------------------------------------------------------------------------------------------
// The `token` subcommand and a server process of the binary

const BINARY: &str = env!("CARGO_BIN_EXE_customers-api");

/// Runs the binary in `dir` with exactly `env` (nothing inherited), bounded in time.
async fn run_binary(dir: &Path, args: &[&str], env: &[(&str, &OsStr)]) -> Output {
    let mut command = tokio::process::Command::new(BINARY);
    command
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    tokio::time::timeout(PROCESS_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("`customers-api {args:?}` finishes within {PROCESS_TIMEOUT:?}"))
        .expect("run the binary")
}

/// `customers-api token ARGS` succeeds and prints one token.
async fn mint(dir: &Path, args: &[&str], env: &[(&str, &OsStr)]) -> String {
    let output = run_binary(dir, &[&["token"][..], args].concat(), env).await;
    assert!(
        output.status.success(),
        "token {args:?}: {:?} {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("UTF-8");
    let token = stdout.trim();
    assert_eq!(token.lines().count(), 1, "one token: {stdout:?}");
    assert_eq!(token.split('.').count(), 3, "a JWT: {token:?}");
    token.to_owned()
}

/// The claims of an HS256 token, verified with `secret`.
fn verified_claims(token: &str, secret: &[u8]) -> Value {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_secret(secret), &validation)
        .expect("the token verifies with the secret")
        .claims
}

#[tokio::test]
async fn the_token_command_mints_a_token_with_the_scopes_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::hs256().await;
    let env = [("JWT_SECRET", OsStr::new(SECRET))];
    let token = mint(
        dir.path(),
        &["--org", ORG, "--scope", "special-treatment:read"],
        &env,
    )
    .await;

    let claims = verified_claims(&token, SECRET.as_bytes());
    assert_eq!(claims["orgs"], json!([ORG]));
    assert_eq!(claims["scope"], "special-treatment:read");
    assert_eq!(claims["sub"], "developer");
    let ttl = claims["exp"].as_u64().unwrap() as i64 - now() as i64;
    assert!(
        (3590..=3600).contains(&ttl),
        "an hour by default, {ttl} s left"
    );

    for op in &server.operations {
        if op.entry.scope == "special-treatment:read" {
            server
                .assert_allowed(op, ORG, &token, "granted scope")
                .await;
            server
                .assert_forbidden(op, OTHER_ORG, &token, "org not granted")
                .await;
        } else {
            server
                .assert_forbidden(op, ORG, &token, "scope not granted")
                .await;
        }
    }
}

#[tokio::test]
async fn the_token_command_grants_every_scope_but_the_privileged_ones_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::hs256().await;
    let env = [("JWT_SECRET", OsStr::new(SECRET))];
    let args = [
        "--org", ORG, "--org", OTHER_ORG, "--sub", "ci-bot", "--ttl", "120",
    ];
    let token = mint(dir.path(), &args, &env).await;

    let claims = verified_claims(&token, SECRET.as_bytes());
    let mut scopes: Vec<&str> = claims["scope"].as_str().unwrap().split(' ').collect();
    scopes.sort_unstable();
    let mut default: Vec<&str> = DEFAULT_SCOPES.split_whitespace().collect();
    default.sort_unstable();
    assert_eq!(scopes, default);
    assert_eq!(claims["sub"], "ci-bot");
    let ttl = claims["exp"].as_u64().unwrap() as i64 - now() as i64;
    assert!((110..=120).contains(&ttl), "--ttl 120, {ttl} s left");

    // Privileged scopes are left out of the default grant: their operations are refused.
    for op in &server.operations {
        for org in [ORG, OTHER_ORG] {
            if PRIVILEGED.contains(&op.entry.scope) {
                server
                    .assert_forbidden(op, org, &token, "default scopes, privileged operation")
                    .await;
            } else {
                server
                    .assert_allowed(op, org, &token, "default scopes")
                    .await;
            }
        }
    }
    // Asked for by name, a privileged scope is granted.
    let args = ["--org", ORG, "--scope", "accounts:read accounts:reveal"];
    let revealer = mint(dir.path(), &args, &env).await;
    let reveal = server.operation("revealExternalAccountIdentification");
    server
        .assert_allowed(reveal, ORG, &revealer, "--scope accounts:reveal")
        .await;
    let args = [
        "--org",
        ORG,
        "--scope",
        "credentials:read credentials:verify",
    ];
    let channel = mint(dir.path(), &args, &env).await;
    let verify = server.operation("verifyCustomerCredential");
    server
        .assert_allowed(verify, ORG, &channel, "--scope credentials:verify")
        .await;
    let args = ["--org", ORG, "--scope", "history:read"];
    let auditor = mint(dir.path(), &args, &env).await;
    let history = server.operation("getCustomerHistory");
    server
        .assert_allowed(history, ORG, &auditor, "--scope history:read")
        .await;
}

/// Scopes the `token` command grants only when asked for by name.
const PRIVILEGED: &[&str] = &[
    "identification:review",
    "accounts:reveal",
    "credentials:verify",
    "history:read",
];

/// The mode bits of `path` and its trimmed content.
fn secret_file(path: &Path) -> (u32, String) {
    let mode = std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode();
    let content = std::fs::read_to_string(path).unwrap().trim().to_owned();
    (mode & 0o777, content)
}

#[tokio::test]
async fn without_a_key_the_token_command_generates_a_secret_file_once_and_reuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let secret_path = dir.path().join("keys").join("jwt-secret");
    let env = [("JWT_SECRET_FILE", secret_path.as_os_str())];

    let first = mint(dir.path(), &["--org", ORG], &env).await;
    let (mode, secret) = secret_file(&secret_path);
    assert_eq!(mode, 0o600, "only the owner may read the secret");
    assert!(secret.len() >= 32, "{} bytes", secret.len());
    assert!(
        !dir.path().join("data").exists(),
        "nothing is written at the default path"
    );

    let second = mint(dir.path(), &["--org", ORG], &env).await;
    assert_eq!(secret_file(&secret_path), (0o600, secret.clone()), "reused");
    for token in [&first, &second] {
        verified_claims(token, secret.as_bytes());
    }

    // A server configured with that secret accepts both.
    let server = Server::start(
        KeySettings {
            hs256_secret: Some(secret.as_bytes().to_vec()),
            ..KeySettings::default()
        },
        Signer::hs256(secret.as_bytes()),
    )
    .await;
    for token in [&first, &second] {
        server
            .assert_allowed(
                server.operation("listCustomers"),
                ORG,
                token,
                "generated secret",
            )
            .await;
    }
}

/// `customers-api serve` as a child process with its own SQLite file in `dir` and exactly `env`
/// (no JWT key unless `env` configures one).
async fn serve_process(dir: &Path, env: &[(&str, &OsStr)]) -> ServerProcess {
    let database_url = format!("sqlite://{}/server.sqlite?mode=rwc", dir.display());
    let env: Vec<(&str, &str)> = env
        .iter()
        .map(|(name, value)| (*name, value.to_str().expect("a UTF-8 value")))
        .collect();
    ServerProcess::start_with_env(&database_url, &env).await
}

/// `listCustomers` in [`ORG`] with `token`.
async fn list(server: &ServerProcess, token: &str) -> Response {
    server.api.with_token(token).list_customers(ORG, "").await
}

#[tokio::test]
async fn a_server_process_without_a_key_accepts_tokens_from_its_generated_secret() {
    let dir = tempfile::tempdir().unwrap();
    let secret_path = dir.path().join("keys").join("jwt-secret");
    let env = [("JWT_SECRET_FILE", secret_path.as_os_str())];
    let server = serve_process(dir.path(), &env).await;

    let (mode, secret) = secret_file(&secret_path);
    assert_eq!(mode, 0o600);
    assert!(secret.len() >= 32);

    let token = mint(dir.path(), &["--org", ORG], &env).await;
    // A token of the generated secret.
    let api = server.api.with_token(&token);
    api.register(ORG, "from-the-process-test").await;
    let page = api.customers_page(ORG, "").await;
    assert_eq!(page["items"][0]["external_id"], "from-the-process-test");

    // The test secret is not what this server trusts.
    let other = crate::helpers::token(&[ORG], ALL_SCOPES);
    assert_unauthorized(
        list(&server, &other).await,
        true,
        "a token of another secret",
    )
    .await;
}

/// The environment reaches the verifier: `JWT_PUBLIC_KEY_FILE`, `JWT_ISSUER`, `JWT_AUDIENCE`;
/// and with a public key configured no HS256 secret is generated, so `token` has nothing to
/// sign with.
#[tokio::test]
async fn a_server_process_checks_the_configured_public_key_issuer_and_audience() {
    let (rsa, _) = &*RSA_KEY;
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("jwt-public.pem");
    std::fs::write(&key_path, &rsa.public_pem).unwrap();
    let secret_path = dir.path().join("jwt-secret");
    let env = [
        ("JWT_PUBLIC_KEY_FILE", key_path.as_os_str()),
        ("JWT_ISSUER", OsStr::new(ISSUER)),
        ("JWT_AUDIENCE", OsStr::new(AUDIENCE)),
        ("JWT_SECRET_FILE", secret_path.as_os_str()),
    ];
    let server = serve_process(dir.path(), &env).await;
    assert!(
        !secret_path.exists(),
        "no secret generated beside a public key"
    );

    let valid = rsa.signer.token(&[ORG], ALL_SCOPES);
    expect_status(
        list(&server, &valid).await,
        StatusCode::OK,
        "RS256, right iss and aud",
    )
    .await;
    let wrong_iss = rsa.signer.sign(&claims_with(|c| {
        c.insert("iss".into(), json!("https://someone-else.example"));
    }));
    let wrong_aud = rsa.signer.sign(&claims_with(|c| {
        c.insert("aud".into(), json!("another-api"));
    }));
    let hs256 = crate::helpers::token(&[ORG], ALL_SCOPES);
    for (name, token) in [
        ("wrong iss", wrong_iss),
        ("wrong aud", wrong_aud),
        ("HS256", hs256),
    ] {
        assert_unauthorized(list(&server, &token).await, true, name).await;
    }

    let output = run_binary(dir.path(), &["token", "--org", ORG], &env).await;
    assert!(
        !output.status.success(),
        "token without a secret: {output:?}"
    );
    assert!(output.stdout.is_empty(), "no token printed");
    assert!(!secret_path.exists(), "`token` generated no secret either");
}

#[tokio::test]
async fn a_jwt_secret_shorter_than_32_bytes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let short = "x".repeat(31);
    let output = run_binary(
        dir.path(),
        &["token", "--org", ORG],
        &[("JWT_SECRET", OsStr::new(&short))],
    )
    .await;
    assert!(!output.status.success(), "31 bytes: {:?}", output.status);
    assert!(output.stdout.is_empty(), "no token printed");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("32 bytes"), "says why: {stderr}");

    // The same secret does not start a server either.
    let database_url = format!("sqlite://{}/db.sqlite?mode=rwc", dir.path().display());
    let output = run_binary(
        dir.path(),
        &["serve", "--listen-addr", "127.0.0.1:0"],
        &[
            ("JWT_SECRET", OsStr::new(&short)),
            ("DATABASE_URL", OsStr::new(&database_url)),
        ],
    )
    .await;
    assert!(
        !output.status.success(),
        "serve, 31 bytes: {:?}",
        output.status
    );

    // 32 bytes is enough.
    let exact = "x".repeat(32);
    let token = mint(
        dir.path(),
        &["--org", ORG],
        &[("JWT_SECRET", OsStr::new(&exact))],
    )
    .await;
    verified_claims(&token, exact.as_bytes());
}

#[test]
fn an_ec_key_on_another_curve_than_p256_is_refused_at_start() {
    use p384::pkcs8::{EncodePublicKey, LineEnding};
    let private = p384::SecretKey::random(&mut p384::elliptic_curve::rand_core::OsRng);
    let pem = private
        .public_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("P-384 public key PEM");
    let refused = customers_api::auth::TokenVerifier::new(&public_key_only(&pem));
    let message = refused.err().expect("a P-384 key is refused").to_string();
    assert!(message.contains("P-256"), "{message}");
    // The P-256 key of the other tests is accepted.
    assert!(customers_api::auth::TokenVerifier::new(&public_key_only(&EC_KEY.public_pem)).is_ok());
}
