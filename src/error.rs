//! The one error type of the service, the one list of error codes, and their one mapping to
//! HTTP.
//!
//! Handlers, the domain and the repository all fail with [`Error`], which knows nothing about
//! HTTP. [`ErrorCode`] lists every code a client can see, each with its status, in one table.
//! [`ApiError`] is the wire form: a poem-openapi response enum, so error statuses appear in the
//! operations' documented responses (each operation keeps only those it can answer, described
//! in its own words: the `ERRORS` table above it in `crate::api`). Framework failures (a path parameter that is not a UUID,
//! malformed JSON, an unknown route, a wrong method) are translated into [`Error`] by the
//! request middleware (`crate::http`), so they leave as the same `ErrorResponse`. This module
//! depends on no other module of the service but [`crate::request`] (the request's id).

use poem::http::StatusCode;
use poem_openapi::{ApiResponse, Object, payload::Json};

use crate::request::current_request_id;

/// Every `code` an `ErrorResponse` can carry, with its HTTP status: the contract's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequestBody,
    InvalidParameter,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    InternalError,
    ServiceUnavailable,
    RepositoryTimeout,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 11] = [
        ErrorCode::InvalidRequestBody,
        ErrorCode::InvalidParameter,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::PayloadTooLarge,
        ErrorCode::InternalError,
        ErrorCode::ServiceUnavailable,
        ErrorCode::RepositoryTimeout,
    ];

    /// The code on the wire and its status: the one place either is written.
    const fn spelling(self) -> (&'static str, StatusCode) {
        match self {
            ErrorCode::InvalidRequestBody => ("invalid_request_body", StatusCode::BAD_REQUEST),
            ErrorCode::InvalidParameter => ("invalid_parameter", StatusCode::BAD_REQUEST),
            ErrorCode::Unauthorized => ("unauthorized", StatusCode::UNAUTHORIZED),
            ErrorCode::Forbidden => ("forbidden", StatusCode::FORBIDDEN),
            ErrorCode::NotFound => ("not_found", StatusCode::NOT_FOUND),
            ErrorCode::MethodNotAllowed => ("method_not_allowed", StatusCode::METHOD_NOT_ALLOWED),
            ErrorCode::Conflict => ("conflict", StatusCode::CONFLICT),
            ErrorCode::PayloadTooLarge => ("payload_too_large", StatusCode::PAYLOAD_TOO_LARGE),
            ErrorCode::InternalError => ("internal_error", StatusCode::INTERNAL_SERVER_ERROR),
            ErrorCode::ServiceUnavailable => {
                ("service_unavailable", StatusCode::SERVICE_UNAVAILABLE)
            }
            ErrorCode::RepositoryTimeout => ("repository_timeout", StatusCode::GATEWAY_TIMEOUT),
        }
    }

    pub const fn as_str(self) -> &'static str {
        self.spelling().0
    }

    pub const fn status(self) -> StatusCode {
        self.spelling().1
    }

    /// The `kind` label of `repository_errors_total` for an answer with `status`: the errors
    /// that say the database, not the request, failed.
    pub fn repository_kind(status: StatusCode) -> Option<&'static str> {
        match status {
            StatusCode::SERVICE_UNAVAILABLE => Some("unavailable"),
            StatusCode::GATEWAY_TIMEOUT => Some("timeout"),
            _ => None,
        }
    }
}

