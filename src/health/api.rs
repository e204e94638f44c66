//! `/health/live` answers while the process runs; `/health/ready` says within a second
//! whether the database can take writes (see `service`).

use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};

use crate::openapi::ApiTags;
use crate::state::AppState;

pub struct HealthApi {
    pub state: AppState,
}

/// A probe's answer.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct HealthView {
    /// `ok` or `unavailable`.
    pub status: String,
}

#[derive(ApiResponse)]
pub enum HealthResponse {
    /// Healthy.
    #[oai(status = 200)]
    Ok(Json<HealthView>),
    /// Not ready: the database cannot be reached, is read-only, or its storage is failing.
    #[oai(status = 503)]
    Unavailable(Json<HealthView>),
}

fn view(status: &str) -> Json<HealthView> {
    Json(HealthView {
        status: status.into(),
    })
}

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// Liveness: the process is up.
    #[oai(path = "/health/live", method = "get", operation_id = "health_live")]
    async fn live(&self) -> HealthResponse {
        HealthResponse::Ok(view("ok"))
    }

    /// Readiness: the process is up and the database takes writes (answered within a
    /// second; 503 when the database is unreachable, read-only or its storage is failing,
    /// and `draining` once the instance has been told to stop).
    #[oai(path = "/health/ready", method = "get", operation_id = "health_ready")]
    async fn ready(&self) -> HealthResponse {
        match super::service::ready(&self.state).await {
            Ok(()) => HealthResponse::Ok(view("ok")),
            Err(super::service::NotReady::Draining) => {
                HealthResponse::Unavailable(view("draining"))
            }
            Err(why) => {
                tracing::warn!(?why, "not ready");
                HealthResponse::Unavailable(view("unavailable"))
            }
        }
    }
}
