//! customers-api-reference: the benchmark's yardstick (issue #6). NOT product code.
//!
//! A deliberately minimal server that does the work of the service's special-treatment GET and
//! PUT (`/v1/organizations/{org}/customers/{id}/special-treatment`) and nothing else: HS256
//! bearer check with the service's claims and leeway, org and scope check, path and body
//! validation, then ONE prepared statement per request. No ORM, no middleware, no metrics, no
//! per-request logging, its own tiny connection pool. `bench/bench.py --servers ours,reference`
//! drives it with the same wrk load, on the same database, right after the service, and prints
//! the ratio ours / reference.
//!
//! It serves an existing database: the service creates and migrates it (the bench seeds it
//! through the service first). A rule broken by a PUT body answers 400 naming the first
//! offending field (the service names them all); the bench only sends valid bodies.
//!
//! Settings, flag first, else the service's environment variable:
//!   --listen ADDR        LISTEN_ADDR          (default 127.0.0.1:8080)
//!   --database-url URL   DATABASE_URL         sqlite://PATH[?...] or postgres://...; on
//!                        PostgreSQL `sslmode` disable, prefer (the default) or require, TLS
//!                        without certificate verification (what sqlx does in those modes)
//!   --jwt-secret S       JWT_SECRET, else the trimmed content of JWT_SECRET_FILE
//!                        JWT_ISSUER, JWT_AUDIENCE: required `iss` / `aud` when set
//!                        DB_MAX_CONNECTIONS: SQLite readers (default 4) or PostgreSQL clients
//!                        (default 16): the service's default pool sizes

use std::{
    convert::Infallible,
    error::Error,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
};

use http_body_util::{BodyExt, Full, Limited};
use hyper::{
    Method, Request, Response, StatusCode, body::Bytes, body::Incoming, header,
    server::conn::http1, service::service_fn,
};
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::{Statement, types::Json};
use uuid::Uuid;

type BoxError = Box<dyn Error + Send + Sync>;
type Answer = Response<Full<Bytes>>;

const SQLITE_SELECT: &str = "SELECT special_treatment FROM customers WHERE id = ?1 AND org_id = ?2";
const SQLITE_UPDATE: &str =
    "UPDATE customers SET special_treatment = ?1 WHERE id = ?2 AND org_id = ?3";
const PG_SELECT: &str = "SELECT special_treatment FROM customers WHERE id = $1 AND org_id = $2";
const PG_UPDATE: &str = "UPDATE customers SET special_treatment = $1 WHERE id = $2 AND org_id = $3";

/// The claims the service reads (`exp` and `sub` required; `orgs` "*" = every organization).
#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    orgs: Vec<String>,
    #[serde(default)]
    scope: String,
}

#[derive(Serialize)]
struct Treatment<'a> {
    values: &'a [String],
}

struct App {
    key: DecodingKey,
    validation: Validation,
    db: Db,
}

enum Db {
    /// Readers run on the request's own worker thread (a key lookup takes microseconds); the
    /// one writer (each commit fsyncs: synchronous=FULL) runs on a thread of its own, so writes
    /// take turns on SQLite's lock without ever blocking the runtime.
    Sqlite {
        readers: Vec<Mutex<rusqlite::Connection>>,
        next: AtomicUsize,
        writer: mpsc::Sender<WriteJob>,
    },
    /// Clients with both statements prepared, picked round-robin (each pipelines its queries).
    Postgres {
        clients: Vec<(tokio_postgres::Client, Statement, Statement)>,
        next: AtomicUsize,
    },
}

/// (org, id, JSON text, reply with the rows updated)
type WriteJob = (
    String,
    Uuid,
    String,
    oneshot::Sender<Result<usize, BoxError>>,
);

fn open_sqlite(path: &str) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    // The service's pragmas: WAL, fsync at every commit, 5 s busy timeout, 1 MiB page cache.
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000; \
         PRAGMA cache_size=-1024;",
    )?;
    Ok(conn)
}