/// Everything that can go wrong while answering a request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request body breaks a rule: not JSON, not an object, wrong type or value.
    #[error("{message}")]
    InvalidBody {
        message: String,
        details: Vec<FieldError>,
    },
    /// A path or query parameter breaks its format.
    #[error("{message}")]
    InvalidParameter {
        message: String,
        details: Vec<FieldError>,
    },
    /// No usable credentials. `token_presented` selects RFC 6750's `error="invalid_token"`.
    #[error("{message}")]
    Unauthorized {
        message: String,
        token_presented: bool,
    },
    /// Valid credentials that do not grant this organization or scope.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// Known path, wrong method; `allow` lists the path's methods.
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    /// The request conflicts with the current state: a uniqueness rule, or a transition not
    /// allowed from the current state. `field` names the rule's field (or `status`).
    #[error("{field} {message}")]
    Conflict { field: String, message: String },
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The repository could not be reached in time (no connection in the acquire timeout).
    #[error("repository unavailable: {0}")]
    Unavailable(String),
    /// A repository call ran past the statement timeout.
    #[error("repository call timed out")]
    Timeout,
    /// Bounded work (hashing a secret) could not start in time: too many requests at once.
    /// Answered `503 service_unavailable` with `Retry-After`, with this message.
    #[error("{0}")]
    Overloaded(&'static str),
    /// A bug or an unexpected failure: logged in full, answered without any detail.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    /// A body error naming one offending field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field_error = FieldError {
            field: field.into(),
            message: message.into(),
        };
        Error::InvalidBody {
            message: format!("{}: {}", field_error.field, field_error.message),
            details: vec![field_error],
        }
    }

    /// A path or query parameter error naming the parameter.
    pub fn invalid_parameter(name: &str, reason: &str) -> Self {
        Error::InvalidParameter {
            message: format!("invalid parameter `{name}`: {reason}"),
            details: vec![FieldError {
                field: name.to_owned(),
                message: reason.to_owned(),
            }],
        }
    }

    /// The stable machine-readable code clients branch on (the contract's table).
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidBody { .. } => ErrorCode::InvalidRequestBody,
            Error::InvalidParameter { .. } => ErrorCode::InvalidParameter,
            Error::Unauthorized { .. } => ErrorCode::Unauthorized,
            Error::Forbidden(_) => ErrorCode::Forbidden,
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::MethodNotAllowed { .. } => ErrorCode::MethodNotAllowed,
            Error::Conflict { .. } => ErrorCode::Conflict,
            Error::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            Error::Unavailable(_) | Error::Overloaded(_) => ErrorCode::ServiceUnavailable,
            Error::Timeout => ErrorCode::RepositoryTimeout,
            Error::Internal(_) => ErrorCode::InternalError,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.code().status()
    }

    /// The body clients see. 5xx messages are generic: causes go to the log, never the wire.
    fn to_body(&self) -> ErrorResponse {
        let (message, details) = match self {
            Error::InvalidBody { message, details }
            | Error::InvalidParameter { message, details } => (
                message.clone(),
                (!details.is_empty()).then(|| details.clone()),
            ),
            Error::Conflict { field, message } => (
                self.to_string(),
                Some(vec![FieldError {
                    field: field.clone(),
                    message: message.clone(),
                }]),
            ),
            Error::Unavailable(_) => (
                "the repository is unavailable; retry later".to_owned(),
                None,
            ),
            Error::Timeout => ("the repository did not answer in time".to_owned(), None),
            Error::Internal(_) => ("internal server error".to_owned(), None),
            other => (other.to_string(), None),
        };
        ErrorResponse {
            code: self.code().as_str().to_owned(),
            message,
            request_id: current_request_id(),
            details,
        }
    }

    /// One typical error for each status the operations document, as the wire shows it: the
    /// examples of the OpenAPI document's error responses.
    pub fn documented_examples() -> Vec<(StatusCode, ErrorResponse)> {
        let customer = "0190f3c2-7b1e-7c3a-9f00-5e1d2c3b4a59";
        let examples = [
            Error::invalid_field("values[1]", "repeats values[0]"),
            Error::Unauthorized {
                message: "invalid token: ExpiredSignature".to_owned(),
                token_presented: true,
            },
            Error::Forbidden("the token lacks the scope \"special-treatment:write\"".to_owned()),
            Error::NotFound(format!("customer {customer} not found")),
            Error::Conflict {
                field: "external_id".to_owned(),
                message: "is already registered in this organization".to_owned(),
            },
            Error::PayloadTooLarge {
                limit: crate::http::MAX_BODY_BYTES,
            },
            Error::Internal(anyhow::anyhow!("example")),
            Error::Unavailable("example".to_owned()),
            Error::Timeout,
        ];
        examples
            .into_iter()
            .map(|error| {
                let body = ErrorResponse {
                    request_id: "0b7e0c5e-6f5f-4b8c-9d0e-3c2a1f4e5d6c".to_owned(),
                    ..error.to_body()
                };
                (error.status(), body)
            })
            .collect()
    }

    /// Logs what the client is not told, with the request id the client is told, so a
    /// reported `request_id` leads to the cause. Client errors are the client's business.
    fn log(&self) {
        let request_id = current_request_id();
        match self {
            Error::Internal(cause) => {
                tracing::error!(%request_id, error = ?cause, "internal error")
            }
            Error::Unavailable(cause) => {
                tracing::warn!(%request_id, %cause, "repository unavailable")
            }
            Error::Timeout => tracing::warn!(%request_id, "repository call timed out"),
            Error::Overloaded(cause) => tracing::warn!(%request_id, %cause, "overloaded"),
            _ => {}
        }
    }

    /// The HTTP answer for this error; the only place statuses, codes and headers are chosen.
    pub fn into_response(self) -> poem::Response {
        use poem::IntoResponse;
        match self {
            Error::MethodNotAllowed { ref allow } => {
                let allow = allow.clone();
                Json(self.to_body())
                    .with_status(StatusCode::METHOD_NOT_ALLOWED)
                    .with_header(poem::http::header::ALLOW, allow)
                    .with_content_type("application/json")
                    .into_response()
            }
            other => ApiError::from(other).into_response(),
        }
    }
}

