//! A customer's change history (the contract's v1.2 "Change history"): who changed what, and
//! when. The events are appended by the writes themselves (`crate::repo::history`); this module
//! only reads them. Listed under the "Customers" tag: the history is the customer's.

use chrono::{DateTime, Utc};
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use uuid::Uuid;

use super::{
    ApiResult, ApiTags,
    cursor::{decode_seq, default_limit, encode_seq},
    errors::forbidden_without,
    errors::{
        INTERNAL, OperationErrors, READ_TIMEOUT, READ_UNAVAILABLE, UNAUTHORIZED, bad_request,
        not_found,
    },
    types::{HistoryPage, Nullable, OrgId},
};
use crate::{
    auth::{BearerAuth, Scope},
    domain::history::HistoryQuery,
    repo::Repository,
};

pub struct HistoryApi {
    pub repo: Repository,
}

#[derive(ApiResponse)]
pub enum GetCustomerHistoryResponse {
    /// One page of the customer's history, newest first.
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<HistoryPage>),
}

/// The errors the operation below answers, in words about it (see [`super::errors`]).
pub const ERRORS: &[OperationErrors] = &[OperationErrors {
    operation_id: "getCustomerHistory",
    errors: &[
        bad_request(
            "A parameter breaks its format (`invalid_parameter`): `customer_id` not a UUID, \
             `limit` not an integer from 1 to 200, `cursor` not a cursor this server issued, \
             `since` not an RFC 3339 date-time, or `org_id`. `details` names the parameter.",
        )
        .example(|| decode_seq("not-a-cursor").unwrap_err()),
        UNAUTHORIZED,
        forbidden_without!("history:read"),
        not_found(
            "The organization has no such customer and never had one with this id \
             (`not_found`). A deleted customer's history is still answered.",
        ),
        INTERNAL,
        READ_UNAVAILABLE,
        READ_TIMEOUT,
    ],
}];

#[OpenApi(tag = "ApiTags::Customers")]
impl HistoryApi {
    /// Read a customer's change history
    ///
    /// Every change made to the customer through this API, newest first, `limit` at a time:
    /// who made it (the token's `sub`), when, in which request (`X-Request-Id`), what
    /// (`action`, `resource`) and the new non-secret values (`changes`). Each successful write
    /// appends its event in the same transaction as the change, so there is no change without
    /// its event and no event without its change; refused or failed writes leave none, and so
    /// does an account patch that changes nothing. A verification leaves one only when it
    /// locks the credential (`credential.locked`). The category catalogue's own changes (`putCategory`, `deleteCategory`) are not a
    /// customer's and are not here; a customer's memberships are (`categories.set`).
    ///
    /// The history outlives the customer: after `deleteCustomer` this path still answers,
    /// its newest event `customer.deleted`. Customers registered before the history existed
    /// have events only from then on. `since` keeps only events that occurred after that
    /// instant. Pass a page's `next_cursor` as `cursor` to get the next (older) page; it is
    /// null on the last page. Requires scope `history:read` (privileged: granted only when
    /// asked for by name) and access to the organization.
    #[oai(
        path = "/v1/organizations/:org_id/customers/:customer_id/history",
        method = "get",
        operation_id = "getCustomerHistory"
    )]
    async fn get_customer_history(
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
        #[oai(validator(pattern = "^[A-Za-z0-9_-]{11}$"))]
        cursor: Query<Option<String>>,
        /// Only events that occurred after this instant (RFC 3339).
        since: Query<Option<DateTime<Utc>>>,
    ) -> ApiResult<GetCustomerHistoryResponse> {
        let before = cursor.0.as_deref().map(decode_seq).transpose()?;
        auth.0.authorize(&org_id.0.0, Scope::HistoryRead)?;
        let query = HistoryQuery {
            limit: u64::from(limit.0),
            before,
            since: since.0,
        };
        let page = self
            .repo
            .customer_history(&org_id.0.0, customer_id.0, query)
            .await?;
        Ok(GetCustomerHistoryResponse::Ok(Json(HistoryPage {
            items: page.items.into_iter().map(Into::into).collect(),
            next_cursor: Nullable(page.next.map(encode_seq)),
        })))
    }
}
