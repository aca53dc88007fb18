//! Authentication (401) and authorization (403) on every `/v1` operation, their precedence over
//! the other errors, the accepted algorithms (HS256, RS256, ES256), and the `token` subcommand.
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
    helpers::{ALL_SCOPES, ORG, SECRET, TestApp, assert_error, spawn_app_with},
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
// The six operations.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    GetTreatment,
    PutTreatment,
    CreateCustomer,
    ListCustomers,
    GetCustomer,
    DeleteCustomer,
}

const OPS: [Op; 6] = [
    Op::GetTreatment,
    Op::PutTreatment,
    Op::CreateCustomer,
    Op::ListCustomers,
    Op::GetCustomer,
    Op::DeleteCustomer,
];

impl Op {
    fn method(self) -> Method {
        match self {
            Op::GetTreatment | Op::ListCustomers | Op::GetCustomer => Method::GET,
            Op::PutTreatment => Method::PUT,
            Op::CreateCustomer => Method::POST,
            Op::DeleteCustomer => Method::DELETE,
        }
    }

    fn scope(self) -> &'static str {
        match self {
            Op::GetTreatment => "special-treatment:read",
            Op::PutTreatment => "special-treatment:write",
            Op::CreateCustomer | Op::DeleteCustomer => "customers:write",
            Op::ListCustomers | Op::GetCustomer => "customers:read",
        }
    }

    fn success(self) -> StatusCode {
        match self {
            Op::GetTreatment | Op::ListCustomers | Op::GetCustomer => StatusCode::OK,
            Op::PutTreatment | Op::DeleteCustomer => StatusCode::NO_CONTENT,
            Op::CreateCustomer => StatusCode::CREATED,
        }
    }

    /// Whether the path names a customer.
    fn names_a_customer(self) -> bool {
        !matches!(self, Op::CreateCustomer | Op::ListCustomers)
    }

    fn path(self, org: &str, customer_id: &str) -> String {
        match self {
            Op::GetTreatment | Op::PutTreatment => TestApp::treatment_path(org, customer_id),
            Op::CreateCustomer | Op::ListCustomers => format!("/v1/organizations/{org}/customers"),
            Op::GetCustomer | Op::DeleteCustomer => {
                format!("/v1/organizations/{org}/customers/{customer_id}")
            }
        }
    }
}

