//! `/health/live` answers while the process runs; `/health/ready` also pings the
//! database.

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
    /// Not ready: the database cannot be reached.
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

    /// Readiness: the process is up and the database answers.
    #[oai(path = "/health/ready", method = "get", operation_id = "health_ready")]
    async fn ready(&self) -> HealthResponse {
        match self.state.db.ping().await {
            Ok(()) => HealthResponse::Ok(view("ok")),
            Err(err) => {
                tracing::warn!(error = %err, "readiness check failed");
                HealthResponse::Unavailable(view("unavailable"))
            }
        }
    }
}
