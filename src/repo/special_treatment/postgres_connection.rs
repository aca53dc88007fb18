//! What PostgreSQL's special-treatment paths ([`postgres_reads`](super::postgres_reads),
//! [`postgres_writes`](super::postgres_writes)) share: their connections (tokio-postgres, which
//! pipelines: statements sent together travel in one write and come back in one read) and how
//! a call on them fails.
//!
//! These connections use TLS exactly when and as the pool's do ([`Tls`]: the connection
//! string's `sslmode`, read by sqlx, with sqlx's roots and rules). They run under PostgreSQL's
//! `statement_timeout`, as the pool's do, and a short `lock_timeout` ([`LOCK_WAIT`]): one
//! statement waiting on a row lock (another transaction writing that customer) would hold up
//! every statement queued behind it on the connection, so it gives up soon and the caller
//! repeats it on the pool, where it may wait its full time.

use std::{sync::Arc, time::Duration};

use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error as TlsError, RootCertStore,
    SignatureScheme,
    client::{
        WebPkiServerVerifier,
        danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    },
    crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature},
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime, pem::PemObject},
};
use sea_orm::sqlx::postgres::{PgConnectOptions, PgSslMode};
use tokio_postgres::{Client, Statement, config::SslMode, error::SqlState};
use tokio_postgres_rustls::MakeRustlsConnect;

/// How long a statement here may wait for a lock before it is left to the pool.
pub(in crate::repo) const LOCK_WAIT: Duration = Duration::from_millis(50);

/// The shortest time between two attempts to replace a connection that could not be replaced.
pub(in crate::repo) const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// How a call failed, for the caller to decide.
#[derive(Debug)]
pub(in crate::repo) enum Failure {
    /// PostgreSQL's `statement_timeout` cancelled the statement: not applied.
    Cancelled,
    /// Nothing was applied, and the pool may well succeed: the connection broke, a lock was
    /// not granted within [`LOCK_WAIT`], or another statement of its group failed.
    UseThePool(Option<tokio_postgres::Error>),
    /// No answer within the call guard: the connection is dropped (and replaced), and whether
    /// a replace was applied is unknown.
    Stalled,
    /// Anything else.
    Other(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(err: tokio_postgres::Error) -> Self {
        let Some(code) = err.code().map(SqlState::code) else {
            // No SQLSTATE: the connection closed or its socket failed.
            return Failure::UseThePool(Some(err));
        };
        if code == crate::repo::errors::POSTGRES_QUERY_CANCELED {
            Failure::Cancelled
        } else if crate::repo::errors::is_postgres_unreachable(code)
            || [
                SqlState::LOCK_NOT_AVAILABLE,
                SqlState::IN_FAILED_SQL_TRANSACTION,
            ]
            .iter()
            .any(|state| state.code() == code)
        {
            Failure::UseThePool(Some(err))
        } else {
            Failure::Other(err)
        }
    }
}

/// Where and how these connections connect.
#[derive(Clone)]
pub(in crate::repo) struct ConnectionSettings {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    /// The whole connect, handshake and statement preparation included: the acquire timeout.
    connect_timeout: Duration,
}

impl ConnectionSettings {
    /// Fails for a connection string that sqlx or tokio-postgres does not understand (the
    /// caller leaves these paths to the pool), and for TLS files that cannot be read.
    pub(in crate::repo) fn new(
        url: &str,
        connect_timeout: Duration,
        statement_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let (mut config, tls) = connection_config(url)?;
        config.options(format!(
            "-c statement_timeout={} -c lock_timeout={}",
            statement_timeout.as_millis(),
            LOCK_WAIT.as_millis()
        ));
        if config.get_application_name().is_none() {
            config.application_name("customers-api (special treatment)");
        }
        Ok(ConnectionSettings {
            config,
            tls,
            connect_timeout,
        })
    }

    /// A new connection, its task spawned, with `statements` prepared on it.
    pub(in crate::repo) async fn connect(&self, statements: &[&str]) -> anyhow::Result<Connection> {
        let connect = async {
            let (client, connection) = self.config.connect(self.tls.clone()).await?;
            let task = tokio::spawn(async move {
                if let Err(err) = connection.await {
                    tracing::warn!(error = %err, "a PostgreSQL connection of the special-treatment paths failed");
                }
            });
            let mut prepared = Vec::with_capacity(statements.len());
            for sql in statements {
                prepared.push(client.prepare(sql).await?);
            }
            anyhow::Ok(Connection {
                client,
                statements: prepared,
                task: task.abort_handle(),
            })
        };
        // tokio-postgres' own connect timeout covers the socket's connect, not the handshake.
        tokio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| anyhow::anyhow!("no PostgreSQL connection within the acquire timeout"))?
    }
}