/// What one call acts on: a customer registered for it, and the `external_id` a POST registers.
struct Target {
    org: String,
    customer_id: String,
    new_external_id: String,
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
// A server with a signer it trusts.

struct Server {
    app: TestApp,
    signer: Signer,
    /// All scopes in [`ORG`] and [`OTHER_ORG`]: registers the customers calls act on.
    admin: String,
}

impl Server {
    async fn start(keys: KeySettings, signer: Signer) -> Server {
        let app = spawn_app_with(|settings| settings.keys = keys).await;
        let admin = signer.token(&[ORG, OTHER_ORG], ALL_SCOPES);
        Server { app, signer, admin }
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

    /// Registers a customer in `org` and returns its id.
    async fn customer(&self, org: &str) -> String {
        let resp = self
            .app
            .anonymous(Method::POST, &format!("/v1/organizations/{org}/customers"))
            .bearer_auth(&self.admin)
            .json(&json!({ "external_id": format!("fixture-{}", uuid::Uuid::new_v4()) }))
            .send()
            .await
            .expect("send");
        let resp = expect_status(resp, StatusCode::CREATED, "register a fixture customer").await;
        let created: Value = resp.json().await.expect("customer JSON");
        created["id"].as_str().expect("id").to_owned()
    }

    async fn target(&self, org: &str) -> Target {
        Target {
            org: org.to_owned(),
            customer_id: self.customer(org).await,
            new_external_id: format!("new-{}", uuid::Uuid::new_v4()),
        }
    }

    /// `op` on `target`, well formed, with this `Authorization` header (if any).
    fn request(&self, op: Op, target: &Target, authorization: Option<&str>) -> RequestBuilder {
        let mut req = self
            .app
            .anonymous(op.method(), &op.path(&target.org, &target.customer_id));
        if let Some(value) = authorization {
            req = req.header("authorization", value);
        }
        match op {
            Op::PutTreatment => req.json(&json!({ "values": ["vip"] })),
            Op::CreateCustomer => req.json(&json!({ "external_id": target.new_external_id })),
            _ => req,
        }
    }

    /// `op` on a fresh customer in `org`.
    async fn call(&self, op: Op, org: &str, authorization: Option<&str>) -> (Response, Target) {
        let target = self.target(org).await;
        let resp = self
            .request(op, &target, authorization)
            .send()
            .await
            .expect("send");
        (resp, target)
    }

    /// A refused call left no trace: nothing registered, set or deleted.
    async fn assert_untouched(&self, op: Op, target: &Target, context: &str) {
        let org = &target.org;
        let get = |path: String| {
            self.app
                .anonymous(Method::GET, &path)
                .bearer_auth(&self.admin)
                .send()
        };
        match op {
            Op::CreateCustomer => {
                let path = format!(
                    "/v1/organizations/{org}/customers?external_id={}",
                    target.new_external_id
                );
                let resp = expect_status(get(path).await.unwrap(), StatusCode::OK, context).await;
                let page: Value = resp.json().await.unwrap();
                assert_eq!(page["items"], json!([]), "{context}: nothing registered");
            }
            Op::PutTreatment => {
                let path = TestApp::treatment_path(org, &target.customer_id);
                let resp = expect_status(get(path).await.unwrap(), StatusCode::OK, context).await;
                let body: Value = resp.json().await.unwrap();
                assert_eq!(body, json!({"values": []}), "{context}: nothing set");
            }
            Op::DeleteCustomer => {
                let path = Op::GetCustomer.path(org, &target.customer_id);
                let context = format!("{context}: the customer is still there");
                expect_status(get(path).await.unwrap(), StatusCode::OK, &context).await;
            }
            Op::GetTreatment | Op::ListCustomers | Op::GetCustomer => {}
        }
    }

    /// `op` in `org` with `token` succeeds.
    async fn assert_allowed(&self, op: Op, org: &str, token: &str, context: &str) {
        let (resp, _) = self.call(op, org, bearer(token).as_deref()).await;
        expect_status(resp, op.success(), &format!("{context}: {op:?} in {org}")).await;
    }

    /// `op` in `org` with `token` is a 403 `forbidden` without effect.
    async fn assert_forbidden(&self, op: Op, org: &str, token: &str, context: &str) {
        let context = format!("{context}: {op:?} in {org}");
        let (resp, target) = self.call(op, org, bearer(token).as_deref()).await;
        let resp = expect_status(resp, StatusCode::FORBIDDEN, &context).await;
        assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
        self.assert_untouched(op, &target, &context).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Assertions.

/// Panics with the body when the status is not `expected`.
async fn expect_status(resp: Response, expected: StatusCode, context: &str) -> Response {
    if resp.status() != expected {
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        panic!("{context}: expected {expected}, got {status} {body}");
    }
    resp
}

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
    for op in OPS {
        let valid = server.signer.sign(&claims(&[ORG], ALL_SCOPES));
        server.assert_allowed(op, ORG, &valid, "control").await;
        for case in cases {
            let context = format!("{}: {op:?}", case.name);
            let (resp, target) = server.call(op, ORG, case.authorization.as_deref()).await;
            assert_unauthorized(resp, case.token_presented, &context).await;
            server.assert_untouched(op, &target, &context).await;
        }
    }
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
    for token in [slightly_expired, slightly_early] {
        server
            .assert_allowed(Op::ListCustomers, ORG, &token, "within the leeway")
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
    for op in OPS {
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
    for op in OPS {
        let all_but: Vec<&str> = ALL_SCOPES
            .split(' ')
            .filter(|scope| *scope != op.scope())
            .collect();
        assert_eq!(all_but.len(), 3, "{op:?} needs one of the four scopes");
        let without = server.token(&[ORG], &all_but.join(" "));
        server
            .assert_forbidden(op, ORG, &without, "every scope but the needed one")
            .await;
        let only = server.token(&[ORG], op.scope());
        server
            .assert_allowed(op, ORG, &only, "only the needed scope")
            .await;
    }
}

#[tokio::test]
async fn a_wildcard_organization_grants_every_organization_but_not_every_scope() {
    let server = Server::hs256().await;
    let wildcard = server.token(&["*"], ALL_SCOPES);
    for op in OPS {
        for org in [ORG, OTHER_ORG] {
            server
                .assert_allowed(op, org, &wildcard, "orgs [\"*\"]")
                .await;
        }
    }
    // An organization nobody registered anything in yet.
    let resp = server
        .app
        .anonymous(Method::GET, "/v1/organizations/initech.eu-1/customers")
        .bearer_auth(&wildcard)
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::OK, "orgs [\"*\"], a new organization").await;
    // The wildcard grants organizations, not scopes.
    let wildcard_reader = server.token(&["*"], "customers:read");
    server
        .assert_forbidden(
            Op::CreateCustomer,
            OTHER_ORG,
            &wildcard_reader,
            "orgs [\"*\"]",
        )
        .await;
}

// ---------------------------------------------------------------------------------------------
// Precedence

/// Malformed requests, each with the operation it targets; with valid credentials each is a 400.
fn malformed_requests(app: &TestApp, customer_id: &str) -> Vec<(&'static str, RequestBuilder)> {
    let treatment = TestApp::treatment_path(ORG, customer_id);
    let customers = format!("/v1/organizations/{ORG}/customers");
    vec![
        (
            "GET customer, bad UUID",
            app.anonymous(Method::GET, &format!("{customers}/not-a-uuid")),
        ),
        (
            "DELETE customer, bad UUID",
            app.anonymous(Method::DELETE, &format!("{customers}/not-a-uuid")),
        ),
        (
            "GET treatment, bad UUID",
            app.anonymous(Method::GET, &TestApp::treatment_path(ORG, "not-a-uuid")),
        ),
        (
            "PUT treatment, bad UUID",
            app.anonymous(Method::PUT, &TestApp::treatment_path(ORG, "not-a-uuid"))
                .json(&json!({"values": []})),
        ),
        (
            "PUT treatment, broken rule",
            app.anonymous(Method::PUT, &treatment)
                .json(&json!({"values": ["vip", "vip"]})),
        ),
        (
            "PUT treatment, not JSON",
            app.anonymous(Method::PUT, &treatment)
                .header("content-type", "application/json")
                .body("{not json"),
        ),
        (
            "POST customer, broken rule",
            app.anonymous(Method::POST, &customers)
                .json(&json!({"external_id": ""})),
        ),
        (
            "POST customer, unknown field",
            app.anonymous(Method::POST, &customers)
                .json(&json!({"external_id": "x", "admin": true})),
        ),
        (
            "PUT treatment, wrong content type",
            app.anonymous(Method::PUT, &treatment)
                .header("content-type", "text/plain")
                .body(r#"{"values": []}"#),
        ),
        (
            "list, limit out of range",
            app.anonymous(Method::GET, &format!("{customers}?limit=0")),
        ),
        (
            "list, cursor not issued",
            app.anonymous(Method::GET, &format!("{customers}?cursor=%21%21")),
        ),
        (
            "list, bad org_id",
            app.anonymous(Method::GET, "/v1/organizations/-bad-/customers"),
        ),
    ]
}

#[tokio::test]
async fn a_missing_or_invalid_token_is_401_before_a_malformed_request_is_400() {
    let server = Server::hs256().await;
    let app = &server.app;
    let customer_id = server.customer(ORG).await;
    let garbage = "Bearer not-a-jwt";
    let expired = bearer(&server.signer.sign(&claims_with(|c| {
        c.insert("exp".into(), json!(now() - 3600));
    })))
    .unwrap();
    for (name, req) in malformed_requests(app, &customer_id) {
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
    let existing = server.customer(ORG).await;
    let missing = uuid::Uuid::now_v7().to_string();
    let other_org = server.token(&[OTHER_ORG], ALL_SCOPES);
    for op in OPS.into_iter().filter(|op| op.names_a_customer()) {
        let target = |customer_id: &str| Target {
            org: ORG.to_owned(),
            customer_id: customer_id.to_owned(),
            new_external_id: String::new(),
        };
        // Control: the customer does not exist.
        let resp = server
            .request(op, &target(&missing), bearer(&server.admin).as_deref())
            .send()
            .await
            .unwrap();
        assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;

        let all_but_needed = ALL_SCOPES.replace(op.scope(), "");
        let lacking_scope = server.token(&[ORG], &all_but_needed);
        for (name, token) in [("other org", &other_org), ("scope missing", &lacking_scope)] {
            let mut messages = Vec::new();
            for customer_id in [&missing, &existing] {
                let resp = server
                    .request(op, &target(customer_id), bearer(token).as_deref())
                    .send()
                    .await
                    .unwrap();
                let context = format!("{op:?}, {name}, customer {customer_id}");
                let resp = expect_status(resp, StatusCode::FORBIDDEN, &context).await;
                let body = assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
                messages.push(body["message"].clone());
            }
            assert_eq!(
                messages[0], messages[1],
                "{op:?}, {name}: a 403 does not tell whether the customer exists"
            );
        }
    }
}

/// The documented choice: requests are parsed before they are authorized, so a malformed
/// request is a 400 even from a caller who may not make it at all.
#[tokio::test]
async fn a_malformed_request_is_400_even_when_it_would_also_be_403() {
    let server = Server::hs256().await;
    let app = &server.app;
    let customer_id = server.customer(ORG).await;
    let read_only = server.token(&[ORG], "customers:read special-treatment:read");
    let other_org = server.token(&[OTHER_ORG], ALL_SCOPES);
    for (name, req) in malformed_requests(app, &customer_id) {
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
        server
            .assert_forbidden(Op::CreateCustomer, ORG, token, "well formed")
            .await;
        server
            .assert_forbidden(Op::PutTreatment, ORG, token, "well formed")
            .await;
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
        for op in OPS {
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
                .call(Op::ListCustomers, ORG, bearer(&token).as_deref())
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
    for op in OPS {
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
            .call(Op::ListCustomers, ORG, bearer(&token).as_deref())
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
            .assert_allowed(Op::ListCustomers, ORG, token, "HS256 or RS256")
            .await;
    }
    let es256 = EC_KEY.signer.token(&[ORG], ALL_SCOPES);
    let (resp, _) = server
        .call(Op::ListCustomers, ORG, bearer(&es256).as_deref())
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

    server
        .assert_allowed(Op::GetTreatment, ORG, &token, "granted scope")
        .await;
    for op in OPS.into_iter().filter(|op| *op != Op::GetTreatment) {
        server
            .assert_forbidden(op, ORG, &token, "scope not granted")
            .await;
    }
    server
        .assert_forbidden(Op::GetTreatment, OTHER_ORG, &token, "org not granted")
        .await;
}

#[tokio::test]
async fn the_token_command_grants_all_four_scopes_by_default() {
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
    let mut all: Vec<&str> = ALL_SCOPES.split(' ').collect();
    all.sort_unstable();
    assert_eq!(scopes, all);
    assert_eq!(claims["sub"], "ci-bot");
    let ttl = claims["exp"].as_u64().unwrap() as i64 - now() as i64;
    assert!((110..=120).contains(&ttl), "--ttl 120, {ttl} s left");

    for op in OPS {
        for org in [ORG, OTHER_ORG] {
            server
                .assert_allowed(op, org, &token, "default scopes")
                .await;
        }
    }
}

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
            .assert_allowed(Op::ListCustomers, ORG, token, "generated secret")
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

/// `GET /v1/organizations/{ORG}/customers` with `token`.
async fn list(server: &ServerProcess, token: &str) -> Response {
    server
        .client
        .get(server.url(&format!("/v1/organizations/{ORG}/customers")))
        .bearer_auth(token)
        .send()
        .await
        .expect("send")
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
    let resp = server
        .client
        .post(server.url(&format!("/v1/organizations/{ORG}/customers")))
        .bearer_auth(&token)
        .json(&json!({"external_id": "from-the-process-test"}))
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::CREATED, "a token of the generated secret").await;
    let resp = expect_status(list(&server, &token).await, StatusCode::OK, "list").await;
    let page: Value = resp.json().await.unwrap();
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
