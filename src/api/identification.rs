//! Customer identification processes (the original document's "Customer identification
//! processes" section): KYC runs of a customer, each transition of the state machine its own
//! operation. The rules that are not CRUD are the service's ([`crate::service::identification`]).

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
        UNAUTHORIZED, bad_request, conflict, customer_id_not_a_uuid, forbidden, not_found, timeout,
        unavailable,
    },
    types::{
        IdentificationProcess, IdentificationProcessPage, IdentificationRejection,
        IdentificationStatus, NewIdentificationProcess, Nullable, OrgId, Unvalidated,
    },
};
use crate::{
    auth::{BearerAuth, Scope},
    domain::identification::{NewProcess, Refused, Rejection, Status, Transition},
    error::Error,
    service::identification::{Identification, four_eyes},
};

pub struct IdentificationApi {
    pub kyc: Identification,
}

#[derive(ApiResponse)]
pub enum CreateIdentificationProcessResponse {
    /// Process created (`created`).
    #[oai(status = 201, content_type = "application/json")]
    Created(
        Json<IdentificationProcess>,
        /// The process's URL.
        #[oai(header = "Location")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum ListIdentificationProcessesResponse {
    /// One page of the customer's processes, newest first.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<IdentificationProcessPage>),
}

#[derive(ApiResponse)]
pub enum GetIdentificationProcessResponse {
    /// The process, with its status as of now.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<IdentificationProcess>),
}

#[derive(ApiResponse)]
pub enum TransitionResponse {
    /// The transition is applied: the process in its new status.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<IdentificationProcess>),
}

fn refused_example() -> Error {
    Refused {
        current: Status::Approved,
        transition: Transition::Cancel,
    }
    .error()
}

const PATH_400: &str = "`customer_id` or `process_id` is not a UUID, or `org_id` breaks its \
                        format (`invalid_parameter`). `details` names the parameter.";
const NOT_FOUND: &str = "The customer does not exist in this organization, or the process is \
                         not one of its processes (`not_found`).";
const WRITE_UNAVAILABLE: Documented = unavailable(
    "The database cannot be reached just now (`service_unavailable`); retry after \
     `Retry-After` seconds. If the first attempt landed, the retry answers `409`.",
);
const WRITE_TIMEOUT: Documented = timeout(
    "The database did not answer within the statement timeout (`repository_timeout`); the \
     transition may have been applied: a retry answers `409` naming the new status if it was.",
);

/// The errors of a transition without a body that needs `scope`.
macro_rules! transition_errors {
    ($id:literal, $scope:literal, $conflict:literal) => {
        OperationErrors {
            operation_id: $id,
            errors: &[
                bad_request(PATH_400).example(customer_id_not_a_uuid),
                UNAUTHORIZED,
                forbidden_without!($scope),
                not_found(NOT_FOUND),
                conflict($conflict).example(refused_example),
                INTERNAL,
                WRITE_UNAVAILABLE,
                WRITE_TIMEOUT,
            ],
        }
    };
}

/// The errors each operation below answers, in words about it (see [`super::errors`]).
pub const ERRORS: &[OperationErrors] = &[
    OperationErrors {
        operation_id: "createIdentificationProcess",
        errors: &[
            bad_request(
                "The body breaks a rule (`invalid_request_body`): not JSON, not an object, not \
                 `application/json`, an unknown field, `method` missing or not one of the \
                 methods, `provider` or `provider_reference` not a string or null, empty, too \
                 long, with control characters or white space at either end, `expires_in_s` \
                 not an integer from 1 to 2592000; or `customer_id` is not a UUID or `org_id` \
                 breaks its format (`invalid_parameter`). `details` names each offending field.",
            )
            .example(|| {
                Error::invalid_field(
                    "method",
                    "must be one of document, video, bank, in_person, manual",
                )
            }),
            UNAUTHORIZED,
            forbidden_without!("identification:write"),
            not_found("Customer not found in this organization (`not_found`)."),
            conflict(
                "Another process of the customer is unfinished (`created`, `pending` or \
                 `in_review`) (`conflict`, `details[0].field` is `status`): finish or cancel it \
                 first. Nothing was created.",
            )
            .example(|| Error::Conflict {
                field: "status".to_owned(),
                message: "of another identification process of this customer is pending: \
                          finish or cancel it first"
                    .to_owned(),
            }),
            PAYLOAD_TOO_LARGE,
            INTERNAL,
            unavailable(
                "The database cannot be reached just now (`service_unavailable`); retry after \
                 `Retry-After` seconds. If the first attempt landed, the retry answers `409`.",
            ),
            timeout(
                "The database did not answer within the statement timeout \
                 (`repository_timeout`); the process may have been created: a retry answers \
                 `409` if it was (list the customer's processes to find it).",
            ),
        ],
    },
    OperationErrors {
        operation_id: "listIdentificationProcesses",
        errors: &[
            bad_request(
                "A parameter breaks its format (`invalid_parameter`): `status` not one of the \
                 statuses, `limit` not an integer from 1 to 200, `cursor` not a cursor this \
                 server issued, `customer_id` not a UUID, or `org_id`. `details` names the \
                 parameter.",
            )
            .example(|| decode_id("not-a-cursor").unwrap_err()),
            UNAUTHORIZED,
            forbidden_without!("identification:read"),
            not_found("Customer not found in this organization (`not_found`)."),
            INTERNAL,
            READ_UNAVAILABLE,
            READ_TIMEOUT,
        ],
    },
    OperationErrors {
        operation_id: "getIdentificationProcess",
        errors: &[
            bad_request(PATH_400).example(customer_id_not_a_uuid),
            UNAUTHORIZED,
            forbidden_without!("identification:read"),
            not_found(NOT_FOUND),
            INTERNAL,
            READ_UNAVAILABLE,
            READ_TIMEOUT,
        ],
    },
    transition_errors!(
        "submitIdentificationProcess",
        "identification:write",
        "The process is not `created` (`conflict`, `details[0].field` is `status`, the \
         message names the current status; an expired process is `expired`). Nothing changed."
    ),
    transition_errors!(
        "cancelIdentificationProcess",
        "identification:write",
        "The process is neither `created` nor `pending` (`conflict`, `details[0].field` is \
         `status`, the message names the current status). Nothing changed."
    ),
    transition_errors!(
        "startIdentificationReview",
        "identification:review",
        "The process is not `pending` (`conflict`, `details[0].field` is `status`, the message \
         names the current status). Nothing changed."
    ),
    OperationErrors {
        operation_id: "approveIdentificationProcess",
        errors: &[
            bad_request(PATH_400).example(customer_id_not_a_uuid),
            UNAUTHORIZED,
            forbidden(
                "The token does not grant this organization, lacks the scope \
                 `identification:review`, or its `sub` created the process (four eyes) \
                 (`forbidden`).",
            )
            .example(|| four_eyes(Transition::Approve)),
            not_found(NOT_FOUND),
            conflict(
                "The process is neither `pending` nor `in_review` (`conflict`, \
                 `details[0].field` is `status`, the message names the current status): of \
                 racing decisions, one gets `200` and the others this. Nothing changed.",
            )
            .example(refused_example),
            INTERNAL,
            WRITE_UNAVAILABLE,
            WRITE_TIMEOUT,
        ],
    },
    OperationErrors {
        operation_id: "rejectIdentificationProcess",
        errors: &[
            bad_request(
                "The body breaks a rule (`invalid_request_body`): not JSON, not an object, not \
                 `application/json`, an unknown field, `reason` missing or not matching \
                 `^[a-z0-9_]{1,64}$`; or `customer_id` or `process_id` is not a UUID or \
                 `org_id` breaks its format (`invalid_parameter`). `details` names each \
                 offending field.",
            )
            .example(|| Error::invalid_field("reason", "must match ^[a-z0-9_]{1,64}$")),
            UNAUTHORIZED,
            forbidden(
                "The token does not grant this organization, lacks the scope \
                 `identification:review`, or its `sub` created the process (four eyes) \
                 (`forbidden`).",
            )
            .example(|| four_eyes(Transition::Reject)),
            not_found(NOT_FOUND),
            conflict(
                "The process is neither `pending` nor `in_review` (`conflict`, \
                 `details[0].field` is `status`, the message names the current status): of \
                 racing decisions, one gets `200` and the others this. Nothing changed.",
            )
            .example(refused_example),
            PAYLOAD_TOO_LARGE,
            INTERNAL,
            WRITE_UNAVAILABLE,
            WRITE_TIMEOUT,
        ],
    },
];

impl IdentificationApi {
    /// One transition: authorize, apply, log (ids and the transition only), answer.
    #[allow(clippy::too_many_arguments)]
    async fn transition(
        &self,
        auth: &BearerAuth,
        org: &str,
        customer_id: Uuid,
        process_id: Uuid,
        transition: Transition,
        scope: Scope,
        reason: Option<String>,
    ) -> ApiResult<TransitionResponse> {
        auth.0.authorize(org, scope)?;
        let process = self
            .kyc
            .transition(
                org,
                customer_id,
                process_id,
                transition,
                actor(auth),
                reason,
            )
            .await?;
        tracing::info!(
            actor = actor(auth),
            org = %org,
            customer = %customer_id,
            process = %process_id,
            transition = transition.verb(),
            "identification process transition applied"
        );
        Ok(TransitionResponse::Ok(Json(process.into())))
    }
}

#[OpenApi(tag = "ApiTags::CustomerIdentificationProcesses")]
impl IdentificationApi {
    /// Start an identification process
    ///
    /// Starts an identity-verification run for the customer, in status `created`, created by
    /// the token's `sub`; it expires `expires_in_s` seconds from now (a day by default) unless
    /// submitted and reviewed first. `409 conflict` (`details[0].field` = `status`) while
    /// another process of the customer is unfinished (`created`, `pending`, `in_review`): a
    /// retry is a new process once the last one is finished. Requires scope
    /// `identification:write` and access to the organization. `404` when the customer does not
    /// exist in this organization. Unknown fields are refused.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id/identification-processes",
        method = "post",
        operation_id = "createIdentificationProcess"
    )]
    async fn create_identification_process(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
        /// The process to start.
        body: Json<Unvalidated<NewIdentificationProcess>>,
    ) -> ApiResult<CreateIdentificationProcessResponse> {
        let new = NewProcess::parse(body.0.0)?;
        let org = &org_id.0.0;
        auth.0.authorize(org, Scope::IdentificationWrite)?;
        let created = self
            .kyc
            .create(org, customer_id.0, new, actor(&auth))
            .await?;
        tracing::info!(actor = actor(&auth), org = %org, customer = %customer_id.0, process = %created.id, "identification process created");
        let location = format!(
            "/v1/organizations/{org}/customers/{}/identification-processes/{}",
            customer_id.0, created.id
        );
        Ok(CreateIdentificationProcessResponse::Created(
            Json(created.into()),
            location,
        ))
    }

    /// List a customer's identification processes
    ///
    /// The customer's processes, newest first, `limit` at a time; `status` keeps those with
    /// that status now (`expired` includes `created` and `pending` processes past their
    /// `expires_at`). Pass a page's `next_cursor` as `cursor` to get the next one; it is null
    /// on the last page. A cursor this server did not issue is `400 invalid_parameter`.
    /// Requires scope `identification:read` and access to the organization. `404` when the
    /// customer does not exist in this organization.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id/identification-processes",
        method = "get",
        operation_id = "listIdentificationProcesses"
    )]
    async fn list_identification_processes(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
        /// Only processes with this status now.
        status: Query<Option<IdentificationStatus>>,
        /// Page size.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u32>,
        /// Opaque position from a previous page's `next_cursor`.
        #[oai(validator(pattern = "^[A-Za-z0-9_-]{22}$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<ListIdentificationProcessesResponse> {
        let before = cursor.0.as_deref().map(decode_id).transpose()?;
        auth.0.authorize(&org_id.0.0, Scope::IdentificationRead)?;
        let page = self
            .kyc
            .list(
                &org_id.0.0,
                customer_id.0,
                u64::from(limit.0),
                before,
                status.0.map(Status::from),
            )
            .await?;
        Ok(ListIdentificationProcessesResponse::Ok(Json(
            IdentificationProcessPage {
                items: page.items.into_iter().map(Into::into).collect(),
                next_cursor: Nullable(page.next.map(encode_id)),
            },
        )))
    }

    /// Get an identification process
    ///
    /// The process with its status now (a `created` or `pending` process past `expires_at`
    /// reads as `expired`). Requires scope `identification:read` and access to the
    /// organization. `404` when the customer does not exist in this organization or the
    /// process is not one of its processes.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id/identification-processes/:process_id",
        method = "get",
        operation_id = "getIdentificationProcess"
    )]
    async fn get_identification_process(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
        /// Identification process identifier.
        process_id: Path<Uuid>,
    ) -> ApiResult<GetIdentificationProcessResponse> {
        auth.0.authorize(&org_id.0.0, Scope::IdentificationRead)?;
        let process = self
            .kyc
            .get(&org_id.0.0, customer_id.0, process_id.0)
            .await?;
        Ok(GetIdentificationProcessResponse::Ok(Json(process.into())))
    }

    /// Submit an identification process
    ///
    /// `created` → `pending`: the customer's data went to the provider. Any other status is
    /// `409` (`details[0].field` = `status`). Requires scope `identification:write` and access
    /// to the organization.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id/identification-processes/:process_id/submit",
        method = "post",
        operation_id = "submitIdentificationProcess"
    )]
    async fn submit_identification_process(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
        /// Identification process identifier.
        process_id: Path<Uuid>,
    ) -> ApiResult<TransitionResponse> {
        self.transition(
            &auth,
            &org_id.0.0,
            customer_id.0,
            process_id.0,
            Transition::Submit,
            Scope::IdentificationWrite,
            None,
        )
        .await
    }

    /// Cancel an identification process
    ///
    /// `created` or `pending` → `cancelled` (final). Any other status is `409`
    /// (`details[0].field` = `status`). Requires scope `identification:write` and access to
    /// the organization.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id/identification-processes/:process_id/cancel",
        method = "post",
        operation_id = "cancelIdentificationProcess"
    )]
    async fn cancel_identification_process(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
        /// Identification process identifier.
        process_id: Path<Uuid>,
    ) -> ApiResult<TransitionResponse> {
        self.transition(
            &auth,
            &org_id.0.0,
            customer_id.0,
            process_id.0,
            Transition::Cancel,
            Scope::IdentificationWrite,
            None,
        )
        .await
    }

    /// Start the review of an identification process
    ///
    /// `pending` → `in_review`: a reviewer takes it; from then on it no longer expires. Any
    /// other status is `409` (`details[0].field` = `status`). The creator may start the review.
    /// Requires scope `identification:review` and access to the organization.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id/identification-processes/:process_id/start-review",
        method = "post",
        operation_id = "startIdentificationReview"
    )]
    async fn start_identification_review(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
        /// Identification process identifier.
        process_id: Path<Uuid>,
    ) -> ApiResult<TransitionResponse> {
        self.transition(
            &auth,
            &org_id.0.0,
            customer_id.0,
            process_id.0,
            Transition::StartReview,
            Scope::IdentificationReview,
            None,
        )
        .await
    }

    /// Approve an identification process
    ///
    /// `pending` or `in_review` → `approved` (final), with `decided_at` and `decided_by` (the
    /// token's `sub`). Four eyes: the `sub` that created the process gets `403`, decided before
    /// the status. Any other status is `409` (`details[0].field` = `status`); of racing
    /// decisions exactly one succeeds. Requires scope `identification:review` and access to
    /// the organization.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id/identification-processes/:process_id/approve",
        method = "post",
        operation_id = "approveIdentificationProcess"
    )]
    async fn approve_identification_process(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
        /// Identification process identifier.
        process_id: Path<Uuid>,
    ) -> ApiResult<TransitionResponse> {
        self.transition(
            &auth,
            &org_id.0.0,
            customer_id.0,
            process_id.0,
            Transition::Approve,
            Scope::IdentificationReview,
            None,
        )
        .await
    }

    /// Reject an identification process
    ///
    /// `pending` or `in_review` → `rejected` (final), with `status_reason` (the body's
    /// `reason`, a machine code), `decided_at` and `decided_by` (the token's `sub`). Four eyes:
    /// the `sub` that created the process gets `403`, decided before the status. Any other
    /// status is `409` (`details[0].field` = `status`); of racing decisions exactly one
    /// succeeds. Requires scope `identification:review` and access to the organization.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id/identification-processes/:process_id/reject",
        method = "post",
        operation_id = "rejectIdentificationProcess"
    )]
    async fn reject_identification_process(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
        /// Identification process identifier.
        process_id: Path<Uuid>,
        /// Why it is rejected.
        body: Json<Unvalidated<IdentificationRejection>>,
    ) -> ApiResult<TransitionResponse> {
        let rejection = Rejection::parse(body.0.0)?;
        self.transition(
            &auth,
            &org_id.0.0,
            customer_id.0,
            process_id.0,
            Transition::Reject,
            Scope::IdentificationReview,
            Some(rejection.reason),
        )
        .await
    }
}
