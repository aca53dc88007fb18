//! External accounts (the original document's "Accounts — External accounts" section).
//!
//! The account number (`identification`) comes in with the registration and goes out only in
//! the privileged reveal's answer. Every other answer carries `identification_masked`; log
//! lines name the actor, the organization and ids, never a body value; a rule the number
//! breaks is reported by field, without the value.

use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use uuid::Uuid;

use super::{
    ApiResult, ApiTags, actor,
    cursor::{decode_id, default_limit, encode_id},
    errors::forbidden_without,
    errors::{
        Documented, INTERNAL, OperationErrors, PAYLOAD_TOO_LARGE, READ_TIMEOUT, READ_UNAVAILABLE,
        UNAUTHORIZED, bad_request, conflict, forbidden, not_found, timeout, unavailable,
    },
    types::{
        ExternalAccount, ExternalAccountIdentification, ExternalAccountPage, ExternalAccountPatch,
        NewExternalAccount, Nullable, OrgId, Unvalidated,
    },
};
use crate::{
    auth::{BearerAuth, Scope},
    domain::account::{self, AccountPage, AccountPatch, ListQuery},
    error::Error,
    repo::Repository,
};

pub struct AccountsApi {
    pub repo: Repository,
}

#[derive(ApiResponse)]
pub enum CreateAccountResponse {
    /// Account registered.
    #[oai(status = 201, content_type = "application/json")]
    Created(
        Json<ExternalAccount>,
        /// The new account's URL.
        #[oai(header = "Location")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum AccountResponse {
    /// The account (without its number).
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<ExternalAccount>),
}

#[derive(ApiResponse)]
pub enum AccountPageResponse {
    /// One page of accounts.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<ExternalAccountPage>),
}

#[derive(ApiResponse)]
pub enum DeleteAccountResponse {
    /// Account deleted, its number with it.
    #[oai(status = 204)]
    Deleted,
}

#[derive(ApiResponse)]
pub enum RevealResponse {
    /// The account's scheme and full number.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<ExternalAccountIdentification>),
}

const ID_NOT_A_UUID: &str = "`customer_id` or `account_id` is not a UUID, or `org_id` breaks its \
                             format (`invalid_parameter`). `details` names the parameter.";

fn account_id_not_a_uuid() -> Error {
    Error::invalid_parameter(
        "account_id",
        "failed to parse \"string_uuid\": invalid character: found `x` at 0",
    )
}

const READ_FORBIDDEN: Documented = forbidden_without!("accounts:read");

const WRITE_FORBIDDEN: Documented = forbidden_without!("accounts:write");

const REVEAL_FORBIDDEN: Documented = forbidden(
    "The token does not grant this organization, or lacks the privileged scope \
     `accounts:reveal` (`forbidden`), which the `token` command grants only when asked for by \
     name.",
)
.example(|| Error::Forbidden("the token lacks the scope \"accounts:reveal\"".into()));

const ACCOUNT_NOT_FOUND: Documented = not_found(
    "The customer does not exist in this organization, or has no account with this id \
     (`not_found`).",
);