/// TLS as sqlx does it in `sslmode` prefer and require: encrypted, the certificate not verified
/// (its signature over the handshake still is), rustls with ring.
fn tls() -> tokio_postgres_rustls::MakeRustlsConnect {
    use rustls::{
        DigitallySignedStruct, Error as TlsError, SignatureScheme,
        client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
        crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature},
        pki_types::{CertificateDer, ServerName, UnixTime},
    };

    #[derive(Debug)]
    struct AnyCertificate(Arc<CryptoProvider>);

    impl ServerCertVerifier for AnyCertificate {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, TlsError> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, TlsError> {
            verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, TlsError> {
            verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    tokio_postgres_rustls::MakeRustlsConnect::new(config)
}

impl Db {
    async fn connect(url: &str, pool: usize) -> Result<Db, BoxError> {
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            let path = path.split('?').next().unwrap_or(path).to_owned();
            let readers = (0..pool.max(1))
                .map(|_| open_sqlite(&path).map(Mutex::new))
                .collect::<Result<_, _>>()?;
            let conn = open_sqlite(&path)?;
            let (writer, mut jobs) = mpsc::channel::<WriteJob>(1024);
            std::thread::spawn(move || {
                while let Some((org, id, json, reply)) = jobs.blocking_recv() {
                    let result = conn
                        .prepare_cached(SQLITE_UPDATE)
                        .and_then(|mut s| s.execute((json, &id.as_bytes()[..], org)));
                    let _ = reply.send(result.map_err(Into::into));
                }
            });
            let next = AtomicUsize::new(0);
            Ok(Db::Sqlite {
                readers,
                next,
                writer,
            })
        } else {
            let mut clients = Vec::new();
            for _ in 0..pool.max(1) {
                let (client, connection) = tokio_postgres::connect(url, tls()).await?;
                tokio::spawn(connection);
                let select = client.prepare(PG_SELECT).await?;
                let update = client.prepare(PG_UPDATE).await?;
                clients.push((client, select, update));
            }
            Ok(Db::Postgres {
                clients,
                next: AtomicUsize::new(0),
            })
        }
    }

    async fn select(&self, org: &str, id: Uuid) -> Result<Option<Vec<String>>, BoxError> {
        match self {
            Db::Sqlite { readers, next, .. } => {
                let i = next.fetch_add(1, Ordering::Relaxed) % readers.len();
                let conn = readers[i].lock().unwrap_or_else(PoisonError::into_inner);
                let mut statement = conn.prepare_cached(SQLITE_SELECT)?;
                let mut rows = statement.query((&id.as_bytes()[..], org))?;
                match rows.next()? {
                    None => Ok(None),
                    // JSON text (read as bytes, so a BLOB would do as well).
                    Some(row) => Ok(Some(serde_json::from_slice(row.get_ref(0)?.as_bytes()?)?)),
                }
            }
            Db::Postgres { clients, next } => {
                let (client, select, _) =
                    &clients[next.fetch_add(1, Ordering::Relaxed) % clients.len()];
                let row = client.query_opt(select, &[&id, &org]).await?;
                Ok(row
                    .map(|r| r.try_get::<_, Json<Vec<String>>>(0))
                    .transpose()?
                    .map(|j| j.0))
            }
        }
    }

    async fn update(&self, org: &str, id: Uuid, values: &[String]) -> Result<u64, BoxError> {
        match self {
            Db::Sqlite { writer, .. } => {
                let (reply, answer) = oneshot::channel();
                let job = (org.to_owned(), id, serde_json::to_string(values)?, reply);
                writer
                    .send(job)
                    .await
                    .map_err(|_| "the writer thread stopped")?;
                Ok(answer.await?? as u64)
            }
            Db::Postgres { clients, next } => {
                let (client, _, update) =
                    &clients[next.fetch_add(1, Ordering::Relaxed) % clients.len()];
                Ok(client.execute(update, &[&Json(values), &id, &org]).await?)
            }
        }
    }
}

fn json(status: StatusCode, body: Vec<u8>) -> Answer {
    let mut answer = Response::new(Full::new(Bytes::from(body)));
    *answer.status_mut() = status;
    answer.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    answer
}

fn error(status: StatusCode, code: &str, message: &str) -> Answer {
    json(
        status,
        serde_json::json!({"code": code, "message": message})
            .to_string()
            .into_bytes(),
    )
}

/// `/v1/organizations/{org}/customers/{id}/special-treatment` -> (org, id)
fn route(path: &str) -> Option<(&str, &str)> {
    let (org, rest) = path.strip_prefix("/v1/organizations/")?.split_once('/')?;
    let id = rest
        .strip_prefix("customers/")?
        .strip_suffix("/special-treatment")?;
    (!id.contains('/')).then_some((org, id))
}

/// The service's org_id rule: `^[A-Za-z0-9][A-Za-z0-9._-]*$`, at most 64 characters.
fn valid_org(org: &str) -> bool {
    org.len() <= 64
        && org.starts_with(|c: char| c.is_ascii_alphanumeric())
        && org
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// `{"values": [...]}`: at most 32 distinct strings of 1-64 characters, no control characters,
/// no white space at either end; `values` absent or null is the empty list.
fn parse_treatment(body: &[u8]) -> Result<Vec<String>, String> {
    let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(body) else {
        return Err("body: must be a JSON object".into());
    };
    if let Some(key) = fields.keys().find(|k| *k != "values") {
        return Err(format!("{key}: unknown field"));
    }
    let items = match fields.remove("values") {
        None | Some(Value::Null) => return Ok(vec![]),
        Some(Value::Array(items)) if items.len() <= 32 => items,
        Some(Value::Array(items)) => {
            return Err(format!("values: at most 32, got {}", items.len()));
        }
        Some(_) => return Err("values: must be an array of strings or null".into()),
    };
    let space = |c: char| c.is_whitespace() || c == '\u{FEFF}';
    let mut values: Vec<String> = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let Value::String(text) = item else {
            return Err(format!("values[{i}]: must be a string"));
        };
        let chars = text.chars().count();
        if chars == 0 || chars > 64 || text.chars().any(char::is_control) {
            return Err(format!(
                "values[{i}]: 1-64 characters, no control characters"
            ));
        }
        if text.starts_with(space) || text.ends_with(space) {
            return Err(format!(
                "values[{i}]: must not start or end with white space"
            ));
        }
        if values.contains(&text) {
            return Err(format!("values[{i}]: repeats an earlier value"));
        }
        values.push(text);
    }
    Ok(values)
}

async fn handle(app: Arc<App>, req: Request<Incoming>) -> Result<Answer, Infallible> {
    Ok(serve(&app, req).await.unwrap_or_else(|answer| answer))
}

/// The service's order: 401, then 400 (path, body), then 403, then the one statement.
async fn serve(app: &App, req: Request<Incoming>) -> Result<Answer, Answer> {
    let (org, id) = route(req.uri().path())
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "not_found", "no such route"))?;
    let (write, scope) = match *req.method() {
        Method::GET => (false, "special-treatment:read"),
        Method::PUT => (true, "special-treatment:write"),
        _ => {
            return Err(error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "GET or PUT",
            ));
        }
    };
    let unauthorized = |message: &str| error(StatusCode::UNAUTHORIZED, "unauthorized", message);
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorized("a bearer token is required"))?;
    let claims = jsonwebtoken::decode::<Claims>(token, &app.key, &app.validation)
        .map_err(|_| unauthorized("invalid token"))?
        .claims;
    if claims.sub.trim().is_empty() {
        return Err(unauthorized("invalid token: empty `sub`"));
    }
    let invalid = |message: &str| error(StatusCode::BAD_REQUEST, "invalid_parameter", message);
    if !valid_org(org) {
        return Err(invalid("org_id: invalid"));
    }
    let org = org.to_owned();
    let id = Uuid::parse_str(id).map_err(|_| invalid("customer_id: not a UUID"))?;
    let values = if write {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if !is_json.is_some_and(|v| v.starts_with("application/json")) {
            return Err(error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "JSON only",
            ));
        }
        let body = Limited::new(req.into_body(), 64 * 1024).collect().await;
        let body = body.map_err(|_| {
            error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "64 KiB at most",
            )
        })?;
        let parsed = parse_treatment(&body.to_bytes());
        Some(parsed.map_err(|m| error(StatusCode::BAD_REQUEST, "invalid_request_body", &m))?)
    } else {
        None
    };
    if !claims
        .orgs
        .iter()
        .any(|granted| granted == "*" || *granted == org)
    {
        return Err(error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "organization not granted",
        ));
    }
    if !claims
        .scope
        .split_whitespace()
        .any(|granted| granted == scope)
    {
        return Err(error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "scope not granted",
        ));
    }
    let internal = |_| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal server error",
        )
    };
    let not_found = || error(StatusCode::NOT_FOUND, "not_found", "customer not found");
    match values {
        Some(values) => match app.db.update(&org, id, &values).await.map_err(internal)? {
            0 => Err(not_found()),
            _ => Ok(Response::builder()
                .status(StatusCode::NO_CONTENT)
                .body(Full::default())
                .unwrap()),
        },
        None => {
            let values = app
                .db
                .select(&org, id)
                .await
                .map_err(internal)?
                .ok_or_else(not_found)?;
            Ok(json(
                StatusCode::OK,
                serde_json::to_vec(&Treatment { values: &values }).unwrap(),
            ))
        }
    }
}

