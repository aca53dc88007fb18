//! The HTTP API: one `#[OpenApi]` impl per resource, thin by design.
//!
//! Each operation authenticates (the [`BearerAuth`] argument comes first, so a missing token is
//! a 401 before any other error), parses its input into domain values, checks the caller's
//! organization and scope, calls the repository and maps the answer. Errors leave as
//! [`ApiError`]; which of its statuses each operation documents, and in what words, each
//! resource module states in its `ERRORS` table ([`errors`]), collected in
//! [`OPERATION_ERRORS`]. The document's tags follow [`TAG_ORDER`].

pub mod accounts;
pub mod categories;
pub mod credentials;
pub mod cursor;
pub mod customers;
pub mod errors;
pub mod history;
pub mod identification;
pub mod service;
pub mod special_treatment;
pub mod types;

use poem_openapi::{LicenseObject, OpenApiService, ServerObject, Tags};

use crate::{auth::BearerAuth, error::ApiError, repo::Repository};

/// The API's version, in the document's `info.version`.
pub const API_VERSION: &str = "1.0.0";

/// The document's tags, in the order its readers see them: the original API document's
/// navigation (its sections, including those not built yet, so that they land in their place),
/// then the probes. poem-openapi sorts tags by name; [`crate::spec`] puts them in this order,
/// and refuses a tag that is not listed here. Swagger UI shows its sections in this order.
pub const TAG_ORDER: &[&str] = &[
    "External Accounts",
    "Customers",
    "Categories",
    "Special Treatment",
    "Customer Credentials",
    "Customer Identification Processes",
    "Service",
];

/// The tags in use (declared in [`TAG_ORDER`]'s order; the document's order is that list's).
#[derive(Tags)]
pub enum ApiTags {
    /// A customer's accounts as the organization knows them (current, savings, card, loan
    /// accounts, at the organization or elsewhere), registered by the organization's own
    /// reference. Account numbers are write-only: answers show `identification_masked`, and
    /// only the privileged reveal (`accounts:reveal`) answers the number.
    #[oai(rename = "External Accounts")]
    ExternalAccounts,
    /// External customers: the registry special treatment hangs on. A customer belongs to
    /// exactly one organization and is invisible from every other.
    Customers,
    /// Customer categories: the organization's own catalogue (`retail`, `sme`, `staff`, ...)
    /// and the set of categories each customer belongs to.
    Categories,
    /// Customer special treatment: values such as `vulnerable`, `vip` or `no-marketing` that
    /// change how the organization must deal with a customer.
    #[oai(rename = "Special Treatment")]
    SpecialTreatment,
    /// Customer credentials: each customer's password and PIN for the organization's
    /// channels, set and reset by staff and verified by the channels. Secrets are stored as
    /// Argon2id hashes and never returned.
    #[oai(rename = "Customer Credentials")]
    CustomerCredentials,
    /// Customer identification processes (KYC): each records one identity-verification run
    /// of a customer (method, provider reference, status, decision); a retry is a new process.
    /// No documents, images or ID numbers are stored, only references. At most one process
    /// of a customer is unfinished at a time. Each transition is its own operation:
    ///
    /// | from | to | operation | scope |
    /// |---|---|---|---|
    /// | (none) | `created` | `createIdentificationProcess` | `identification:write` |
    /// | `created` | `pending` | `submitIdentificationProcess` | `identification:write` |
    /// | `created`, `pending` | `cancelled` | `cancelIdentificationProcess` | `identification:write` |
    /// | `pending` | `in_review` | `startIdentificationReview` | `identification:review` |
    /// | `pending`, `in_review` | `approved` | `approveIdentificationProcess` | `identification:review` |
    /// | `pending`, `in_review` | `rejected` | `rejectIdentificationProcess` | `identification:review` |
    /// | `created`, `pending` | `expired` | none: by the server once `expires_at` has passed | |
    ///
    /// Any other transition is `409 conflict` with `details[0].field` = `status`.
    /// `approved`, `rejected`, `expired` and `cancelled` are final; `in_review` never expires.
    /// Expiry needs no request: from `expires_at` on, every read shows `expired` and every
    /// transition is refused (`updated_at` is not changed by it). Four eyes: the token `sub`
    /// that created a process may not approve or reject it (`403`); it may submit, cancel and
    /// start the review. Transitions are compare-and-set: of racing decisions exactly one
    /// succeeds, the others get `409`. `identification:review` is privileged: the `token`
    /// command grants it only when asked for by name. Finished processes are kept after the
    /// customer is deleted (anti-money-laundering retention), unreachable through the API; a
    /// customer with an unfinished process cannot be deleted (`409`).
    #[oai(rename = "Customer Identification Processes")]
    CustomerIdentificationProcesses,
    /// Liveness and readiness probes for load balancers and orchestrators (no authentication).
    Service,
}

