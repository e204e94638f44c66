//! HTTP for places: a public list (applicants choose their community from it) and the
//! admin's create and rename endpoints.

use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json};
use serde::Deserialize;

use super::service::{self, NewPlace, Place, PlaceKind};
use crate::access::BearerAuth;
use crate::error::ApiError;
use crate::http::body::JsonBody;
use crate::openapi::ApiTags;
use crate::state::AppState;

/// A district, sub-district or community.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PlaceView {
    /// Division code (410104, 410104003) or the office's local id for a community.
    pub code: String,
    /// Name, e.g. 惠工街社区.
    pub name: String,
    /// Level in the tree.
    pub kind: PlaceKind,
    /// Code of the parent place (absent for a district).
    pub parent_code: Option<String>,
}

fn views(all: &[Place], items: Vec<Place>) -> Vec<PlaceView> {
    items
        .into_iter()
        .map(|p| PlaceView {
            parent_code: p
                .parent_id
                .and_then(|id| all.iter().find(|q| q.id == id))
                .map(|q| q.code.clone()),
            code: p.code,
            name: p.name,
            kind: p.kind,
        })
        .collect()
}

/// A new place.
#[derive(Object, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
pub struct CreatePlaceRequest {
    /// Level in the tree.
    pub kind: PlaceKind,
    /// Unique code: letters, digits and dashes, up to 32 characters.
    #[oai(validator(min_length = 1, max_length = 32))]
    pub code: String,
    /// Name, up to 100 characters.
    #[oai(validator(min_length = 1, max_length = 100))]
    pub name: String,
    /// Code of the parent: a district for a sub-district, a sub-district for a community.
    #[oai(validator(max_length = 32))]
    pub parent_code: Option<String>,
}

/// A new name for a place.
#[derive(Object, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
pub struct RenamePlaceRequest {
    /// The new name, up to 100 characters.
    #[oai(validator(min_length = 1, max_length = 100))]
    pub name: String,
}

#[derive(ApiResponse)]
pub enum PlaceListResponse {
    /// Every place, parents before children.
    #[oai(status = 200)]
    Ok(Json<Vec<PlaceView>>),
}

#[derive(ApiResponse)]
pub enum PlaceResponse {
    /// The place was created.
    #[oai(status = 201)]
    Created(Json<PlaceView>),
    /// The place after the change.
    #[oai(status = 200)]
    Ok(Json<PlaceView>),
}

pub struct PlaceApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Places")]
impl PlaceApi {
    /// List places
    ///
    /// Public: applicants pick the community they file in from this list.
    #[oai(path = "/api/v1/places", method = "get", operation_id = "places_list")]
    async fn list(&self) -> Result<PlaceListResponse, ApiError> {
        let all = service::list(&self.state).await?;
        Ok(PlaceListResponse::Ok(Json(views(&all, all.clone()))))
    }

    /// Add a place (admin)
    #[oai(
        path = "/api/v1/admin/places",
        method = "post",
        operation_id = "places_create"
    )]
    async fn create(
        &self,
        auth: BearerAuth,
        body: JsonBody<CreatePlaceRequest>,
    ) -> Result<PlaceResponse, ApiError> {
        let r = body.0;
        let input = NewPlace {
            kind: r.kind,
            code: r.code,
            name: r.name,
            parent_code: r.parent_code,
        };
        let place = service::create(&self.state, &auth.0, input).await?;
        let all = service::list(&self.state).await?;
        Ok(PlaceResponse::Created(Json(
            views(&all, vec![place]).remove(0),
        )))
    }

    /// Rename a place (admin)
    ///
    /// For entering the real names of the communities seeded with placeholders.
    #[oai(
        path = "/api/v1/admin/places/:code",
        method = "patch",
        operation_id = "places_rename"
    )]
    async fn rename(
        &self,
        auth: BearerAuth,
        /// Code of the place.
        code: Path<String>,
        body: JsonBody<RenamePlaceRequest>,
    ) -> Result<PlaceResponse, ApiError> {
        let place = service::rename(&self.state, &auth.0, &code.0, &body.0.name).await?;
        let all = service::list(&self.state).await?;
        Ok(PlaceResponse::Ok(Json(views(&all, vec![place]).remove(0))))
    }
}
