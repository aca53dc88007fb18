//! Categories (the original document's "Categories — Customers Categories" section): the
//! organization's catalogue, its members, and each customer's categories.

use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use uuid::Uuid;

use super::{
    ApiResult, ApiTags, actor,
    cursor::{decode_id, decode_key, default_limit, encode_id, encode_key},
    errors::forbidden_without,
    errors::{
        INTERNAL, OperationErrors, PAYLOAD_TOO_LARGE, READ_TIMEOUT, READ_UNAVAILABLE, UNAUTHORIZED,
        bad_request, conflict, customer_id_not_a_uuid, not_found, timeout, unavailable,
    },
    types::{
        Category, CategoryDefinition, CategoryKey, CategoryPage, Customer, CustomerCategories,
        CustomerPage, Nullable, OrgId, SerdeJson, Unvalidated,
    },
};
use crate::{
    auth::{BearerAuth, Scope},
    domain::category::{
        self, CategoryKeys, KeyPageQuery, MemberPageQuery, Saved, is_key, key_format_message,
    },
    error::Error,
    repo::{Repository, categories::HAS_MEMBERS},
};

pub struct CategoriesApi {
    pub repo: Repository,
}

#[derive(ApiResponse)]
pub enum PutCategoryResponse {
    /// Category created.
    #[oai(status = 201, content_type = "application/json")]
    Created(
        Json<Category>,
        /// The category's URL.
        #[oai(header = "Location")]
        String,
    ),
    /// Category replaced: its name and description are the body's; `created_at` is kept.
    #[oai(status = 200, content_type = "application/json")]
    Replaced(Json<Category>),
}

#[derive(ApiResponse)]
pub enum ListCategoriesResponse {
    /// One page of categories, in key order.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<CategoryPage>),
}

#[derive(ApiResponse)]
pub enum GetCategoryResponse {
    /// The category.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<Category>),
}

#[derive(ApiResponse)]
pub enum DeleteCategoryResponse {
    /// Category deleted.
    #[oai(status = 204)]
    Deleted,
}

#[derive(ApiResponse)]
pub enum ListCategoryCustomersResponse {
    /// One page of the category's members, in customer id (registration) order.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<CustomerPage>),
}

#[derive(ApiResponse)]
pub enum GetCustomerCategoriesResponse {
    /// The keys of the customer's categories, in key order.
    #[oai(status = 200, content_type = "application/json")]
    Ok(SerdeJson<CustomerCategories>),
}

#[derive(ApiResponse)]
pub enum SetCustomerCategoriesResponse {
    /// The customer's categories are now exactly the body's.
    #[oai(status = 204)]
    Replaced,
}

fn key_not_well_formed() -> Error {
    Error::invalid_parameter("key", &key_format_message())
}

