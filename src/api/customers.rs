//! Customers (the seed's "Customers — External customers" section).

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
        INTERNAL, OperationErrors, PAYLOAD_TOO_LARGE, READ_TIMEOUT, READ_UNAVAILABLE, UNAUTHORIZED,
        bad_request, conflict, customer_id_not_a_uuid, not_found, timeout, unavailable,
    },
    types::{Customer, CustomerPage, NewCustomer, Nullable, OrgId, Unvalidated},
};
use crate::{
    auth::{BearerAuth, Scope},
    domain::customer::{self, ListQuery},
    error::Error,
    repo::Repository,
};

pub struct CustomersApi {
    pub repo: Repository,
}

#[derive(ApiResponse)]
pub enum CreateCustomerResponse {
    /// Customer registered.
    #[oai(status = 201, content_type = "application/json")]
    Created(
        Json<Customer>,
        /// The new customer's URL.
        #[oai(header = "Location")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum GetCustomerResponse {
    /// The customer.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<Customer>),
}

#[derive(ApiResponse)]
pub enum ListCustomersResponse {
    /// One page of customers.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<CustomerPage>),
}

#[derive(ApiResponse)]
pub enum DeleteCustomerResponse {
    /// Customer deleted, with its special treatment, its category memberships and its external
    /// accounts. Its finished identification processes are kept (retention), unreachable
    /// through the API.
    #[oai(status = 204)]
    Deleted,
}

/// The errors each operation below answers, in words about it (see [`super::errors`]).
pub const ERRORS: &[OperationErrors] = &[
    OperationErrors {
        operation_id: "createCustomer",
        errors: &[
            bad_request(
                "The body breaks a rule (`invalid_request_body`): not JSON, not an object, not \
                 `application/json`, an unknown field, `external_id` missing, not a string, \
                 empty, over 128 characters or with control characters, `display_name` not a \
                 string or over 200 characters; or `org_id` breaks its format \
                 (`invalid_parameter`). `details` names each offending field.",
            )
            .example(|| Error::invalid_field("external_id", "must be at most 128 characters")),
            UNAUTHORIZED,
            forbidden_without!("customers:write"),
            conflict(
                "The organization already has a customer with this `external_id` (`conflict`). \
                 After a `503` or `504`, it means the first attempt registered it.",
            ),
            PAYLOAD_TOO_LARGE,
            INTERNAL,
            unavailable(
                "The database cannot be reached just now (`service_unavailable`); retry after \
                 `Retry-After` seconds. If the connection broke mid-statement the customer may \
                 have been registered: the retry then answers `409`.",
            ),
            timeout(
                "The database did not answer within the statement timeout \
                 (`repository_timeout`); the customer may have been registered: a retry \
                 answers `409` if it was.",
            ),
        ],
    },
    OperationErrors {
        operation_id: "listCustomers",
        errors: &[
            bad_request(
                "A parameter breaks its format (`invalid_parameter`): `limit` not an integer \
                 from 1 to 200, `cursor` not a cursor this server issued, `external_id` empty \
                 or over 128 characters, or `org_id`. `details` names the parameter.",
            )
            .example(|| decode_id("not-a-cursor").unwrap_err()),
            UNAUTHORIZED,
            forbidden_without!("customers:read"),
            INTERNAL,
            READ_UNAVAILABLE,
            READ_TIMEOUT,
        ],
    },
    OperationErrors {
        operation_id: "getCustomer",
        errors: &[
            bad_request(
                "`customer_id` is not a UUID, or `org_id` breaks its format \
                 (`invalid_parameter`). `details` names the parameter.",
            )
            .example(customer_id_not_a_uuid),
            UNAUTHORIZED,
            forbidden_without!("customers:read"),
            not_found("Customer not found in this organization (`not_found`)."),
            INTERNAL,
            READ_UNAVAILABLE,
            READ_TIMEOUT,
        ],
    },
    OperationErrors {
        operation_id: "deleteCustomer",
        errors: &[
            bad_request(
                "`customer_id` is not a UUID, or `org_id` breaks its format \
                 (`invalid_parameter`). `details` names the parameter.",
            )
            .example(customer_id_not_a_uuid),
            UNAUTHORIZED,
            forbidden_without!("customers:write"),
            not_found(
                "Customer not found in this organization (`not_found`). After a `503` or \
                 `504`, it means the first attempt deleted it.",
            ),
            conflict(
                "One of the customer's identification processes is unfinished (`created`, \
                 `pending` or `in_review`) (`conflict`, `details[0].field` is `status`): \
                 finish or cancel it first. Nothing was deleted.",
            )
            .example(|| Error::Conflict {
                field: "status".to_owned(),
                message: "of one of the customer's identification processes is pending: it \
                          must be finished (approved, rejected, expired or cancelled) before \
                          the customer is deleted"
                    .to_owned(),
            }),
            INTERNAL,
            unavailable(
                "The database cannot be reached just now (`service_unavailable`); retry after \
                 `Retry-After` seconds. If the connection broke mid-statement the customer may \
                 have been deleted: the retry then answers `404`.",
            ),
            timeout(
                "The database did not answer within the statement timeout \
                 (`repository_timeout`); the customer may have been deleted: a retry answers \
                 `404` if it was.",
            ),
        ],
    },
];

#[OpenApi(tag = "ApiTags::Customers")]
impl CustomersApi {
    /// Register a customer
    ///
    /// Registers a customer in the organization and answers it with its `Location`. Requires
    /// scope `customers:write` and access to the organization. `409 conflict` when the
    /// organization already has a customer with this `external_id`. Unknown fields are refused.
    #[oai(
        path = "/v1/organizations/:org_id/customers",
        method = "post",
        operation_id = "createCustomer"
    )]
    async fn create_customer(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// The customer to register.
        body: Json<Unvalidated<NewCustomer>>,
    ) -> ApiResult<CreateCustomerResponse> {
        let new = customer::NewCustomer::parse(body.0.0)?;
        auth.0.authorize(&org_id.0.0, Scope::CustomersWrite)?;
        let created = self.repo.create_customer(&org_id.0.0, new).await?;
        tracing::info!(actor = actor(&auth), org = %org_id.0.0, customer = %created.id, "customer created");
        let location = format!("/v1/organizations/{}/customers/{}", org_id.0.0, created.id);
        Ok(CreateCustomerResponse::Created(
            Json(created.into()),
            location,
        ))
    }

    /// List customers
    ///
    /// The organization's customers in registration order, `limit` at a time. Pass a page's
    /// `next_cursor` as `cursor` to get the next one; it is null on the last page. A cursor this
    /// server did not issue is `400 invalid_parameter`. `external_id` filters exactly. Requires
    /// scope `customers:read` and access to the organization.
    #[oai(
        path = "/v1/organizations/:org_id/customers",
        method = "get",
        operation_id = "listCustomers"
    )]
    async fn list_customers(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Page size.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u32>,
        /// Opaque position from a previous page's `next_cursor`.
        #[oai(validator(pattern = "^[A-Za-z0-9_-]{22}$"))]
        cursor: Query<Option<String>>,
        /// Only the customer with exactly this `external_id`.
        #[oai(validator(min_length = 1, max_length = 128))]
        external_id: Query<Option<String>>,
    ) -> ApiResult<ListCustomersResponse> {
        let after = cursor.0.as_deref().map(decode_id).transpose()?;
        auth.0.authorize(&org_id.0.0, Scope::CustomersRead)?;
        let query = ListQuery {
            limit: u64::from(limit.0),
            after,
            external_id: external_id.0,
        };
        let page = self.repo.list_customers(&org_id.0.0, query).await?;
        Ok(ListCustomersResponse::Ok(Json(CustomerPage {
            items: page.items.into_iter().map(Customer::from).collect(),
            next_cursor: Nullable(page.next.map(encode_id)),
        })))
    }

    /// Get a customer
    ///
    /// Requires scope `customers:read` and access to the organization. `404` when the customer
    /// does not exist in this organization.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id",
        method = "get",
        operation_id = "getCustomer"
    )]
    async fn get_customer(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
    ) -> ApiResult<GetCustomerResponse> {
        auth.0.authorize(&org_id.0.0, Scope::CustomersRead)?;
        let found = self.repo.get_customer(&org_id.0.0, customer_id.0).await?;
        Ok(GetCustomerResponse::Ok(Json(found.into())))
    }

    /// Delete a customer
    ///
    /// Deletes the customer, its special treatment, its category memberships and its external
    /// accounts (numbers included). Its finished identification processes stay stored
    /// (anti-money-laundering retention), unreachable through the API; `409 conflict`
    /// (`details[0].field` = `status`) while one of them is unfinished (`created`, `pending`,
    /// `in_review`). Requires scope `customers:write` and access to the organization. `404`
    /// when the customer does not exist in this organization.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id",
        method = "delete",
        operation_id = "deleteCustomer"
    )]
    async fn delete_customer(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
    ) -> ApiResult<DeleteCustomerResponse> {
        auth.0.authorize(&org_id.0.0, Scope::CustomersWrite)?;
        self.repo
            .delete_customer(&org_id.0.0, customer_id.0)
            .await?;
        tracing::info!(actor = actor(&auth), org = %org_id.0.0, customer = %customer_id.0, "customer deleted");
        Ok(DeleteCustomerResponse::Deleted)
    }
}