fn setting(flag: &str, env: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let from_flag = args
        .iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1));
    from_flag.cloned().or_else(|| std::env::var(env).ok())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let listen = setting("--listen", "LISTEN_ADDR").unwrap_or_else(|| "127.0.0.1:8080".into());
    let url =
        setting("--database-url", "DATABASE_URL").ok_or("set DATABASE_URL or --database-url")?;
    let secret = match setting("--jwt-secret", "JWT_SECRET") {
        Some(secret) => secret,
        None => {
            let file = std::env::var("JWT_SECRET_FILE")
                .map_err(|_| "set JWT_SECRET or JWT_SECRET_FILE")?;
            std::fs::read_to_string(file)?.trim().to_owned()
        }
    };
    // The service's validation: HS256 only, exp and sub required, nbf checked, 30 s leeway.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 30;
    validation.validate_nbf = true;
    let mut required = vec!["exp", "sub"];
    if let Ok(issuer) = std::env::var("JWT_ISSUER") {
        validation.set_issuer(&[issuer]);
        required.push("iss");
    }
    match std::env::var("JWT_AUDIENCE") {
        Ok(audience) => {
            validation.set_audience(&[audience]);
            required.push("aud");
        }
        Err(_) => validation.validate_aud = false,
    }
    validation.set_required_spec_claims(&required);
    let default_pool = if url.starts_with("sqlite:") { 4 } else { 16 };
    let pool = std::env::var("DB_MAX_CONNECTIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default_pool);
    let db = Db::connect(&url, pool).await?;
    let app = Arc::new(App {
        key: DecodingKey::from_secret(secret.as_bytes()),
        validation,
        db,
    });
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("customers-api-reference listening on {listen}");
    loop {
        // Plain HTTP/1.1 with keep-alive; Nagle left on, as the service (poem) leaves it.
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(app.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