/// The errors each operation below answers, in words about it (see [`super::errors`]).
pub const ERRORS: &[OperationErrors] = &[
    OperationErrors {
        operation_id: "createExternalAccount",
        errors: &[
            bad_request(
                "The body breaks a rule (`invalid_request_body`): not JSON, not an object, not \
                 `application/json`, an unknown field, a required field missing, a value of the \
                 wrong type or outside its set, `identification` not valid for its `scheme` or a \
                 full card number for a `card`, `currency` not 3 upper-case letters; or a path \
                 parameter breaks its format (`invalid_parameter`). `details` names each \
                 offending field, never its value.",
            )
            .example(|| {
                Error::invalid_field(
                    "identification",
                    "is not an IBAN: its check digits do not match (ISO 13616 mod 97)",
                )
            }),
            UNAUTHORIZED,
            WRITE_FORBIDDEN,
            not_found("The customer does not exist in this organization (`not_found`)."),
            conflict(
                "The organization already has an account with this `external_id`, for this \
                 customer or another (`conflict`, `details[0].field` is `external_id`). After a \
                 `503` or `504`, it means the first attempt registered it.",
            ),
            PAYLOAD_TOO_LARGE,
            INTERNAL,
            unavailable(
                "The database cannot be reached just now (`service_unavailable`); retry after \
                 `Retry-After` seconds. If the connection broke mid-statement the account may \
                 have been registered: the retry then answers `409`.",
            ),
            timeout(
                "The database did not answer within the statement timeout \
                 (`repository_timeout`); the account may have been registered: a retry answers \
                 `409` if it was.",
            ),
        ],
    },
    OperationErrors {
        operation_id: "listExternalAccounts",
        errors: &[
            bad_request(
                "A parameter breaks its format (`invalid_parameter`): `limit` not an integer \
                 from 1 to 200, `cursor` not a cursor this server issued, `customer_id` not a \
                 UUID, or `org_id`. `details` names the parameter.",
            )
            .example(|| decode_id("not-a-cursor").unwrap_err()),
            UNAUTHORIZED,
            READ_FORBIDDEN,
            not_found("The customer does not exist in this organization (`not_found`)."),
            INTERNAL,
            READ_UNAVAILABLE,
            READ_TIMEOUT,
        ],
    },
    OperationErrors {
        operation_id: "getExternalAccount",
        errors: &[
            bad_request(ID_NOT_A_UUID).example(account_id_not_a_uuid),
            UNAUTHORIZED,
            READ_FORBIDDEN,
            ACCOUNT_NOT_FOUND,
            INTERNAL,
            READ_UNAVAILABLE,
            READ_TIMEOUT,
        ],
    },
    OperationErrors {
        operation_id: "updateExternalAccount",
        errors: &[
            bad_request(
                "The body breaks a rule (`invalid_request_body`): not JSON, not an object, an \
                 unknown field, `scheme`, `identification` or `currency` present (they never \
                 change), `nickname` not null or 1-64 characters, `status` not one of its \
                 values; or a path parameter breaks its format (`invalid_parameter`). `details` \
                 names each offending field.",
            )
            .example(|| {
                Error::invalid_field(
                    "currency",
                    "cannot change: delete the account and register it again",
                )
            }),
            UNAUTHORIZED,
            WRITE_FORBIDDEN,
            ACCOUNT_NOT_FOUND,
            conflict(
                "The account is `closed`, which is final, and the patch changes `status` \
                 (`conflict`, `details[0].field` is `status`).",
            )
            .example(|| Error::Conflict {
                field: "status".to_owned(),
                message: "is closed, which is final: delete the account instead".to_owned(),
            }),
            PAYLOAD_TOO_LARGE,
            INTERNAL,
            unavailable(
                "The database cannot be reached just now (`service_unavailable`); retry after \
                 `Retry-After` seconds. A merge patch can be retried as is.",
            ),
            timeout(
                "The database did not answer within the statement timeout \
                 (`repository_timeout`); a merge patch can be retried as is.",
            ),
        ],
    },
    OperationErrors {
        operation_id: "deleteExternalAccount",
        errors: &[
            bad_request(ID_NOT_A_UUID).example(account_id_not_a_uuid),
            UNAUTHORIZED,
            WRITE_FORBIDDEN,
            not_found(
                "The customer does not exist in this organization, or has no account with this \
                 id (`not_found`). After a `503` or `504`, it means the first attempt deleted it.",
            ),
            INTERNAL,
            unavailable(
                "The database cannot be reached just now (`service_unavailable`); retry after \
                 `Retry-After` seconds. If the connection broke mid-statement the account may \
                 have been deleted: the retry then answers `404`.",
            ),
            timeout(
                "The database did not answer within the statement timeout \
                 (`repository_timeout`); the account may have been deleted: a retry answers \
                 `404` if it was.",
            ),
        ],
    },
    OperationErrors {
        operation_id: "lookupExternalAccounts",
        errors: &[
            bad_request(
                "A parameter breaks its format (`invalid_parameter`): `external_id` missing, \
                 empty or over 128 characters, `limit` not an integer from 1 to 200, `cursor` \
                 not a cursor this server issued, or `org_id`. `details` names the parameter.",
            )
            .example(|| Error::invalid_parameter("external_id", "is required")),
            UNAUTHORIZED,
            READ_FORBIDDEN,
            INTERNAL,
            READ_UNAVAILABLE,
            READ_TIMEOUT,
        ],
    },
    OperationErrors {
        operation_id: "revealExternalAccountIdentification",
        errors: &[
            bad_request(ID_NOT_A_UUID).example(account_id_not_a_uuid),
            UNAUTHORIZED,
            REVEAL_FORBIDDEN,
            ACCOUNT_NOT_FOUND,
            INTERNAL,
            READ_UNAVAILABLE,
            READ_TIMEOUT,
        ],
    },
];