/// The connection string's parameters about TLS, as sqlx names them. tokio-postgres knows only
/// `sslmode` disable / prefer / require, so they are read here and left out of what it parses.
const TLS_PARAMETERS: [&str; 9] = [
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
];

/// tokio-postgres' configuration for `url`, and TLS as the pool has it.
///
/// sqlx (0.9, with the rustls backend sea-orm's `runtime-tokio-rustls` selects: ring and the
/// Mozilla roots of `webpki-roots`, not the system's) decides TLS by `sslmode`, from the URL,
/// else the `PGSSLMODE` environment variable, else `prefer`:
///
/// | sslmode | TLS | the server's certificate |
/// |---|---|---|
/// | disable, allow | never (sqlx does not implement allow's fallback to TLS) | - |
/// | prefer | if the server offers it | not verified |
/// | require | always | not verified (even with `sslrootcert`) |
/// | verify-ca | always | signed by a trusted root: webpki-roots' plus `sslrootcert` |
/// | verify-full | always | as verify-ca, and issued for the host name |
///
/// `sslrootcert` (or `PGSSLROOTCERT`), `sslcert` and `sslkey` (or `PGSSLCERT`, `PGSSLKEY`: a
/// client certificate, both or neither) name PEM files (the variables may hold the PEM text
/// itself, see [`Pem`]). These connections follow the same table, with the files read once,
/// here, when TLS may be used.
fn connection_config(url: &str) -> anyhow::Result<(tokio_postgres::Config, MakeRustlsConnect)> {
    // sqlx's own reading of the connection string: the pool's `sslmode`.
    let pool: PgConnectOptions = url.parse()?;
    let (rest, tls_parameters) = split_tls_parameters(url);
    let mut config: tokio_postgres::Config = rest.parse()?;
    // A file's path in the URL; in the environment, a path or the PEM text itself.
    let setting = |names: &[&str], variable: &str| {
        let from_url = tls_parameters
            .iter()
            .rev()
            .find(|(k, _)| names.contains(&k.as_str()));
        match from_url {
            Some((_, path)) => Some(Pem::File(path.clone())),
            None => std::env::var(variable).ok().map(Pem::from_environment),
        }
    };
    let mode = pool.get_ssl_mode();
    config.ssl_mode(match mode {
        PgSslMode::Disable | PgSslMode::Allow => SslMode::Disable,
        PgSslMode::Prefer => SslMode::Prefer,
        PgSslMode::Require | PgSslMode::VerifyCa | PgSslMode::VerifyFull => SslMode::Require,
    });
    let tls = match mode {
        // tokio-postgres never uses it then: it is there for its type.
        PgSslMode::Disable | PgSslMode::Allow => client_config(PgSslMode::Require, None, None)?,
        _ => {
            let root = match mode {
                PgSslMode::VerifyCa | PgSslMode::VerifyFull => {
                    setting(&["sslrootcert", "ssl-root-cert", "ssl-ca"], "PGSSLROOTCERT")
                        .map(Pem::read)
                        .transpose()?
                }
                _ => None,
            };
            let client_auth = match (
                setting(&["sslcert", "ssl-cert"], "PGSSLCERT"),
                setting(&["sslkey", "ssl-key"], "PGSSLKEY"),
            ) {
                (Some(cert), Some(key)) => Some((cert.read()?, key.read()?)),
                (None, None) => None,
                _ => anyhow::bail!("a client certificate and its key must be given together"),
            };
            client_config(mode, root, client_auth)?
        }
    };
    Ok((config, MakeRustlsConnect::new(tls)))
}

/// `url` without its TLS parameters (left as they were written), and those parameters decoded.
fn split_tls_parameters(url: &str) -> (String, Vec<(String, String)>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), Vec::new());
    };
    let mut kept = Vec::new();
    let mut tls = Vec::new();
    for piece in query.split('&') {
        match form_urlencoded::parse(piece.as_bytes()).next() {
            Some((key, value)) if TLS_PARAMETERS.contains(&&*key) => {
                tls.push((key.into_owned(), value.into_owned()));
            }
            _ => kept.push(piece),
        }
    }
    let kept = kept.join("&");
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{kept}")
    };
    (rest, tls)
}

