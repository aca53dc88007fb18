//! Customer credentials (the original document's "Customer credentials" section): a
//! customer's password and PIN for the organization's channels, set and reset by back-office
//! staff and verified by the channels (privileged scope `credentials:verify`).
//!
//! No secret, hash or hash parameter is ever in an answer, a log line or an error: bodies are
//! parsed into `domain::credential::Secret` (which does not print), the logs name the actor,
//! organization and ids only, and a broken rule names the field `secret`, never its value.

use std::sync::Arc;

use poem_openapi::{ApiResponse, OpenApi, param::Path, payload::Json};
use uuid::Uuid;

use super::{
    ApiResult, ApiTags, actor,
    errors::forbidden_without,
    errors::{
        INTERNAL, OperationErrors, PAYLOAD_TOO_LARGE, READ_TIMEOUT, READ_UNAVAILABLE, UNAUTHORIZED,
        bad_request, conflict, customer_id_not_a_uuid, forbidden, not_found, timeout, unavailable,
    },
    types::{
        CredentialVerification, CredentialVerificationResult, CustomerCredential,
        CustomerCredentialPage, CustomerCredentialPatch, NewCredentialSecret,
        NewCustomerCredential, Nullable, OrgId, Unvalidated,
    },
};
use crate::{
    auth::{BearerAuth, Scope},
    domain::credential::{
        CredentialPatch, CredentialType, NewCredential, NewSecret, VerifyAttempt,
    },
    error::Error,
    repo::credentials::{LOCKED, ONE_PER_TYPE},
    service::credentials::{Credentials, Hasher},
};

pub struct CredentialsApi {
    pub credentials: Credentials,
}

impl CredentialsApi {
    pub fn new(repo: crate::repo::Repository) -> Self {
        // One hasher for the process's API: its permits bound hashing across all requests.
        let hasher = Arc::new(Hasher::per_core(repo.acquire_timeout()));
        CredentialsApi {
            credentials: Credentials::new(repo, hasher),
        }
    }
}

#[derive(ApiResponse)]
pub enum CreateCredentialResponse {
    /// Credential created, `active`, with no failed attempts.
    #[oai(status = 201, content_type = "application/json")]
    Created(
        Json<CustomerCredential>,
        /// The credential's URL.
        #[oai(header = "Location")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum ListCredentialsResponse {
    /// The customer's credentials (at most one per type), in id order; `next_cursor` is null.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<CustomerCredentialPage>),
}

#[derive(ApiResponse)]
pub enum CredentialResponse {
    /// The credential.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<CustomerCredential>),
}

#[derive(ApiResponse)]
pub enum NoContentResponse {
    /// Done.
    #[oai(status = 204)]
    Done,
}

#[derive(ApiResponse)]
pub enum VerifyResponse {
    /// The verification's result (a wrong secret is `200` with `valid: false`).
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<CredentialVerificationResult>),
}

const CREDENTIAL_NOT_FOUND: &str = "The customer does not exist in this organization, or has no \
     credential with this id (`not_found`).";

fn pin_rule_broken() -> Error {
    let secret = NewSecret::parse(serde_json::json!({"secret": "x"}));
    match secret {
        Ok(secret) => secret
            .check_for(CredentialType::Pin)
            .err()
            .unwrap_or_else(|| Error::invalid_field("secret", "breaks the rule of its type")),
        Err(error) => error,
    }
}

const HASHING_BUSY: &str = "The database cannot be reached just now, or too many secrets are \
     being hashed or checked at once (at most one per core; this request waited \
     `DB_ACQUIRE_TIMEOUT_MS` for its turn) (`service_unavailable`); retry after `Retry-After` \
     seconds.";