fn page(page: AccountPage) -> ExternalAccountPage {
    ExternalAccountPage {
        items: page.items.into_iter().map(ExternalAccount::from).collect(),
        next_cursor: Nullable(page.next.map(encode_id)),
    }
}

#[OpenApi(tag = "ApiTags::ExternalAccounts")]
impl AccountsApi {
    /// Register an account
    ///
    /// Registers an account of the customer, by the organization's own `external_id`, and
    /// answers it with its `Location`. Requires scope `accounts:write` and access to the
    /// organization. `identification` (the account number) is checked for its `scheme`, stored,
    /// and never answered again except by the privileged reveal: the answer carries
    /// `identification_masked`. New accounts are `active`. `409 conflict` when the organization
    /// already has an account with this `external_id`. Unknown fields are refused. The log
    /// line of the registration names the actor, the organization and the ids, nothing from
    /// the body.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id/accounts",
        method = "post",
        operation_id = "createExternalAccount"
    )]
    async fn create_account(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
        /// The account to register.
        body: Json<Unvalidated<NewExternalAccount>>,
    ) -> ApiResult<CreateAccountResponse> {
        let new = account::NewAccount::parse(body.0.0)?;
        let org = &org_id.0.0;
        auth.0.authorize(org, Scope::AccountsWrite)?;
        let created = self.repo.create_account(org, customer_id.0, new).await?;
        tracing::info!(actor = actor(&auth), org = %org, customer = %customer_id.0, account = %created.id, "account registered");
        let location = format!(
            "/v1/organizations/{org}/customers/{}/accounts/{}",
            customer_id.0, created.id
        );
        Ok(CreateAccountResponse::Created(
            Json(created.into()),
            location,
        ))
    }

    /// List a customer's accounts
    ///
    /// The customer's accounts in registration order, `limit` at a time, without their
    /// numbers. Pass a page's `next_cursor` as `cursor` to get the next one; it is null on the
    /// last page. A cursor this server did not issue is `400 invalid_parameter`. Requires scope
    /// `accounts:read` and access to the organization. `404` when the customer does not exist
    /// in this organization.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id/accounts",
        method = "get",
        operation_id = "listExternalAccounts"
    )]
    async fn list_accounts(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
        /// Page size.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u32>,
        /// Opaque position from a previous page's `next_cursor`.
        #[oai(validator(pattern = "^[A-Za-z0-9_-]{22}$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<AccountPageResponse> {
        let after = cursor.0.as_deref().map(decode_id).transpose()?;
        auth.0.authorize(&org_id.0.0, Scope::AccountsRead)?;
        let query = ListQuery {
            limit: u64::from(limit.0),
            after,
        };
        let found = self
            .repo
            .list_accounts(&org_id.0.0, customer_id.0, query)
            .await?;
        Ok(AccountPageResponse::Ok(Json(page(found))))
    }

    /// Find accounts by external id
    ///
    /// The organization's accounts whose `external_id` is exactly the one given, whichever
    /// customer holds them (at most one: `external_id` is unique in the organization), as a
    /// page like every list. `external_id` is required (`400 invalid_parameter` without it).
    /// Requires scope `accounts:read` and access to the organization. An `external_id` nobody
    /// registered answers an empty page, not `404`.
    #[oai(
        path = "/v1/organizations/:org_id/accounts",
        method = "get",
        operation_id = "lookupExternalAccounts"
    )]
    async fn lookup_accounts(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// The account's `external_id`, matched exactly.
        #[oai(validator(min_length = 1, max_length = 128))]
        external_id: Query<String>,
        /// Page size.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u32>,
        /// Opaque position from a previous page's `next_cursor`.
        #[oai(validator(pattern = "^[A-Za-z0-9_-]{22}$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<AccountPageResponse> {
        let after = cursor.0.as_deref().map(decode_id).transpose()?;
        auth.0.authorize(&org_id.0.0, Scope::AccountsRead)?;
        let query = ListQuery {
            limit: u64::from(limit.0),
            after,
        };
        let found = self
            .repo
            .find_accounts_by_external_id(&org_id.0.0, &external_id.0, query)
            .await?;
        Ok(AccountPageResponse::Ok(Json(page(found))))
    }

    /// Get an account
    ///
    /// The account, without its number (`identification_masked` shows its last 4
    /// characters). Requires scope `accounts:read` and access to the organization. `404` when
    /// the customer does not exist in this organization or has no such account.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id/accounts/:account_id",
        method = "get",
        operation_id = "getExternalAccount"
    )]
    async fn get_account(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
        /// Account identifier.
        account_id: Path<Uuid>,
    ) -> ApiResult<AccountResponse> {
        auth.0.authorize(&org_id.0.0, Scope::AccountsRead)?;
        let found = self
            .repo
            .get_account(&org_id.0.0, customer_id.0, account_id.0)
            .await?;
        Ok(AccountResponse::Ok(Json(found.into())))
    }

    /// Update an account
    ///
    /// A JSON merge patch (RFC 7396) of `nickname` and `status`, sent as
    /// `application/merge-patch+json` or `application/json`: an absent field is left as it
    /// is, `nickname: null` clears it. `scheme`, `identification` and `currency` never change
    /// (`400` naming the field: delete the account and register it again). `closed` is final:
    /// a patch that changes the status of a closed account is `409 conflict` with
    /// `details[0].field` = `status`; one that keeps it `closed` is fine, and the nickname of a
    /// closed account may still change. A patch that changes nothing answers the account as it
    /// is, `updated_at` unchanged. Requires scope `accounts:write` and access to the
    /// organization. `404` when the customer does not exist in this organization or has no
    /// such account.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id/accounts/:account_id",
        method = "patch",
        operation_id = "updateExternalAccount"
    )]
    async fn update_account(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
        /// Account identifier.
        account_id: Path<Uuid>,
        /// The changes.
        body: Json<Unvalidated<ExternalAccountPatch>>,
    ) -> ApiResult<AccountResponse> {
        let patch = AccountPatch::parse(body.0.0)?;
        let org = &org_id.0.0;
        auth.0.authorize(org, Scope::AccountsWrite)?;
        let updated = self
            .repo
            .patch_account(org, customer_id.0, account_id.0, patch)
            .await?;
        tracing::info!(actor = actor(&auth), org = %org, customer = %customer_id.0, account = %account_id.0, "account updated");
        Ok(AccountResponse::Ok(Json(updated.into())))
    }

    /// Delete an account
    ///
    /// Deletes the account and its stored number. Requires scope `accounts:write` and access
    /// to the organization. `404` when the customer does not exist in this organization or has
    /// no such account.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id/accounts/:account_id",
        method = "delete",
        operation_id = "deleteExternalAccount"
    )]
    async fn delete_account(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
        /// Account identifier.
        account_id: Path<Uuid>,
    ) -> ApiResult<DeleteAccountResponse> {
        let org = &org_id.0.0;
        auth.0.authorize(org, Scope::AccountsWrite)?;
        self.repo
            .delete_account(org, customer_id.0, account_id.0)
            .await?;
        tracing::info!(actor = actor(&auth), org = %org, customer = %customer_id.0, account = %account_id.0, "account deleted");
        Ok(DeleteAccountResponse::Deleted)
    }

    /// Reveal an account's number
    ///
    /// The account's scheme and full number (`identification`), the only answer that carries
    /// it. Requires scope `accounts:reveal`, a privileged scope that the `token` command
    /// grants only when asked for by name (`accounts:read` is not enough), and access to the
    /// organization. Each reveal is logged with the actor, the organization, the customer and
    /// the account id, never the number. `404` when the customer does not exist in this
    /// organization or has no such account. Do not cache the answer.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id/accounts/:account_id/identification",
        method = "get",
        operation_id = "revealExternalAccountIdentification"
    )]
    async fn reveal_identification(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
        /// Account identifier.
        account_id: Path<Uuid>,
    ) -> ApiResult<RevealResponse> {
        let org = &org_id.0.0;
        auth.0.authorize(org, Scope::AccountsReveal)?;
        let revealed = self
            .repo
            .reveal_account_identification(org, customer_id.0, account_id.0)
            .await?;
        tracing::info!(actor = actor(&auth), org = %org, customer = %customer_id.0, account = %account_id.0, "account identification revealed");
        Ok(RevealResponse::Ok(Json(ExternalAccountIdentification {
            scheme: revealed.scheme,
            identification: revealed.identification.into_exposed(),
        })))
    }
}
