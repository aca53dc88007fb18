//! Customer special treatment (the seed's "Customer Special Treatment" section).

use poem::http::StatusCode;
use poem_openapi::{ApiResponse, OpenApi, param::Path, payload::Json};
use uuid::Uuid;

use super::{
    ApiResult, ApiTags, actor,
    errors::forbidden_without,
    errors::{
        Documented, INTERNAL, OperationErrors, PAYLOAD_TOO_LARGE, READ_TIMEOUT, READ_UNAVAILABLE,
        UNAUTHORIZED, bad_request, customer_id_not_a_uuid, forbidden, not_found, timeout,
        unavailable,
    },
    types::{CustomerSpecialTreatment, OrgId, SerdeJson, Unvalidated},
};
use crate::{
    auth::{BearerAuth, Scope},
    domain::special_treatment::SpecialTreatment,
    repo::Repository,
};

pub struct SpecialTreatmentApi {
    pub repo: Repository,
}

#[derive(ApiResponse)]
pub enum GetSpecialTreatmentResponse {
    /// Special treatment assigned to the customer.
    #[oai(status = 200, content_type = "application/json")]
    Ok(SerdeJson<CustomerSpecialTreatment>),
}

#[derive(ApiResponse)]
pub enum SetSpecialTreatmentResponse {
    /// Customer special treatment set successfully.
    #[oai(status = 204)]
    Set,
}

/// The errors each operation below answers, in words about it (see [`super::errors`]). The
/// original API document's lists are the floor: GET 200, 400, 401, 403, 404, 409, 500, 503,
/// 504; PUT 204, 400, 401, 403, 404, 500, plus 413, 503 and 504 (the contract's additions).
pub const ERRORS: &[OperationErrors] = &[
    OperationErrors {
        operation_id: "getCustomerSpecialTreatment",
        errors: &[
            bad_request(
                "`customer_id` is not a UUID, or `org_id` breaks its format \
                 (`invalid_parameter`). `details` names the parameter.",
            )
            .example(customer_id_not_a_uuid),
            UNAUTHORIZED,
            forbidden_without!("special-treatment:read"),
            not_found("Customer not found in this organization (`not_found`)."),
            Documented::reserved(
                StatusCode::CONFLICT,
                "Not answered by this version: reading a special treatment conflicts with no \
                 rule. Listed because the original API document lists it for this operation; \
                 should a later version answer it, the body is an `ErrorResponse` with code \
                 `conflict`.",
            ),
            INTERNAL,
            READ_UNAVAILABLE,
            READ_TIMEOUT,
        ],
    },
    OperationErrors {
        operation_id: "setCustomerSpecialTreatment",
        errors: &[
            bad_request(
                "The body breaks a rule (`invalid_request_body`): not JSON, not an object, not \
                 `application/json`, a field other than `values`, `values` not a list of \
                 strings, more than 32 values, a value empty, over 64 characters, with white \
                 space at either end or control characters, or repeated; or `customer_id` is \
                 not a UUID or `org_id` breaks its format (`invalid_parameter`). `details` \
                 names each offending field (`values[i]`).",
            ),
            UNAUTHORIZED,
            forbidden(
                "The token does not grant this organization, or lacks the scope \
                 `special-treatment:write` (`forbidden`).",
            ),
            not_found("Customer not found in this organization (`not_found`); nothing was stored."),
            PAYLOAD_TOO_LARGE,
            INTERNAL,
            unavailable(
                "The database cannot be reached just now (`service_unavailable`); retry after \
                 `Retry-After` seconds. If the connection broke mid-statement the list may have \
                 been replaced: the PUT is idempotent, retry it as is.",
            ),
            timeout(
                "The database did not answer within the statement timeout \
                 (`repository_timeout`); the list may or may not have been replaced: the PUT \
                 is idempotent, retry it as is.",
            ),
        ],
    },
];

#[OpenApi(tag = "ApiTags::SpecialTreatment")]
impl SpecialTreatmentApi {
    /// Get a customer's special treatment
    ///
    /// Returns the values of the last successful PUT, in its order; a customer whose treatment
    /// was never set has `{"values": []}`. Requires scope `special-treatment:read` and access
    /// to the organization. `404` when the customer does not exist in this organization.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id/special-treatment",
        method = "get",
        operation_id = "getCustomerSpecialTreatment"
    )]
    async fn get_special_treatment(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
    ) -> ApiResult<GetSpecialTreatmentResponse> {
        auth.0.authorize(&org_id.0.0, Scope::SpecialTreatmentRead)?;
        let treatment = self
            .repo
            .get_special_treatment(&org_id.0.0, customer_id.0)
            .await?;
        Ok(GetSpecialTreatmentResponse::Ok(SerdeJson(
            CustomerSpecialTreatment {
                values: treatment.into_values(),
            },
        )))
    }

    /// Set a customer's special treatment
    ///
    /// Replaces the whole list with the body's `values` (absent or `null` clears it). The
    /// replace is atomic and idempotent: concurrent PUTs leave exactly one of their lists.
    /// Rules, each answered with `400 invalid_request_body` naming the field (`values[i]`): at
    /// most 32 values; each value 1-64 characters, no leading or trailing white space, no
    /// control characters; no value twice; no other field than `values`. Requires scope
    /// `special-treatment:write` and access to the organization. `404` when the customer does
    /// not exist in this organization.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id/special-treatment",
        method = "put",
        operation_id = "setCustomerSpecialTreatment"
    )]
    async fn set_special_treatment(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
        /// The complete new list of values.
        body: Json<Unvalidated<CustomerSpecialTreatment>>,
    ) -> ApiResult<SetSpecialTreatmentResponse> {
        let treatment = SpecialTreatment::parse(body.0.0)?;
        auth.0
            .authorize(&org_id.0.0, Scope::SpecialTreatmentWrite)?;
        let count = treatment.values().len();
        self.repo
            .replace_special_treatment(&org_id.0.0, customer_id.0, treatment)
            .await?;
        tracing::info!(
            actor = actor(&auth),
            org = %org_id.0.0,
            customer = %customer_id.0,
            values = count,
            "special treatment set"
        );
        Ok(SetSpecialTreatmentResponse::Set)
    }
}