/// The errors each operation below answers, in words about it (see [`super::errors`]).
pub const ERRORS: &[OperationErrors] = &[
    OperationErrors {
        operation_id: "listCustomerCredentials",
        errors: &[
            bad_request(
                "`customer_id` is not a UUID, or `org_id` breaks its format \
                 (`invalid_parameter`). `details` names the parameter.",
            )
            .example(customer_id_not_a_uuid),
            UNAUTHORIZED,
            forbidden_without!("credentials:read"),
            not_found("The customer does not exist in this organization (`not_found`)."),
            INTERNAL,
            READ_UNAVAILABLE,
            READ_TIMEOUT,
        ],
    },
    OperationErrors {
        operation_id: "createCustomerCredential",
        errors: &[
            bad_request(
                "The body breaks a rule (`invalid_request_body`): not JSON, not an object, not \
                 `application/json`, an unknown field, `type` missing or not `password` or \
                 `pin`, `secret` missing, not a string, or breaking its type's rule (a password \
                 12-128 characters, a PIN 4-8 digits), `label` not a string or null, empty, \
                 over 64 characters, with control characters or white space at either end, \
                 `must_change` not a boolean; or `customer_id` is not a UUID or `org_id` breaks \
                 its format (`invalid_parameter`). `details` names each offending field, never \
                 the secret's value.",
            )
            .example(|| Error::invalid_field("secret", "a password must be 12-128 characters")),
            UNAUTHORIZED,
            forbidden_without!("credentials:write"),
            not_found("The customer does not exist in this organization (`not_found`)."),
            conflict(
                "The customer already has a credential of this type (`conflict`, \
                 `details[0].field` is `type`): set a new secret on it, or delete it first.",
            )
            .example(|| ONE_PER_TYPE.error()),
            PAYLOAD_TOO_LARGE,
            INTERNAL,
            unavailable(HASHING_BUSY),
            timeout(
                "The database did not answer within the statement timeout \
                 (`repository_timeout`); the credential may have been created: a retry then \
                 answers `409`.",
            ),
        ],
    },
    OperationErrors {
        operation_id: "getCustomerCredential",
        errors: &[
            bad_request(
                "`customer_id` or `credential_id` is not a UUID, or `org_id` breaks its format \
                 (`invalid_parameter`). `details` names the parameter.",
            )
            .example(customer_id_not_a_uuid),
            UNAUTHORIZED,
            forbidden_without!("credentials:read"),
            not_found(CREDENTIAL_NOT_FOUND),
            INTERNAL,
            READ_UNAVAILABLE,
            READ_TIMEOUT,
        ],
    },
    OperationErrors {
        operation_id: "updateCustomerCredential",
        errors: &[
            bad_request(
                "The body breaks a rule (`invalid_request_body`): not JSON, not an object, not \
                 `application/json`, an unknown field (`secret` included: a new secret has its \
                 own operation), `label` not a string or null, empty, over 64 characters, with \
                 control characters or white space at either end, `status` not `active` or \
                 `disabled`; or a path parameter breaks its format (`invalid_parameter`). \
                 `details` names each offending field.",
            )
            .example(|| Error::invalid_field("status", "must be active or disabled")),
            UNAUTHORIZED,
            forbidden_without!("credentials:write"),
            not_found(CREDENTIAL_NOT_FOUND),
            conflict(
                "The body sets `status` on a locked credential (`conflict`, `details[0].field` \
                 is `status`): only a new secret unlocks it. Nothing was changed.",
            )
            .example(|| LOCKED.error()),
            PAYLOAD_TOO_LARGE,
            INTERNAL,
            unavailable(
                "The database cannot be reached just now (`service_unavailable`); retry after \
                 `Retry-After` seconds. The PATCH can be retried as is.",
            ),
            timeout(
                "The database did not answer within the statement timeout \
                 (`repository_timeout`); the patch may have been applied. It can be retried as \
                 is.",
            ),
        ],
    },
    OperationErrors {
        operation_id: "deleteCustomerCredential",
        errors: &[
            bad_request(
                "`customer_id` or `credential_id` is not a UUID, or `org_id` breaks its format \
                 (`invalid_parameter`). `details` names the parameter.",
            )
            .example(customer_id_not_a_uuid),
            UNAUTHORIZED,
            forbidden_without!("credentials:write"),
            not_found(
                "The customer does not exist in this organization, or has no credential with \
                 this id (`not_found`). After a `503` or `504`, it means the first attempt \
                 deleted it.",
            ),
            INTERNAL,
            unavailable(
                "The database cannot be reached just now (`service_unavailable`); retry after \
                 `Retry-After` seconds: a retry answers `404` if the first attempt landed.",
            ),
            timeout(
                "The database did not answer within the statement timeout \
                 (`repository_timeout`); the credential may have been deleted: a retry answers \
                 `404` if it was.",
            ),
        ],
    },
    OperationErrors {
        operation_id: "setCustomerCredentialSecret",
        errors: &[
            bad_request(
                "The body breaks a rule (`invalid_request_body`): not JSON, not an object, not \
                 `application/json`, an unknown field, `secret` missing, not a string, or \
                 breaking the rule of the credential's type (a password 12-128 characters, a \
                 PIN 4-8 digits), `must_change` not a boolean; or a path parameter breaks its \
                 format (`invalid_parameter`). `details` names each offending field, never the \
                 secret's value. Nothing was changed.",
            )
            .example(pin_rule_broken),
            UNAUTHORIZED,
            forbidden_without!("credentials:write"),
            not_found(CREDENTIAL_NOT_FOUND),
            PAYLOAD_TOO_LARGE,
            INTERNAL,
            unavailable(HASHING_BUSY),
            timeout(
                "The database did not answer within the statement timeout \
                 (`repository_timeout`); the secret may have been set. The PUT can be retried \
                 as is.",
            ),
        ],
    },
    OperationErrors {
        operation_id: "verifyCustomerCredential",
        errors: &[
            bad_request(
                "The body breaks a rule (`invalid_request_body`): not JSON, not an object, not \
                 `application/json`, an unknown field, `secret` missing or not a string; or a \
                 path parameter breaks its format (`invalid_parameter`). Nothing was counted. \
                 (A wrong secret is not an error: it is `200` with `valid: false`.)",
            )
            .example(|| Error::invalid_field("secret", "must be a string")),
            UNAUTHORIZED,
            forbidden(
                "The token does not grant this organization, or lacks the privileged scope \
                 `credentials:verify` (`forbidden`).",
            )
            .example(|| crate::auth::lacks_scope("credentials:verify")),
            not_found(CREDENTIAL_NOT_FOUND),
            PAYLOAD_TOO_LARGE,
            INTERNAL,
            unavailable(HASHING_BUSY),
            timeout(
                "The database did not answer within the statement timeout \
                 (`repository_timeout`); a failure may have been counted.",
            ),
        ],
    },
];