/// Where a certificate or key is, as sqlx 0.9 reads it: the URL names a file; an environment
/// variable names one too, or holds the PEM text itself (it starts with `-----BEGIN` and ends
/// with `-----`).
enum Pem {
    File(String),
    Text(String),
}

impl Pem {
    fn from_environment(value: String) -> Pem {
        let trimmed = value.trim();
        if trimmed.starts_with("-----BEGIN") && trimmed.ends_with("-----") {
            Pem::Text(value)
        } else {
            Pem::File(value)
        }
    }

    fn read(self) -> anyhow::Result<Vec<u8>> {
        match self {
            Pem::Text(text) => Ok(text.into_bytes()),
            Pem::File(path) => {
                std::fs::read(&path).map_err(|err| anyhow::anyhow!("cannot read {path}: {err}"))
            }
        }
    }
}

/// rustls (with ring) as sqlx configures it for `mode`.
fn client_config(
    mode: PgSslMode,
    root: Option<Vec<u8>>,
    client_auth: Option<(Vec<u8>, Vec<u8>)>,
) -> anyhow::Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match mode {
        PgSslMode::VerifyCa | PgSslMode::VerifyFull => {
            let mut roots: RootCertStore = webpki_roots::TLS_SERVER_ROOTS.iter().cloned().collect();
            for cert in CertificateDer::pem_slice_iter(&root.unwrap_or_default()) {
                roots.add(cert?)?;
            }
            let verifier =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider).build()?;
            if matches!(mode, PgSslMode::VerifyFull) {
                builder.with_webpki_verifier(verifier)
            } else {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(AnyHostName(verifier)))
            }
        }
        _ => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider))),
    };
    Ok(match client_auth {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_slice_iter(&cert).collect::<Result<Vec<_>, _>>()?;
            builder.with_client_auth_cert(chain, PrivateKeyDer::from_pem_slice(&key)?)?
        }
        None => builder.with_no_client_auth(),
    })
}