/// The errors each operation below answers, in words about it (see [`super::errors`]).
pub const ERRORS: &[OperationErrors] = &[
    OperationErrors {
        operation_id: "putCategory",
        errors: &[
            bad_request(
                "The body breaks a rule (`invalid_request_body`): not JSON, not an object, not \
                 `application/json`, an unknown field (`key` included: the key is the path's), \
                 `name` missing, not a string, empty, over 100 characters, with control \
                 characters or white space at either end, `description` not a string or null, \
                 empty, over 500 characters, with white space at either end or control \
                 characters other than inner line breaks; or `key` or `org_id` breaks its \
                 format (`invalid_parameter`). `details` names each offending field.",
            )
            .example(|| Error::invalid_field("name", "must be at most 100 characters")),
            UNAUTHORIZED,
            forbidden_without!("categories:write"),
            PAYLOAD_TOO_LARGE,
            INTERNAL,
            unavailable(
                "The database cannot be reached just now (`service_unavailable`); retry after \
                 `Retry-After` seconds. The PUT can be retried as is: if the first attempt \
                 landed, the retry answers `200`.",
            ),
            timeout(
                "The database did not answer within the statement timeout \
                 (`repository_timeout`); the category may have been saved. The PUT can be \
                 retried as is.",
            ),
        ],
    },
    OperationErrors {
        operation_id: "listCategories",
        errors: &[
            bad_request(
                "A parameter breaks its format (`invalid_parameter`): `limit` not an integer \
                 from 1 to 200, `cursor` not a cursor this server issued, or `org_id`. \
                 `details` names the parameter.",
            )
            .example(|| decode_key("not-a-cursor", is_key).unwrap_err()),
            UNAUTHORIZED,
            forbidden_without!("categories:read"),
            INTERNAL,
            READ_UNAVAILABLE,
            READ_TIMEOUT,
        ],
    },
    OperationErrors {
        operation_id: "getCategory",
        errors: &[
            bad_request(
                "`key` or `org_id` breaks its format (`invalid_parameter`). `details` names the \
                 parameter.",
            )
            .example(key_not_well_formed),
            UNAUTHORIZED,
            forbidden_without!("categories:read"),
            not_found("No category with this key in this organization (`not_found`)."),
            INTERNAL,
            READ_UNAVAILABLE,
            READ_TIMEOUT,
        ],
    },
    OperationErrors {
        operation_id: "deleteCategory",
        errors: &[
            bad_request(
                "`key` or `org_id` breaks its format (`invalid_parameter`). `details` names the \
                 parameter.",
            )
            .example(key_not_well_formed),
            UNAUTHORIZED,
            forbidden_without!("categories:write"),
            not_found(
                "No category with this key in this organization (`not_found`). After a `503` \
                 or `504`, it means the first attempt deleted it.",
            ),
            conflict(
                "Customers still belong to the category (`conflict`, `details[0].field` is \
                 `key`): replace their categories first. Nothing was deleted.",
            )
            .example(|| HAS_MEMBERS.error()),
            INTERNAL,
            unavailable(
                "The database cannot be reached just now (`service_unavailable`); retry after \
                 `Retry-After` seconds. If the connection broke mid-statement the category may \
                 have been deleted: the retry then answers `404`.",
            ),
            timeout(
                "The database did not answer within the statement timeout \
                 (`repository_timeout`); the category may have been deleted: a retry answers \
                 `404` if it was.",
            ),
        ],
    },
    OperationErrors {
        operation_id: "listCategoryCustomers",
        errors: &[
            bad_request(
                "A parameter breaks its format (`invalid_parameter`): `key`, `limit` not an \
                 integer from 1 to 200, `cursor` not a cursor this server issued, or `org_id`. \
                 `details` names the parameter.",
            )
            .example(|| decode_id("not-a-cursor").unwrap_err()),
            UNAUTHORIZED,
            forbidden_without!("categories:read"),
            not_found("No category with this key in this organization (`not_found`)."),
            INTERNAL,
            READ_UNAVAILABLE,
            READ_TIMEOUT,
        ],
    },
    OperationErrors {
        operation_id: "getCustomerCategories",
        errors: &[
            bad_request(
                "`customer_id` is not a UUID, or `org_id` breaks its format \
                 (`invalid_parameter`). `details` names the parameter.",
            )
            .example(customer_id_not_a_uuid),
            UNAUTHORIZED,
            forbidden_without!("categories:read"),
            not_found("Customer not found in this organization (`not_found`)."),
            INTERNAL,
            READ_UNAVAILABLE,
            READ_TIMEOUT,
        ],
    },
    OperationErrors {
        operation_id: "setCustomerCategories",
        errors: &[
            bad_request(
                "The body breaks a rule (`invalid_request_body`): not JSON, not an object, not \
                 `application/json`, an unknown field, `keys` not an array or null, over 16 \
                 keys, a key repeated, not a string or not a well-formed key, or a key that is \
                 not a category of this organization (`details[].field` is `keys[i]`); or \
                 `customer_id` is not a UUID or `org_id` breaks its format \
                 (`invalid_parameter`). Nothing was changed.",
            )
            .example(|| CategoryKeys::unknown(&[1])),
            UNAUTHORIZED,
            forbidden_without!("categories:write"),
            not_found("Customer not found in this organization (`not_found`)."),
            PAYLOAD_TOO_LARGE,
            INTERNAL,
            unavailable(
                "The database cannot be reached just now (`service_unavailable`); retry after \
                 `Retry-After` seconds. The PUT can be retried as is.",
            ),
            timeout(
                "The database did not answer within the statement timeout \
                 (`repository_timeout`); the set may have been replaced. The PUT can be \
                 retried as is.",
            ),
        ],
    },
];

