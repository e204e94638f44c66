//! Staff endpoints over the outbox (admin): list messages by status and case, retry a
//! dead one.

use chrono::{DateTime, Utc};
use entity::enums::OutboxStatus;
use entity::outbox_message;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::service;
use crate::access::BearerAuth;
use crate::error::ApiError;
use crate::openapi::ApiTags;
use crate::state::AppState;

/// A message in the outbox (the body is not shown: it is the applicant's mail).
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct OutboxView {
    /// Message id.
    pub id: i64,
    /// Case it is about.
    pub application_id: Option<i64>,
    /// Event that caused it.
    pub event_id: Option<i64>,
    /// What it announces, e.g. `submission_receipt`.
    pub kind: String,
    /// Recipient address.
    pub recipient: Option<String>,
    /// Language of the message.
    pub language: entity::enums::Language,
    /// Subject.
    pub subject: String,
    /// Where the message stands.
    pub status: entity::enums::OutboxStatus,
    /// Attempts so far.
    pub attempts: i32,
    /// Next attempt (when pending).
    pub next_attempt_at: DateTime<Utc>,
    /// Last error.
    pub last_error: Option<String>,
    /// The SMTP server's reply when sent.
    pub server_reply: Option<String>,
    /// Message-ID, the same on every attempt.
    pub message_id: String,
    /// Queued at.
    pub created_at: DateTime<Utc>,
    /// Sent at.
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<outbox_message::Model> for OutboxView {
    fn from(m: outbox_message::Model) -> Self {
        OutboxView {
            id: m.id,
            application_id: m.application_id,
            event_id: m.event_id,
            kind: m.kind,
            recipient: m.recipient,
            language: m.language,
            subject: m.subject,
            status: m.status,
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            last_error: m.last_error,
            server_reply: m.server_reply,
            message_id: m.message_id,
            created_at: m.created_at,
            sent_at: m.sent_at,
        }
    }
}

#[derive(ApiResponse)]
pub enum OutboxListResponse {
    /// Messages, oldest first.
    #[oai(status = 200)]
    Ok(Json<Vec<OutboxView>>),
}

#[derive(ApiResponse)]
pub enum OutboxResponse {
    /// The message, queued again.
    #[oai(status = 200)]
    Ok(Json<OutboxView>),
}

pub struct OutboxApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Outbox")]
impl OutboxApi {
    /// List outbox messages (admin)
    #[oai(
        path = "/api/v1/admin/outbox",
        method = "get",
        operation_id = "outbox_list"
    )]
    async fn list(
        &self,
        auth: BearerAuth,
        /// Only this status.
        status: Query<Option<OutboxStatus>>,
        /// Only messages about this case.
        application_id: Query<Option<i64>>,
        /// Messages with an id greater than this.
        after: Query<Option<i64>>,
        /// Page size, 1 to 200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u64>>,
    ) -> Result<OutboxListResponse, ApiError> {
        let rows = service::list(
            &self.state,
            &auth.0,
            status.0,
            application_id.0,
            after.0.unwrap_or(0),
            limit.0.unwrap_or(50),
        )
        .await?;
        Ok(OutboxListResponse::Ok(Json(
            rows.into_iter().map(OutboxView::from).collect(),
        )))
    }

    /// Retry a dead message (admin)
    ///
    /// Queues it again at once, keeping its Message-ID and its attempt count.
    #[oai(
        path = "/api/v1/admin/outbox/:id/retry",
        method = "post",
        operation_id = "outbox_retry"
    )]
    async fn retry(&self, auth: BearerAuth, id: Path<i64>) -> Result<OutboxResponse, ApiError> {
        let row = service::retry(&self.state, &auth.0, id.0).await?;
        Ok(OutboxResponse::Ok(Json(row.into())))
    }
}