/// `prefer` and `require`: any certificate (the handshake's signatures are still checked), as
/// sqlx's `DummyTlsVerifier`.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: a certificate signed by a trusted root, whatever name it was issued for, as
/// sqlx's `NoHostnameTlsVerifier`.
#[derive(Debug)]
struct AnyHostName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(TlsError::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            verified => verified,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// A client, the statements prepared on it, and the task driving its connection.
pub(in crate::repo) struct Connection {
    pub(in crate::repo) client: Client,
    pub(in crate::repo) statements: Vec<Statement>,
    task: tokio::task::AbortHandle,
}

impl Connection {
    /// Closes the connection now: its calls in flight fail at once.
    pub(in crate::repo) fn abort(&self) {
        self.task.abort();
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// For the tests of the modules built on this one.
#[cfg(test)]
pub(in crate::repo) mod testing {
    use std::time::Duration;

    use tokio_postgres::Client;
    use uuid::Uuid;

    use super::{ConnectionSettings, connection_config};

    pub(crate) const GUARD: Duration = Duration::from_secs(5);

    /// The test database's URL; without one, the line `<test>: skipped: needs
    /// TEST_DATABASE_URL`, straight to the process's stderr (past the harness's capture, so a
    /// skipped test that passes says it did not run).
    pub(crate) fn test_database(what: &str) -> Option<String> {
        use std::io::Write;
        let url = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|url| !url.is_empty());
        if url.is_none() {
            let thread = std::thread::current();
            let test = thread.name().unwrap_or(what);
            let line = format!("{test}: skipped: needs TEST_DATABASE_URL (PostgreSQL: {what})");
            writeln!(std::io::stderr(), "{line}").ok();
        }
        url
    }

    pub(crate) fn settings(url: &str, statement_timeout: Duration) -> ConnectionSettings {
        ConnectionSettings::new(url, Duration::from_secs(2), statement_timeout).unwrap()
    }

    /// `url` with an `application_name` of its own, to find its connections.
    pub(crate) fn named(url: &str) -> (String, String) {
        let name = format!("special_treatment_test_{}", Uuid::now_v7().simple());
        let separator = if url.contains('?') { '&' } else { '?' };
        (format!("{url}{separator}application_name={name}"), name)
    }

    /// A connection without the timeouts of [`ConnectionSettings`], TLS as `url` says.
    pub(crate) async fn admin(url: &str) -> Client {
        let (config, tls) = connection_config(url).unwrap();
        let (client, connection) = config.connect(tls).await.unwrap();
        tokio::spawn(connection);
        client
    }

    /// Ends every connection named `name` from the server's side; how many there were.
    pub(crate) async fn terminate(url: &str, name: &str) -> u64 {
        let terminate =
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1";
        admin(url).await.execute(terminate, &[&name]).await.unwrap()
    }

    /// A customers table of its own with `ids.len()` customers of `acme`, each with the list
    /// `[]`; its name and the two statements on it.
    pub(crate) async fn table(
        admin: &Client,
        ids: &[Uuid],
    ) -> (String, &'static str, &'static str) {
        let table = format!("special_treatment_test_{}", Uuid::now_v7().simple());
        let create = format!(
            "CREATE TABLE {table} (id uuid PRIMARY KEY, org_id text NOT NULL, \
             special_treatment jsonb NOT NULL)"
        );
        admin.batch_execute(&create).await.unwrap();
        let insert = format!("INSERT INTO {table} VALUES ($1, 'acme', '[]')");
        for id in ids {
            admin.execute(&insert, &[id]).await.unwrap();
        }
        let events = format!(
            "CREATE TABLE {table}_events (seq bigserial PRIMARY KEY, id uuid NOT NULL, \
             org_id text NOT NULL, customer_id uuid NOT NULL, occurred_at timestamptz NOT NULL, \
             actor text NOT NULL, request_id text NOT NULL, action text NOT NULL, \
             resource_type text NOT NULL, resource_id text NOT NULL, changes text NOT NULL)"
        );
        admin.batch_execute(&events).await.unwrap();
        let select = format!("SELECT special_treatment FROM {table} WHERE id = $1 AND org_id = $2");
        let update =
            format!("UPDATE {table} SET special_treatment = $1 WHERE id = $2 AND org_id = $3");
        let update = super::super::with_event(&update, &format!("{table}_events"));
        (table, select.leak(), update.leak())
    }

    pub(crate) async fn drop_table(admin: &Client, table: &str) {
        let drop = format!("DROP TABLE {table}; DROP TABLE {table}_events");
        admin.batch_execute(&drop).await.unwrap();
    }

    /// The events the fast path inserted into `table`'s history table.
    pub(crate) async fn events(admin: &Client, table: &str) -> i64 {
        let count = format!("SELECT count(*) FROM {table}_events");
        admin.query_one(&count, &[]).await.unwrap().get(0)
    }

    /// A stamped special-treatment event, as a PUT carries it.
    pub(crate) fn put_event() -> super::super::PutEvent {
        super::super::PutEvent::new(Uuid::nil(), &[])
    }

    pub(crate) async fn stored(admin: &Client, table: &str, id: Uuid) -> Vec<String> {
        let select = format!("SELECT special_treatment FROM {table} WHERE id = $1");
        let row = admin.query_one(&select, &[&id]).await.unwrap();
        row.get::<_, tokio_postgres::types::Json<Vec<String>>>(0).0
    }

    pub(crate) fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::sqlx::{self, Connection as _, PgConnection};

    use super::{testing::*, *};

    /// A root that did not sign the server's certificate: a self-signed one made for this test.
    const WRONG_ROOT: &str = "-----BEGIN CERTIFICATE-----
MIIBzjCCAXWgAwIBAgIUGWW/B1/xR2JSANJLjPy/aA9vwyQwCgYIKoZIzj0EAwIw
PDE6MDgGA1UEAwwxYSByb290IHRoYXQgZGlkIG5vdCBzaWduIHRoZSBzZXJ2ZXIn
cyBjZXJ0aWZpY2F0ZTAgFw0yNjEyMDIwOTQyMjVaGA8yMTI2MTEwODA5NDIyNVow
PDE6MDgGA1UEAwwxYSByb290IHRoYXQgZGlkIG5vdCBzaWduIHRoZSBzZXJ2ZXIn
cyBjZXJ0aWZpY2F0ZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABNc3x20Ad9DF
ugKcB8JSSvFJPBjn/lVjQubsjTvyS/cwAZkSjhon/qDS1g+CJgWyCyc9Zsra88pf
/dWjz2odSw6jUzBRMB0GA1UdDgQWBBR3JxLUSxHRqivjuzpISN3SNOX0ZTAfBgNV
HSMEGDAWgBR3JxLUSxHRqivjuzpISN3SNOX0ZTAPBgNVHRMBAf8EBTADAQH/MAoG
CCqGSM49BAMCA0cAMEQCIGyaMpUYGEdjdPNxwcNUqbPEI2rQ1pNseKoIy5SvDzp3
AiBUa/8HZX9YA3nkWMvvAb54ej7ZXTJsNHqReAboVkLcQw==
-----END CERTIFICATE-----
";

    const SSLMODES: [&str; 6] = [
        "disable",
        "allow",
        "prefer",
        "require",
        "verify-ca",
        "verify-full",
    ];

    /// `url` without its TLS parameters, then with `tls` (URL-encoded).
    fn with_tls(url: &str, tls: &[(&str, &str)]) -> String {
        let (mut url, _) = split_tls_parameters(url);
        for (key, value) in tls {
            let separator = if url.contains('?') { '&' } else { '?' };
            let value: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
            url = format!("{url}{separator}{key}={value}");
        }
        url
    }

    #[test]
    fn the_tls_parameters_are_read_here_and_the_rest_left_as_written() {
        let url = "postgres://u:p%3F@db:5433/x?sslmode=verify-full&application_name=a%20b\
                   &sslrootcert=%2Fca.pem&options=-c%20x%3D1&ssl-key=k.pem";
        let (rest, tls) = split_tls_parameters(url);
        assert_eq!(
            rest,
            "postgres://u:p%3F@db:5433/x?application_name=a%20b&options=-c%20x%3D1"
        );
        let tls: Vec<(&str, &str)> = tls.iter().map(|(k, v)| (&**k, &**v)).collect();
        assert_eq!(
            tls,
            [
                ("sslmode", "verify-full"),
                ("sslrootcert", "/ca.pem"),
                ("ssl-key", "k.pem")
            ]
        );
        let config: tokio_postgres::Config = rest.parse().unwrap();
        assert_eq!(config.get_application_name(), Some("a b"));
        assert_eq!(config.get_options(), Some("-c x=1"));
        let (rest, tls) = split_tls_parameters("postgres://db/x?sslmode=disable");
        assert_eq!((rest.as_str(), tls.len()), ("postgres://db/x", 1));
    }

    #[test]
    fn every_sslmode_of_the_pool_is_understood() {
        let expected = [
            SslMode::Disable,
            SslMode::Disable,
            SslMode::Prefer,
            SslMode::Require,
            SslMode::Require,
            SslMode::Require,
        ];
        for (mode, expected) in SSLMODES.into_iter().zip(expected) {
            let url = format!("postgres://db/x?sslmode={mode}");
            let (config, _) = connection_config(&url).unwrap();
            assert_eq!(config.get_ssl_mode(), expected, "{mode}");
        }
        assert!(connection_config("postgres://db/x?sslmode=sometimes").is_err());
    }

    /// [`WRONG_ROOT`] in a file of its own; its path.
    fn wrong_root_file() -> String {
        let path = std::env::temp_dir().join(format!(
            "customers-api-wrong-root-{}.pem",
            uuid::Uuid::now_v7().simple()
        ));
        std::fs::write(&path, WRONG_ROOT).unwrap();
        path.to_str().unwrap().to_owned()
    }

    #[test]
    fn tls_files_are_read_when_the_pool_would_read_them() {
        let missing = "/nonexistent/customers-api-test.pem";
        let wrong_root = wrong_root_file();
        for mode in ["verify-ca", "verify-full"] {
            let url = with_tls(
                "postgres://db/x",
                &[("sslmode", mode), ("sslrootcert", missing)],
            );
            assert!(connection_config(&url).is_err(), "{mode}");
            let url = with_tls(
                "postgres://db/x",
                &[("sslmode", mode), ("sslrootcert", &wrong_root)],
            );
            assert!(connection_config(&url).is_ok(), "{mode}");
            // In the URL, sqlx takes even PEM text for a file's path.
            let url = with_tls(
                "postgres://db/x",
                &[("sslmode", mode), ("sslrootcert", WRONG_ROOT)],
            );
            assert!(connection_config(&url).is_err(), "{mode}");
        }
        std::fs::remove_file(wrong_root).unwrap();
        // require does not verify the certificate, so it does not read the root (as sqlx).
        let url = with_tls(
            "postgres://db/x",
            &[("sslmode", "require"), ("sslrootcert", missing)],
        );
        assert!(connection_config(&url).is_ok());
        // A client certificate without its key.
        let url = with_tls(
            "postgres://db/x",
            &[("sslmode", "require"), ("sslcert", missing)],
        );
        assert!(connection_config(&url).is_err());
    }

    /// Whether the pool's connection to `url` is encrypted; `Err` if there is none.
    async fn pool_connection(url: &str) -> Result<bool, String> {
        let mut connection = PgConnection::connect(url)
            .await
            .map_err(|err| err.to_string())?;
        let ssl = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&mut connection)
            .await
            .unwrap();
        connection.close().await.unwrap();
        Ok(ssl)
    }

    /// Whether the special-treatment paths' connection to `url` is encrypted; `Err` if there
    /// is none.
    async fn own_connection(url: &str) -> Result<bool, String> {
        let settings = ConnectionSettings::new(url, GUARD, GUARD).map_err(|err| err.to_string())?;
        let connection = settings.connect(&[]).await.map_err(|err| err.to_string())?;
        let ssl = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
        Ok(connection.client.query_one(ssl, &[]).await.unwrap().get(0))
    }

    #[tokio::test]
    async fn each_sslmode_and_root_connect_as_the_pool_would() {
        let Some(url) = test_database("postgres_connection") else {
            return;
        };
        let admin = admin(&url).await;
        let show = |setting| {
            let admin = &admin;
            async move {
                let row = admin.query_one(&format!("SHOW {setting}"), &[]).await;
                row.unwrap().get::<_, String>(0)
            }
        };
        let ssl = show("ssl").await;
        // The server's own certificate, when it is on this machine: the right root for it.
        // (A relative path is in the data directory.)
        let data = std::path::PathBuf::from(show("data_directory").await);
        let right_root = data.join(show("ssl_cert_file").await);
        let right_root = right_root
            .to_str()
            .filter(|path| std::fs::File::open(path).is_ok())
            .map(str::to_owned);
        let wrong_root = wrong_root_file();
        let (base, _) = split_tls_parameters(&url);
        let mut bases = vec![base.clone()];
        if base.contains("@127.0.0.1") {
            // The host name the certificate may be issued for, for verify-full.
            bases.push(base.replace("@127.0.0.1", "@localhost"));
        }
        let roots = [None, Some(wrong_root.clone()), right_root];
        for base in &bases {
            for mode in SSLMODES {
                for root in roots
                    .iter()
                    .enumerate()
                    .filter(|(i, r)| *i == 0 || r.is_some())
                {
                    let mut tls = vec![("sslmode", mode)];
                    tls.extend(root.1.as_deref().map(|root| ("sslrootcert", root)));
                    let url = with_tls(base, &tls);
                    let (own, pool) = (own_connection(&url).await, pool_connection(&url).await);
                    let case = format!("{base} sslmode={mode}, root {}", root.0);
                    assert_eq!(own.is_ok(), pool.is_ok(), "{case}: {own:?}, pool {pool:?}");
                    assert_eq!(own.as_ref().ok(), pool.as_ref().ok(), "{case}");
                    eprintln!("{case}: encrypted {:?}", own.as_ref().ok());
                }
            }
        }
        // The cases that matter, said outright.
        let own = |tls: &[(&str, &str)]| {
            let url = with_tls(&base, tls);
            async move { own_connection(&url).await }
        };
        assert_eq!(own(&[("sslmode", "disable")]).await, Ok(false));
        if ssl == "on" {
            assert_eq!(own(&[]).await, Ok(true), "prefer, the default");
            assert_eq!(own(&[("sslmode", "require")]).await, Ok(true));
            for mode in ["verify-ca", "verify-full"] {
                let wrong = own(&[("sslmode", mode), ("sslrootcert", &wrong_root)]).await;
                assert!(wrong.is_err(), "{mode} with a wrong root: {wrong:?}");
            }
        } else {
            eprintln!("postgres_connection: TLS cases skipped: this PostgreSQL has ssl = {ssl}");
        }
        std::fs::remove_file(wrong_root).unwrap();
    }
}
