//! Which errors each operation documents, and what each means for that operation.
//!
//! poem-openapi merges every variant of [`ApiError`](crate::error::ApiError) into the
//! responses of every operation that returns it, with one wording for all. So each resource
//! module states, in one `ERRORS` table just above its `#[OpenApi]` impl, the errors each of
//! its operations can answer, in words about that operation; [`crate::spec`] then keeps only
//! those in the operation's responses and sets their descriptions (and, where given, their
//! examples). An operation with no entry, an entry for no operation, or a status the
//! operation's response type cannot carry makes the document fail to generate, so every test
//! of the document fails until the table is written.
//!
//! What to list, per operation (the contract's rules):
//! - `400` when it has a parameter or a body (name them); `413` when it has a body;
//! - `401` and `403` on every `/v1` operation (`403` names the scope);
//! - `404` only for a resource named in the path that may not exist, `409` only for a rule
//!   the operation can break;
//! - `500`, `503` and `504` on every operation that touches the database.
//!
//! The original document's lists are the floor for its operations: a status it lists that
//! this version never answers stays documented, marked [`Documented::reserved`], and says so.

use poem::http::StatusCode;

use crate::error::Error;

/// One error status an operation documents.
#[derive(Clone, Copy)]
pub struct Documented {
    pub status: StatusCode,
    /// What it means for this operation (the response's `description`).
    pub description: &'static str,
    /// A typical body for this operation, when the status's general example would mislead.
    pub example: Option<fn() -> Error>,
    /// Whether the code can answer it (`false`: listed only because the original API
    /// document lists it for this operation).
    pub answered: bool,
}

impl Documented {
    pub const fn new(status: StatusCode, description: &'static str) -> Self {
        Documented {
            status,
            description,
            example: None,
            answered: true,
        }
    }

    /// A status the original document lists for the operation, which this version never
    /// answers; documented so that clients written against that document keep handling it.
    pub const fn reserved(status: StatusCode, description: &'static str) -> Self {
        Documented {
            answered: false,
            ..Documented::new(status, description)
        }
    }

    /// The example body of this response: `example` builds the error the operation answers.
    pub const fn example(self, example: fn() -> Error) -> Self {
        Documented {
            example: Some(example),
            ..self
        }
    }
}

/// The errors one operation documents, named by its `operationId`.
pub struct OperationErrors {
    pub operation_id: &'static str,
    pub errors: &'static [Documented],
}

pub const fn bad_request(description: &'static str) -> Documented {
    Documented::new(StatusCode::BAD_REQUEST, description)
}

pub const fn forbidden(description: &'static str) -> Documented {
    Documented::new(StatusCode::FORBIDDEN, description)
}

pub const fn not_found(description: &'static str) -> Documented {
    Documented::new(StatusCode::NOT_FOUND, description)
}

pub const fn conflict(description: &'static str) -> Documented {
    Documented::new(StatusCode::CONFLICT, description)
}

pub const fn unavailable(description: &'static str) -> Documented {
    Documented::new(StatusCode::SERVICE_UNAVAILABLE, description)
}

pub const fn timeout(description: &'static str) -> Documented {
    Documented::new(StatusCode::GATEWAY_TIMEOUT, description)
}

/// `403` of an operation that needs `$scope`: the wording and example every resource shares.
macro_rules! forbidden_without {
    ($scope:literal) => {
        $crate::api::errors::forbidden(concat!(
            "The token does not grant this organization, or lacks the scope `",
            $scope,
            "` (`forbidden`)."
        ))
        .example(|| $crate::auth::lacks_scope($scope))
    };
}
pub(crate) use forbidden_without;

/// `401`, the same for every `/v1` operation.
pub const UNAUTHORIZED: Documented = Documented::new(
    StatusCode::UNAUTHORIZED,
    "The bearer token is missing, malformed, badly signed, expired, not yet valid, or has the \
     wrong issuer or audience (`unauthorized`).",
);

/// `413`, the same for every operation with a request body.
pub const PAYLOAD_TOO_LARGE: Documented = Documented::new(
    StatusCode::PAYLOAD_TOO_LARGE,
    "The request body is over 64 KiB (`payload_too_large`); nothing was read or changed.",
);

/// `500`, the same for every operation that can meet one.
pub const INTERNAL: Documented = Documented::new(
    StatusCode::INTERNAL_SERVER_ERROR,
    "A bug or an unexpected failure (`internal_error`); the message reveals nothing internal. \
     Quote the `request_id` when reporting it.",
);

/// `503` of an operation that only reads.
pub const READ_UNAVAILABLE: Documented = unavailable(
    "The database cannot be reached just now (`service_unavailable`); retry after \
     `Retry-After` seconds.",
);

/// `504` of an operation that only reads.
pub const READ_TIMEOUT: Documented = timeout(
    "The database did not answer within the statement timeout (`repository_timeout`); \
     retrying is safe.",
);

/// The example of a `customer_id` that is not a UUID.
pub fn customer_id_not_a_uuid() -> Error {
    Error::invalid_parameter(
        "customer_id",
        "failed to parse \"string_uuid\": invalid character: found `x` at 0",
    )
}
