//! The public side of first review: the notice list (masked) and objections. No login.

use chrono::{DateTime, Utc};
use poem::web::RemoteAddr;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use serde::Deserialize;

use super::service::{self, NewObjection, ObjectionError};
use crate::error::ApiError;
use crate::http::body::JsonBody;
use crate::i18n::Msg;
use crate::openapi::ApiTags;
use crate::state::AppState;

/// A case on public notice (公示): masked data only.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct NoticeView {
    /// Application number; objections are filed against it.
    pub number: String,
    /// Applicant's name, masked (张*明).
    pub applicant_name: String,
    /// Applicant's identity number, masked (4101**********0037).
    pub applicant_id_number: String,
    /// Community name.
    pub community: Option<String>,
    /// Programme.
    pub programme: Option<entity::enums::Programme>,
    /// Members in the household.
    pub household_size: i32,
    /// The notice ends (objections are accepted until then).
    pub notice_ends_at: DateTime<Utc>,
}

/// An objection to a case on notice. Real name and contact are required.
#[derive(Object, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
pub struct ObjectionRequest {
    /// The objector's real name, up to 50 characters.
    #[oai(validator(max_length = 50))]
    pub name: String,
    /// A mobile number or a Zhengzhou landline (0371 and 8 digits).
    #[oai(validator(max_length = 20))]
    pub contact: String,
    /// What is wrong with the case, up to 2,000 characters.
    #[oai(validator(max_length = 2000))]
    pub content: String,
}

/// The receipt for an objection.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ObjectionReceipt {
    /// Objection id.
    pub id: i64,
    /// Received at.
    pub filed_at: DateTime<Utc>,
}

#[derive(ApiResponse)]
pub enum NoticesResponse {
    /// Cases on notice now, soonest ending first.
    #[oai(status = 200)]
    Ok(Json<Vec<NoticeView>>),
}

#[derive(ApiResponse)]
pub enum ObjectionResponse {
    /// The objection is on record; a reviewer investigates it.
    #[oai(status = 201)]
    Created(Json<ObjectionReceipt>),
}

pub struct PublicApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Public")]
impl PublicApi {
    /// Cases on public notice
    ///
    /// Public, no login: the cases whose notice window is open, with masked data only.
    #[oai(
        path = "/api/v1/public/notices",
        method = "get",
        operation_id = "public_notices"
    )]
    async fn notices(
        &self,
        /// Only this community (code).
        community: Query<Option<String>>,
    ) -> Result<NoticesResponse, ApiError> {
        let rows = service::notices(&self.state, community.0.as_deref()).await?;
        Ok(NoticesResponse::Ok(Json(
            rows.into_iter()
                .map(|n| NoticeView {
                    number: n.number,
                    applicant_name: n.applicant_name_masked,
                    applicant_id_number: n.applicant_id_masked,
                    community: n.community.map(|c| c.name),
                    programme: n.programme,
                    household_size: n.household_size,
                    notice_ends_at: n.notice_ends_at,
                })
                .collect(),
        )))
    }

    /// Object to a case on notice
    ///
    /// Public, no login, but real name and contact are required and each client and each
    /// contact may file five objections an hour (429 beyond).
    #[oai(
        path = "/api/v1/public/notices/:number/objections",
        method = "post",
        operation_id = "public_object"
    )]
    async fn object(
        &self,
        /// The case's application number.
        number: Path<String>,
        remote: &RemoteAddr,
        body: JsonBody<ObjectionRequest>,
    ) -> Result<ObjectionResponse, ApiError> {
        let b = body.0;
        let client = remote.to_string();
        let input = NewObjection {
            name: b.name,
            contact: b.contact,
            content: b.content,
        };
        match service::file_objection(&self.state, &number.0, input, &client).await {
            Ok(o) => Ok(ObjectionResponse::Created(Json(ObjectionReceipt {
                id: o.id,
                filed_at: o.filed_at,
            }))),
            Err(ObjectionError::RateLimited) => Err(ApiError::new(
                poem::http::StatusCode::TOO_MANY_REQUESTS,
                "too_many_objections",
                &Msg::new(
                    "提交过于频繁，请稍后再试",
                    "Too many objections from you; try again later",
                ),
                vec![],
            )),
            Err(ObjectionError::Case(e)) => Err(e.into()),
        }
    }
}