/// Errors leave handlers through `?` as the typed [`ApiError`].
impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        err.log();
        let status = err.status();
        let token_presented = matches!(
            err,
            Error::Unauthorized {
                token_presented: true,
                ..
            }
        );
        let body = Json(err.to_body());
        match status {
            StatusCode::BAD_REQUEST => ApiError::BadRequest(body),
            StatusCode::UNAUTHORIZED => {
                let challenge = if token_presented {
                    r#"Bearer realm="customers-api", error="invalid_token""#
                } else {
                    r#"Bearer realm="customers-api""#
                };
                ApiError::Unauthorized(body, challenge.to_owned())
            }
            StatusCode::FORBIDDEN => ApiError::Forbidden(body),
            StatusCode::NOT_FOUND => ApiError::NotFound(body),
            StatusCode::CONFLICT => ApiError::Conflict(body),
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(body),
            StatusCode::SERVICE_UNAVAILABLE => {
                ApiError::ServiceUnavailable(body, RETRY_AFTER_SECONDS)
            }
            StatusCode::GATEWAY_TIMEOUT => ApiError::RepositoryTimeout(body),
            _ => ApiError::Internal(body),
        }
    }
}

/// How long a client should wait before retrying after a 503.
const RETRY_AFTER_SECONDS: u32 = 1;

/// Errors as the operations answer them. The descriptions below are fallbacks: the document
/// keeps, for each operation, the statuses its `ERRORS` table lists, with its own wording.
#[derive(ApiResponse, Debug)]
pub enum ApiError {
    /// Bad request: the body (`invalid_request_body`) or a parameter (`invalid_parameter`)
    /// breaks a rule; `details` names each offending field.
    #[oai(status = 400, content_type = "application/json")]
    BadRequest(Json<ErrorResponse>),
    /// Unauthorized: the bearer token is missing, malformed, badly signed, expired, not yet
    /// valid, or has the wrong issuer or audience.
    #[oai(status = 401, content_type = "application/json")]
    Unauthorized(
        Json<ErrorResponse>,
        /// RFC 6750 challenge: `Bearer realm="customers-api"`, plus `error="invalid_token"`
        /// when a token was sent.
        #[oai(header = "WWW-Authenticate")]
        String,
    ),
    /// Forbidden: the token does not grant this organization or this operation's scope.
    #[oai(status = 403, content_type = "application/json")]
    Forbidden(Json<ErrorResponse>),
    /// Not found: no such customer in this organization.
    #[oai(status = 404, content_type = "application/json")]
    NotFound(Json<ErrorResponse>),
    /// Conflict: the request conflicts with the current state (a uniqueness rule, named in
    /// `details`).
    #[oai(status = 409, content_type = "application/json")]
    Conflict(Json<ErrorResponse>),
    /// Payload too large: the request body is over 64 KiB.
    #[oai(status = 413, content_type = "application/json")]
    PayloadTooLarge(Json<ErrorResponse>),
    /// Internal server error: a bug; the message reveals nothing internal.
    #[oai(status = 500, content_type = "application/json")]
    Internal(Json<ErrorResponse>),
    /// Service unavailable: the database cannot be reached just now; retry after `Retry-After`.
    #[oai(status = 503, content_type = "application/json")]
    ServiceUnavailable(
        Json<ErrorResponse>,
        /// Seconds to wait before retrying.
        #[oai(header = "Retry-After")]
        u32,
    ),
    /// Repository timeout: the database did not answer within the statement timeout.
    #[oai(status = 504, content_type = "application/json")]
    RepositoryTimeout(Json<ErrorResponse>),
}

/// The body of every error answer, from every route.
#[derive(Object, Debug, Clone)]
#[oai(example)]
pub struct ErrorResponse {
    /// Machine-readable error code: `invalid_request_body`, `invalid_parameter`,
    /// `unauthorized`, `forbidden`, `not_found`, `method_not_allowed`, `conflict`,
    /// `payload_too_large`, `internal_error`, `service_unavailable` or `repository_timeout`.
    pub code: String,
    /// Human-readable explanation, safe to show to a developer.
    pub message: String,
    /// The request's id, equal to the `X-Request-Id` response header; quote it when reporting
    /// a problem.
    pub request_id: String,
    /// For 400 answers, each offending field and what is wrong with it; for 409 answers, the
    /// field of the rule the request conflicts with (`status` for a state transition).
    #[oai(skip_serializing_if_is_none)]
    pub details: Option<Vec<FieldError>>,
}

impl poem_openapi::types::Example for ErrorResponse {
    fn example() -> Self {
        ErrorResponse {
            code: "invalid_request_body".to_owned(),
            message: "values[1]: must not repeat an earlier value".to_owned(),
            request_id: "0b7e0c5e-6f5f-4b8c-9d0e-3c2a1f4e5d6c".to_owned(),
            details: Some(vec![FieldError {
                field: "values[1]".to_owned(),
                message: "must not repeat an earlier value".to_owned(),
            }]),
        }
    }
}

/// One offending field of a rejected request.
#[derive(Object, Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Where the problem is: a body field (`values[3]`, `external_id`) or a parameter name.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// Result of a request-path operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;