#[OpenApi(tag = "ApiTags::Categories")]
impl CategoriesApi {
    /// Create or replace a category
    ///
    /// Creates the category with this key (`201`, with its `Location`), or replaces its name
    /// and description (`200`; `created_at` is kept, `updated_at` is now). Idempotent: the
    /// same PUT twice leaves the same category. A description absent or null means none.
    /// Requires scope `categories:write` and access to the organization.
    #[oai(
        path = "/v1/organizations/:org_id/categories/:key",
        method = "put",
        operation_id = "putCategory"
    )]
    async fn put_category(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Category key.
        key: Path<CategoryKey>,
        /// The category's name and description.
        body: Json<Unvalidated<CategoryDefinition>>,
    ) -> ApiResult<PutCategoryResponse> {
        let definition = category::CategoryDefinition::parse(body.0.0)?;
        auth.0.authorize(&org_id.0.0, Scope::CategoriesWrite)?;
        let (org, key) = (&org_id.0.0, &key.0.0);
        let saved = self.repo.save_category(org, key, definition).await?;
        Ok(match saved {
            Saved::Created(created) => {
                tracing::info!(actor = actor(&auth), org = %org, category = %key, "category created");
                let location = format!("/v1/organizations/{org}/categories/{key}");
                PutCategoryResponse::Created(Json(created.into()), location)
            }
            Saved::Replaced(replaced) => {
                tracing::info!(actor = actor(&auth), org = %org, category = %key, "category replaced");
                PutCategoryResponse::Replaced(Json(replaced.into()))
            }
        })
    }

    /// List categories
    ///
    /// The organization's categories in key order (byte order), `limit` at a time. Pass a
    /// page's `next_cursor` as `cursor` to get the next one; it is null on the last page. A
    /// cursor this server did not issue is `400 invalid_parameter`. Requires scope
    /// `categories:read` and access to the organization.
    #[oai(
        path = "/v1/organizations/:org_id/categories",
        method = "get",
        operation_id = "listCategories"
    )]
    async fn list_categories(
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
        #[oai(validator(
            pattern = "^(?:3[0-9]|6[1-9a-f]|7[0-9a])(?:3[0-9]|6[1-9a-f]|7[0-9a]|5f|2d){0,63}$"
        ))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<ListCategoriesResponse> {
        let after = cursor
            .0
            .as_deref()
            .map(|c| decode_key(c, is_key))
            .transpose()?;
        auth.0.authorize(&org_id.0.0, Scope::CategoriesRead)?;
        let query = KeyPageQuery {
            limit: u64::from(limit.0),
            after,
        };
        let page = self.repo.list_categories(&org_id.0.0, query).await?;
        Ok(ListCategoriesResponse::Ok(Json(CategoryPage {
            items: page.items.into_iter().map(Category::from).collect(),
            next_cursor: Nullable(page.next.as_deref().map(encode_key)),
        })))
    }

    /// Get a category
    ///
    /// Requires scope `categories:read` and access to the organization. `404` when the
    /// organization has no category with this key.
    #[oai(
        path = "/v1/organizations/:org_id/categories/:key",
        method = "get",
        operation_id = "getCategory"
    )]
    async fn get_category(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Category key.
        key: Path<CategoryKey>,
    ) -> ApiResult<GetCategoryResponse> {
        auth.0.authorize(&org_id.0.0, Scope::CategoriesRead)?;
        let found = self.repo.get_category(&org_id.0.0, &key.0.0).await?;
        Ok(GetCategoryResponse::Ok(Json(found.into())))
    }

    /// Delete a category
    ///
    /// Deletes the category. `409 conflict` while any customer belongs to it: replace those
    /// customers' categories first (`listCategoryCustomers` lists them). Requires scope
    /// `categories:write` and access to the organization.
    #[oai(
        path = "/v1/organizations/:org_id/categories/:key",
        method = "delete",
        operation_id = "deleteCategory"
    )]
    async fn delete_category(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Category key.
        key: Path<CategoryKey>,
    ) -> ApiResult<DeleteCategoryResponse> {
        auth.0.authorize(&org_id.0.0, Scope::CategoriesWrite)?;
        self.repo.delete_category(&org_id.0.0, &key.0.0).await?;
        tracing::info!(actor = actor(&auth), org = %org_id.0.0, category = %key.0.0, "category deleted");
        Ok(DeleteCategoryResponse::Deleted)
    }

    /// List a category's customers
    ///
    /// The customers that belong to the category, in customer id (registration) order,
    /// `limit` at a time, paged like `listCustomers`. `404` when the organization has no
    /// category with this key. Requires scope `categories:read` and access to the
    /// organization.
    #[oai(
        path = "/v1/organizations/:org_id/categories/:key/customers",
        method = "get",
        operation_id = "listCategoryCustomers"
    )]
    async fn list_category_customers(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Category key.
        key: Path<CategoryKey>,
        /// Page size.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u32>,
        /// Opaque position from a previous page's `next_cursor`.
        #[oai(validator(pattern = "^[A-Za-z0-9_-]{22}$"))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<ListCategoryCustomersResponse> {
        let after = cursor.0.as_deref().map(decode_id).transpose()?;
        auth.0.authorize(&org_id.0.0, Scope::CategoriesRead)?;
        let query = MemberPageQuery {
            limit: u64::from(limit.0),
            after,
        };
        let page = self
            .repo
            .list_category_members(&org_id.0.0, &key.0.0, query)
            .await?;
        Ok(ListCategoryCustomersResponse::Ok(Json(CustomerPage {
            items: page.items.into_iter().map(Customer::from).collect(),
            next_cursor: Nullable(page.next.map(encode_id)),
        })))
    }

    /// Get a customer's categories
    ///
    /// The keys of the categories the customer belongs to, in key order (`[]` when none).
    /// Requires scope `categories:read` and access to the organization. `404` when the
    /// customer does not exist in this organization.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id/categories",
        method = "get",
        operation_id = "getCustomerCategories"
    )]
    async fn get_customer_categories(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
    ) -> ApiResult<GetCustomerCategoriesResponse> {
        auth.0.authorize(&org_id.0.0, Scope::CategoriesRead)?;
        let keys = self
            .repo
            .customer_categories(&org_id.0.0, customer_id.0)
            .await?;
        Ok(GetCustomerCategoriesResponse::Ok(SerdeJson(
            CustomerCategories { keys },
        )))
    }

    /// Replace a customer's categories
    ///
    /// Replaces the whole set of the customer's categories, atomically: concurrent PUTs leave
    /// exactly one of their sets. Idempotent. `keys` absent or null means none. Each key must
    /// be one of the organization's categories: an unknown one is `400` with
    /// `details[].field` = `keys[i]`, and nothing changes. Requires scope `categories:write`
    /// and access to the organization. `404` when the customer does not exist in this
    /// organization.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id/categories",
        method = "put",
        operation_id = "setCustomerCategories"
    )]
    async fn set_customer_categories(
        &self,
        auth: BearerAuth,
        /// Organization name.
        org_id: Path<OrgId>,
        /// Customer identifier.
        customer_id: Path<Uuid>,
        /// The customer's categories.
        body: Json<Unvalidated<CustomerCategories>>,
    ) -> ApiResult<SetCustomerCategoriesResponse> {
        let keys = CategoryKeys::parse(body.0.0)?;
        auth.0.authorize(&org_id.0.0, Scope::CategoriesWrite)?;
        let count = keys.keys().len();
        self.repo
            .replace_customer_categories(&org_id.0.0, customer_id.0, keys)
            .await?;
        // The count only: which categories a customer is in may be personal data.
        tracing::info!(actor = actor(&auth), org = %org_id.0.0, customer = %customer_id.0, categories = count, "customer categories replaced");
        Ok(SetCustomerCategoriesResponse::Replaced)
    }
}
