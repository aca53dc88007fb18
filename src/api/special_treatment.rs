//! Customer special treatment (the seed's "Customer Special Treatment" section).

use poem_openapi::{ApiResponse, OpenApi, param::Path, payload::Json};
use uuid::Uuid;

use super::{
    ApiResult, ApiTags, actor,
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
