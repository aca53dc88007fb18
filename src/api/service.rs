//! Liveness and readiness probes (no authentication).

use poem_openapi::{ApiResponse, OpenApi, payload::Json};

use super::{
    ApiResult, ApiTags,
    errors::{INTERNAL, OperationErrors, timeout, unavailable},
    types::HealthStatus,
};
use crate::repo::Repository;

pub struct ServiceApi {
    pub repo: Repository,
}

#[derive(ApiResponse)]
pub enum HealthResponse {
    /// The process serves (liveness) or the database answers (readiness).
    #[oai(status = 200, content_type = "application/json")]
    Ok(Json<HealthStatus>),
}

/// The errors each probe answers (see [`super::errors`]): liveness none (it touches nothing
/// that can fail), readiness only the database's.
pub const ERRORS: &[OperationErrors] = &[
    OperationErrors {
        operation_id: "getHealth",
        errors: &[],
    },
    OperationErrors {
        operation_id: "getReadiness",
        errors: &[
            INTERNAL,
            unavailable(
                "Not ready: the database does not answer (`service_unavailable`). Take this \
                 replica out of rotation (do not restart it) until `/readyz` answers `200`.",
            ),
            timeout(
                "Not ready: the database did not answer within the statement timeout \
                 (`repository_timeout`).",
            ),
        ],
    },
];

#[OpenApi(tag = "ApiTags::Service")]
impl ServiceApi {
    /// Liveness
    ///
    /// `200 {"status":"ok"}` while the process serves, whatever the database's state.
    #[oai(path = "/healthz", method = "get", operation_id = "getHealth")]
    async fn healthz(&self) -> HealthResponse {
        HealthResponse::Ok(Json(HealthStatus {
            status: "ok".to_owned(),
        }))
    }

    /// Readiness
    ///
    /// `200 {"status":"ready"}` when the database answers; `503 service_unavailable` when it
    /// does not, so a load balancer stops routing here until it recovers.
    #[oai(path = "/readyz", method = "get", operation_id = "getReadiness")]
    async fn readyz(&self) -> ApiResult<HealthResponse> {
        self.repo.ping().await?;
        Ok(HealthResponse::Ok(Json(HealthStatus {
            status: "ready".to_owned(),
        })))
    }
}
