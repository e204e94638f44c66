//! The public side of first review: the notice list (masked) and objections. No login.

use chrono::{DateTime, Utc};
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use serde::Deserialize;

use super::notice::{self as service, NewObjection, NoticeQuery};
use crate::error::ApiError;
use crate::http::body::JsonBody;
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

/// A page of the notice list.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct NoticePageView {
    /// Cases on notice, soonest ending first.
    pub items: Vec<NoticeView>,
    /// How many cases match in all (every page).
    pub total: u64,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
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
    /// A page of the cases on notice now, soonest ending first.
    #[oai(status = 200)]
    Ok(Json<NoticePageView>),
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
    /// Public, no login: the cases whose notice window is open, with masked data only,
    /// a page at a time, with the total; search by application number.
    #[oai(
        path = "/api/v1/public/notices",
        method = "get",
        operation_id = "public_notices"
    )]
    async fn notices(
        &self,
        /// Only this community (code).
        #[oai(validator(max_length = 32))]
        community: Query<Option<String>>,
        /// Only the case with this application number.
        #[oai(validator(max_length = 32))]
        number: Query<Option<String>>,
        /// The previous page's `next_cursor`.
        #[oai(validator(max_length = 128))]
        cursor: Query<Option<String>>,
        /// Page size, 1 to 100 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u64>>,
    ) -> Result<NoticesResponse, ApiError> {
        let q = NoticeQuery {
            community_code: community.0,
            number: number.0,
            cursor: cursor.0,
            limit: limit.0.unwrap_or(50),
        };
        let page = service::notices(&self.state, q).await?;
        let items = page
            .entries
            .into_iter()
            .map(|n| NoticeView {
                number: n.number,
                applicant_name: n.applicant_name_masked,
                applicant_id_number: n.applicant_id_masked,
                community: n.community.map(|c| c.name),
                programme: n.programme,
                household_size: n.household_size,
                notice_ends_at: n.notice_ends_at,
            })
            .collect();
        Ok(NoticesResponse::Ok(Json(NoticePageView {
            items,
            total: page.total,
            next_cursor: page.next_cursor,
        })))
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
        body: JsonBody<ObjectionRequest>,
    ) -> Result<ObjectionResponse, ApiError> {
        let b = body.0;
        let client = crate::http::context::client_key();
        let input = NewObjection {
            name: b.name,
            contact: b.contact,
            content: b.content,
        };
        let o = service::file_objection(&self.state, &number.0, input, &client).await?;
        Ok(ObjectionResponse::Created(Json(ObjectionReceipt {
            id: o.id,
            filed_at: o.filed_at,
        })))
    }
}