/// Every operation's documented errors, one table per resource module.
pub const OPERATION_ERRORS: &[&[errors::OperationErrors]] = &[
    customers::ERRORS,
    history::ERRORS,
    accounts::ERRORS,
    categories::ERRORS,
    special_treatment::ERRORS,
    credentials::ERRORS,
    identification::ERRORS,
    service::ERRORS,
];

pub type Api = (
    customers::CustomersApi,
    history::HistoryApi,
    accounts::AccountsApi,
    categories::CategoriesApi,
    special_treatment::SpecialTreatmentApi,
    credentials::CredentialsApi,
    identification::IdentificationApi,
    service::ServiceApi,
);

const DESCRIPTION: &str = "\
The customers of an organization and each customer's *special treatment*: a list of values \
(`vulnerable`, `vip`, `no-marketing`, ...) that change how the organization must deal with that \
customer; the categories the organization files its customers under; their external accounts \
(numbers write-only, revealed only with a privileged scope); their identity-verification (KYC) \
processes; and their channel credentials (passwords and PINs, stored as Argon2id hashes, \
verified with a privileged scope).

**Privileged scopes.** `accounts:reveal`, `identification:review`, `credentials:verify` and \
`history:read` are granted only when asked for by name; the operations that need them say so.

**Change history.** Every successful write to a customer (its registration and deletion, its \
special treatment, categories, accounts, credentials and identification processes) appends an \
event to the customer's history in the same transaction: who (the token's `sub`), when, which \
request, what, and the new non-secret values. `getCustomerHistory` reads it, also after the \
customer is deleted.

**Authentication.** Every `/v1` operation needs `Authorization: Bearer <JWT>`. The token's \
`orgs` claim lists the organizations the caller may act in (`\"*\"` for all) and its `scope` \
claim the granted scopes; each operation names the scope it needs. A missing or invalid token is \
`401` (before any other error of an operation, except `413` for an oversized body); a valid token \
without the organization or the scope is `403`. Routing comes first: a path that names no \
operation is `404` and a wrong method `405`, whatever the credentials. A request that is malformed (bad path parameter, bad body) \
is `400` even when it would also be `403`: requests are parsed before they are authorized. A \
`403` is always decided before the customer is looked up, so a caller never learns whether a \
customer exists in an organization it may not access.

**Errors.** Every error, from every route, is an `ErrorResponse` JSON body whose `request_id` \
equals the `X-Request-Id` response header (an incoming sane `X-Request-Id` is echoed, else one \
is generated). Unknown routes answer `404 not_found`, and a known path with the wrong method \
`405 method_not_allowed` with an `Allow` header. Bodies over 64 KiB answer `413`. `503` \
(with `Retry-After`) means no database connection could be had in time, or the database was \
found unreachable moments ago (then the answer is immediate until it is back); `504` means the \
database did not answer in time. After a `503` or `504` to a write, whether it was applied is \
not known: a PUT can be retried as is, and a retried POST or DELETE answers `409` or `404` when \
the first attempt landed. Every `/v1` answer carries `Cache-Control: no-store`.

**Durability.** A `201` or `204` is sent only after the change is committed.";

/// The poem-openapi service: the operations and the document describing them.
pub fn service(repo: Repository) -> OpenApiService<Api, ()> {
    let api = (
        customers::CustomersApi { repo: repo.clone() },
        history::HistoryApi { repo: repo.clone() },
        accounts::AccountsApi { repo: repo.clone() },
        categories::CategoriesApi { repo: repo.clone() },
        special_treatment::SpecialTreatmentApi { repo: repo.clone() },
        credentials::CredentialsApi::new(repo.clone()),
        identification::IdentificationApi {
            kyc: crate::service::identification::Identification::new(repo.clone()),
        },
        service::ServiceApi { repo },
    );
    OpenApiService::new(api, "Customers API", API_VERSION)
        .description(DESCRIPTION)
        .license(LicenseObject::new("MIT").url("https://opensource.org/licenses/MIT"))
        // Relative: the document describes the server that serves it, wherever that is.
        .server(ServerObject::new("/").description("The server this document is served from"))
}

/// The operations' result: a documented success or a documented error.
pub type ApiResult<T> = Result<T, ApiError>;

/// The principal's name for the logs of a write.
fn actor(auth: &BearerAuth) -> &str {
    &auth.0.subject
}