#[OpenApi(tag = "ApiTags::CustomerCredentials")]
impl CredentialsApi {
    /// List a customer's credentials
    ///
    /// The customer's credentials, at most one per type, in id order, in one page
    /// (`next_cursor` is always null). Never a secret or a hash. Requires scope
    /// `credentials:read` and access to the organization. `404` when the customer does not
    /// exist in this organization.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id/credentials",
        method = "get",
        operation_id = "listCustomerCredentials"
    )]
    async fn list_credentials(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
    ) -> ApiResult<ListCredentialsResponse> {
        auth.0.authorize(&org_id.0.0, Scope::CredentialsRead)?;
        let items = self
            .credentials
            .repo()
            .list_credentials(&org_id.0.0, customer_id.0)
            .await?;
        Ok(ListCredentialsResponse::Ok(Json(CustomerCredentialPage {
            items: items.into_iter().map(CustomerCredential::from).collect(),
            next_cursor: Nullable(None),
        })))
    }

    /// Set a customer's credential
    ///
    /// Creates the customer's `password` or `pin` (`201`, with its `Location`), `active`,
    /// with no failed attempts. The secret is stored as an Argon2id hash only, and never
    /// returned. A customer has at most one credential per type: a second is `409`. Requires
    /// scope `credentials:write` and access to the organization.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id/credentials",
        method = "post",
        operation_id = "createCustomerCredential"
    )]
    async fn create_credential(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
        /// The credential: type, secret, label, must_change.
        body: Json<Unvalidated<NewCustomerCredential>>,
    ) -> ApiResult<CreateCredentialResponse> {
        let new = NewCredential::parse(body.0.0)?;
        let org = &org_id.0.0;
        auth.0.authorize(org, Scope::CredentialsWrite)?;
        let created = self.credentials.create(org, customer_id.0, new).await?;
        tracing::info!(actor = actor(&auth), org = %org, customer = %customer_id.0, credential = %created.id, "credential created");
        let location = format!(
            "/v1/organizations/{org}/customers/{}/credentials/{}",
            customer_id.0, created.id
        );
        Ok(CreateCredentialResponse::Created(
            Json(created.into()),
            location,
        ))
    }

    /// Get a customer's credential
    ///
    /// Its type, label, status, `must_change`, failure count and times; never its secret or
    /// hash. Requires scope `credentials:read` and access to the organization.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id/credentials/:credential_id",
        method = "get",
        operation_id = "getCustomerCredential"
    )]
    async fn get_credential(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
        /// Credential identifier.
        credential_id: Path<Uuid>,
    ) -> ApiResult<CredentialResponse> {
        auth.0.authorize(&org_id.0.0, Scope::CredentialsRead)?;
        let found = self
            .credentials
            .repo()
            .get_credential(&org_id.0.0, customer_id.0, credential_id.0)
            .await?;
        Ok(CredentialResponse::Ok(Json(found.into())))
    }

    /// Change a credential's label or status
    ///
    /// A JSON merge patch: an absent field is unchanged, `label: null` clears the label.
    /// `status` is `active` or `disabled`; a disabled credential never verifies. A `locked`
    /// credential is unlocked only by a new secret: a `status` on it is `409` (its label may
    /// still change). Requires scope `credentials:write` and access to the organization.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id/credentials/:credential_id",
        method = "patch",
        operation_id = "updateCustomerCredential"
    )]
    async fn update_credential(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
        /// Credential identifier.
        credential_id: Path<Uuid>,
        /// The changes.
        body: Json<Unvalidated<CustomerCredentialPatch>>,
    ) -> ApiResult<CredentialResponse> {
        let patch = CredentialPatch::parse(body.0.0)?;
        let org = &org_id.0.0;
        auth.0.authorize(org, Scope::CredentialsWrite)?;
        let updated = self
            .credentials
            .repo()
            .patch_credential(org, customer_id.0, credential_id.0, patch)
            .await?;
        tracing::info!(actor = actor(&auth), org = %org, customer = %customer_id.0, credential = %credential_id.0, "credential updated");
        Ok(CredentialResponse::Ok(Json(updated.into())))
    }

    /// Delete a customer's credential
    ///
    /// Deletes the credential and its hash. Requires scope `credentials:write` and access to
    /// the organization.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id/credentials/:credential_id",
        method = "delete",
        operation_id = "deleteCustomerCredential"
    )]
    async fn delete_credential(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
        /// Credential identifier.
        credential_id: Path<Uuid>,
    ) -> ApiResult<NoContentResponse> {
        let org = &org_id.0.0;
        auth.0.authorize(org, Scope::CredentialsWrite)?;
        self.credentials
            .repo()
            .delete_credential(org, customer_id.0, credential_id.0)
            .await?;
        tracing::info!(actor = actor(&auth), org = %org, customer = %customer_id.0, credential = %credential_id.0, "credential deleted");
        Ok(NoContentResponse::Done)
    }

    /// Set a new secret
    ///
    /// Replaces the credential's secret (by its type's rule), sets `must_change` (absent:
    /// false) and `last_changed_at`, clears `failed_attempts`, and unlocks a `locked`
    /// credential. A `disabled` credential stays disabled. Requires scope `credentials:write`
    /// and access to the organization.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id/credentials/:credential_id/secret",
        method = "put",
        operation_id = "setCustomerCredentialSecret"
    )]
    async fn set_secret(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
        /// Credential identifier.
        credential_id: Path<Uuid>,
        /// The new secret.
        body: Json<Unvalidated<NewCredentialSecret>>,
    ) -> ApiResult<NoContentResponse> {
        let new = NewSecret::parse(body.0.0)?;
        let org = &org_id.0.0;
        auth.0.authorize(org, Scope::CredentialsWrite)?;
        self.credentials
            .set_secret(org, customer_id.0, credential_id.0, new)
            .await?;
        tracing::info!(actor = actor(&auth), org = %org, customer = %customer_id.0, credential = %credential_id.0, "credential secret set");
        Ok(NoContentResponse::Done)
    }

    /// Verify a secret
    ///
    /// Checks what a customer typed. `valid` is true only for an `active` credential and the
    /// right secret. A wrong secret (of any format) counts one failed attempt; the fifth
    /// consecutive one locks the credential, and that answer already says `locked`. A right
    /// one resets the count. A `disabled` or `locked` credential answers `valid: false`
    /// whatever the secret, and counts nothing. Hashing is bounded (one per core at a time):
    /// under a burst, verifications queue, and answer `503` if they cannot start within
    /// `DB_ACQUIRE_TIMEOUT_MS`. Requires scope `credentials:verify` (privileged: for the
    /// channels, not in the `token` command's default grant) and access to the organization.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id/credentials/:credential_id/verify",
        method = "post",
        operation_id = "verifyCustomerCredential"
    )]
    async fn verify_credential(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
        /// Credential identifier.
        credential_id: Path<Uuid>,
        /// The secret to check.
        body: Json<Unvalidated<CredentialVerification>>,
    ) -> ApiResult<VerifyResponse> {
        let attempt = VerifyAttempt::parse(body.0.0)?;
        let org = &org_id.0.0;
        auth.0.authorize(org, Scope::CredentialsVerify)?;
        let result = self
            .credentials
            .verify(org, customer_id.0, credential_id.0, attempt)
            .await?;
        tracing::info!(actor = actor(&auth), org = %org, customer = %customer_id.0, credential = %credential_id.0, valid = result.valid, "credential verified");
        Ok(VerifyResponse::Ok(Json(CredentialVerificationResult {
            valid: result.valid,
            status: result.status.into(),
            must_change: result.must_change,
        })))
    }
}
