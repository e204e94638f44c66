//! HTTP for report-up batches: the sub-district side (supervisor) and the bureau side.

use chrono::{DateTime, Utc};
use entity::enums::{BatchStatus, ItemOutcome};
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::{Attachment, AttachmentType, Json},
};
use serde::Deserialize;

use super::roster;
use super::service::{self, BatchDetail, BatchFilter, Decision};
use crate::access::BearerAuth;
use crate::applications::form::Programme;
use crate::error::ApiError;
use crate::http::body::JsonBody;
use crate::lifecycle::Status;
use crate::openapi::ApiTags;
use crate::state::AppState;

/// A new batch.
#[derive(Object, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
pub struct CreateBatchRequest {
    /// Programme of every case in the batch.
    pub programme: Programme,
}

/// A case to add.
#[derive(Object, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
pub struct AddItemRequest {
    /// Case id (status ready_to_report, same programme, in the batch's sub-district).
    pub application_id: i64,
}

/// Why a batch is cancelled.
#[derive(Object, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Why, up to 500 characters (kept in the batch's history).
    #[oai(validator(max_length = 500))]
    pub reason: Option<String>,
}

/// The bureau's acknowledgement of receipt.
#[derive(Object, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeRequest {
    /// Number of items the bureau counted in the manifest.
    pub item_count: i32,
    /// SHA-256 (hex) the bureau computed over the manifest.
    #[oai(validator(min_length = 64, max_length = 64))]
    pub manifest_sha256: String,
}

/// A decision on one case.
#[derive(Object, Deserialize, Clone)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
pub struct DecisionItem {
    /// Case id.
    pub application_id: i64,
    /// `approve`, `return` or `reject`.
    #[oai(validator(max_length = 8))]
    pub decision: String,
    /// Reason code (required to return or reject).
    #[oai(validator(max_length = 48))]
    pub reason_code: Option<String>,
    /// Comment (required to return or reject).
    #[oai(validator(max_length = 2000))]
    pub comment: Option<String>,
}

/// Decisions on cases of a batch; each succeeds or fails on its own.
#[derive(Object, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
pub struct DecideRequest {
    /// 1 to 500 decisions.
    #[oai(validator(min_items = 1, max_items = 500))]
    pub items: Vec<DecisionItem>,
}

/// The result of one decision.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct DecisionResult {
    /// Case id.
    pub application_id: i64,
    /// The decision was recorded.
    pub ok: bool,
    /// Case status after.
    pub status: Option<Status>,
    /// Waiting-list number, for an approval.
    pub waitlist_number: Option<i64>,
    /// Error code when not ok.
    pub error_code: Option<String>,
    /// Error message when not ok.
    pub error_message: Option<String>,
}

/// Per-case results.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct DecideView {
    /// In request order.
    pub results: Vec<DecisionResult>,
}

/// A case in a batch.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct BatchItemView {
    /// Case id.
    pub application_id: i64,
    /// Application number.
    pub number: Option<String>,
    /// Case status.
    pub status: Status,
    /// What became of the case: approved, returned, rejected, or withdrawn by its applicant.
    pub decision: Option<ItemOutcome>,
    /// Reason code of a return or rejection.
    pub reason_code: Option<String>,
    /// Waiting-list number.
    pub waitlist_number: Option<i64>,
}

/// A batch.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct BatchView {
    /// Batch id.
    pub id: i64,
    /// Programme.
    pub programme: Programme,
    /// Sub-district code.
    pub subdistrict: Option<String>,
    /// Where the batch stands.
    pub status: BatchStatus,
    /// Items.
    pub item_count: i32,
    /// SHA-256 of the manifest (after sealing).
    pub manifest_sha256: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Sealed.
    pub sealed_at: Option<DateTime<Utc>>,
    /// Submitted to the bureau.
    pub submitted_at: Option<DateTime<Utc>>,
    /// Acknowledged by the bureau.
    pub received_at: Option<DateTime<Utc>>,
    /// Every case decided.
    pub closed_at: Option<DateTime<Utc>>,
    /// The cases (empty in lists).
    pub items: Vec<BatchItemView>,
}

fn view(
    b: entity::batch::Model,
    sub: Option<crate::places::Place>,
    items: Vec<BatchItemView>,
) -> BatchView {
    BatchView {
        id: b.id,
        programme: b.programme,
        subdistrict: sub.map(|s| s.code),
        status: b.status,
        item_count: b.item_count,
        manifest_sha256: b.manifest_sha256,
        created_at: b.created_at,
        sealed_at: b.sealed_at,
        submitted_at: b.submitted_at,
        received_at: b.received_at,
        closed_at: b.closed_at,
        items,
    }
}

impl From<BatchDetail> for BatchView {
    fn from(d: BatchDetail) -> Self {
        let items = d
            .items
            .into_iter()
            .map(|(i, c)| BatchItemView {
                application_id: c.id,
                number: c.number,
                status: c.status,
                decision: i.decision,
                reason_code: i.reason_code,
                waitlist_number: c.waitlist_number,
            })
            .collect();
        view(d.batch, d.subdistrict, items)
    }
}

/// The sealed manifest.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ManifestView {
    /// Items in the manifest.
    pub item_count: i32,
    /// SHA-256 (hex) of `manifest` serialised as compact JSON with sorted keys.
    pub manifest_sha256: String,
    /// The manifest: case numbers, household data as reported, policy versions.
    pub manifest: serde_json::Value,
}

/// One reconciliation figure and the cases behind it.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Figure {
    /// How many.
    pub count: u64,
    /// The case numbers.
    pub numbers: Vec<String>,
}

fn figure(v: Vec<String>) -> Figure {
    Figure {
        count: v.len() as u64,
        numbers: v,
    }
}

/// What was sent, received and decided.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ReconciliationView {
    /// Cases in submitted batches.
    pub sent: Figure,
    /// Cases in batches the bureau acknowledged.
    pub received: Figure,
    /// Approved.
    pub approved: Figure,
    /// Returned to the sub-district.
    pub returned: Figure,
    /// Rejected.
    pub rejected: Figure,
    /// Withdrawn by the applicant after the batch was sent (counts as decided).
    pub withdrawn: Figure,
    /// Not yet decided.
    pub still_open: Figure,
}

#[derive(ApiResponse)]
pub enum BatchResponse {
    /// The batch.
    #[oai(status = 200)]
    Ok(Json<BatchView>),
    /// Created.
    #[oai(status = 201)]
    Created(Json<BatchView>),
}

#[derive(ApiResponse)]
pub enum BatchListResponse {
    /// Batches by id.
    #[oai(status = 200)]
    Ok(Json<Vec<BatchView>>),
}

#[derive(ApiResponse)]
pub enum ManifestResponse {
    /// The manifest.
    #[oai(status = 200)]
    Ok(Json<ManifestView>),
}

#[derive(ApiResponse)]
pub enum DecideResponse {
    /// Per-case results.
    #[oai(status = 200)]
    Ok(Json<DecideView>),
}

#[derive(ApiResponse)]
pub enum RosterResponse {
    /// The roster file (CSV with BOM, or XLSX).
    #[oai(status = 200)]
    Ok(Attachment<Vec<u8>>),
}

#[derive(ApiResponse)]
pub enum ReconciliationResponse {
    /// The figures.
    #[oai(status = 200)]
    Ok(Json<ReconciliationView>),
}

pub struct BatchApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Batches")]
impl BatchApi {
    /// Create a batch (supervisor)
    #[oai(
        path = "/api/v1/batches",
        method = "post",
        operation_id = "batches_create"
    )]
    async fn create(
        &self,
        auth: BearerAuth,
        body: JsonBody<CreateBatchRequest>,
    ) -> Result<BatchResponse, ApiError> {
        Ok(BatchResponse::Created(Json(
            service::create(&self.state, &auth.0, body.0.programme)
                .await?
                .into(),
        )))
    }

    /// List batches
    ///
    /// A supervisor sees their sub-district's; the bureau the submitted batches of its
    /// district. Filter by status, sub-district, programme and submission time.
    #[oai(
        path = "/api/v1/batches",
        method = "get",
        operation_id = "batches_list"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        auth: BearerAuth,
        /// Only this status.
        status: Query<Option<BatchStatus>>,
        /// Only this sub-district (code).
        subdistrict: Query<Option<String>>,
        /// Only this programme.
        programme: Query<Option<Programme>>,
        /// Submitted at or after.
        from: Query<Option<DateTime<Utc>>>,
        /// Submitted before.
        to: Query<Option<DateTime<Utc>>>,
        /// Batches with an id greater than this (cursor).
        after: Query<Option<i64>>,
        /// Page size, 1 to 100 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u64>>,
    ) -> Result<BatchListResponse, ApiError> {
        let f = BatchFilter {
            status: status.0,
            subdistrict_code: subdistrict.0,
            programme: programme.0,
            from: from.0,
            to: to.0,
            after: after.0,
            limit: limit.0.unwrap_or(50),
        };
        let rows = service::list(&self.state, &auth.0, f).await?;
        Ok(BatchListResponse::Ok(Json(
            rows.into_iter().map(|(b, s)| view(b, s, vec![])).collect(),
        )))
    }

    /// Read a batch
    #[oai(
        path = "/api/v1/batches/:id",
        method = "get",
        operation_id = "batches_get"
    )]
    async fn get(&self, auth: BearerAuth, id: Path<i64>) -> Result<BatchResponse, ApiError> {
        Ok(BatchResponse::Ok(Json(
            service::detail(&self.state, &auth.0, id.0).await?.into(),
        )))
    }

    /// Add a case to a draft batch (supervisor)
    #[oai(
        path = "/api/v1/batches/:id/items",
        method = "post",
        operation_id = "batches_add_item"
    )]
    async fn add(
        &self,
        auth: BearerAuth,
        id: Path<i64>,
        body: JsonBody<AddItemRequest>,
    ) -> Result<BatchResponse, ApiError> {
        Ok(BatchResponse::Ok(Json(
            service::add_item(&self.state, &auth.0, id.0, body.0.application_id)
                .await?
                .into(),
        )))
    }

    /// Remove a case from a draft batch (supervisor)
    #[oai(
        path = "/api/v1/batches/:id/items/:application_id",
        method = "delete",
        operation_id = "batches_remove_item"
    )]
    async fn remove(
        &self,
        auth: BearerAuth,
        id: Path<i64>,
        application_id: Path<i64>,
    ) -> Result<BatchResponse, ApiError> {
        Ok(BatchResponse::Ok(Json(
            service::remove_item(&self.state, &auth.0, id.0, application_id.0)
                .await?
                .into(),
        )))
    }

    /// Seal a batch (supervisor)
    ///
    /// Freezes the contents into a canonical manifest with its item count and SHA-256.
    /// Nothing in the batch can change afterwards. With maker-checker on (the policy's
    /// default), the sealer may not have passed any case in it.
    #[oai(
        path = "/api/v1/batches/:id/seal",
        method = "post",
        operation_id = "batches_seal"
    )]
    async fn seal(&self, auth: BearerAuth, id: Path<i64>) -> Result<BatchResponse, ApiError> {
        Ok(BatchResponse::Ok(Json(
            service::seal(&self.state, &auth.0, id.0).await?.into(),
        )))
    }

    /// Submit a sealed batch to the bureau (supervisor)
    ///
    /// Every case becomes `reported`, with one event each.
    #[oai(
        path = "/api/v1/batches/:id/submit",
        method = "post",
        operation_id = "batches_submit"
    )]
    async fn submit(&self, auth: BearerAuth, id: Path<i64>) -> Result<BatchResponse, ApiError> {
        Ok(BatchResponse::Ok(Json(
            service::submit(&self.state, &auth.0, id.0).await?.into(),
        )))
    }

    /// Cancel a batch not yet sent (supervisor)
    ///
    /// A draft or sealed batch is cancelled; its cases are free to join another batch.
    /// A batch the bureau has cannot be cancelled (409).
    #[oai(
        path = "/api/v1/batches/:id/cancel",
        method = "post",
        operation_id = "batches_cancel"
    )]
    async fn cancel(
        &self,
        auth: BearerAuth,
        id: Path<i64>,
        body: JsonBody<CancelRequest>,
    ) -> Result<BatchResponse, ApiError> {
        let d = service::cancel(&self.state, &auth.0, id.0, body.0.reason).await?;
        Ok(BatchResponse::Ok(Json(d.into())))
    }

    /// Read the manifest of a sealed batch
    #[oai(
        path = "/api/v1/batches/:id/manifest",
        method = "get",
        operation_id = "batches_manifest"
    )]
    async fn manifest(
        &self,
        auth: BearerAuth,
        id: Path<i64>,
    ) -> Result<ManifestResponse, ApiError> {
        let d = service::detail(&self.state, &auth.0, id.0).await?;
        let (Some(m), Some(h)) = (d.batch.manifest, d.batch.manifest_sha256) else {
            return Err(ApiError::not_found());
        };
        Ok(ManifestResponse::Ok(Json(ManifestView {
            item_count: d.batch.item_count,
            manifest_sha256: h,
            manifest: m,
        })))
    }

    /// Acknowledge receipt (bureau)
    ///
    /// Checks the count and the hash the bureau computed against the sealed manifest and
    /// records the receipt (409 `manifest_mismatch` when they differ).
    #[oai(
        path = "/api/v1/batches/:id/acknowledge",
        method = "post",
        operation_id = "batches_acknowledge"
    )]
    async fn acknowledge(
        &self,
        auth: BearerAuth,
        id: Path<i64>,
        body: JsonBody<AcknowledgeRequest>,
    ) -> Result<BatchResponse, ApiError> {
        let b = body.0;
        Ok(BatchResponse::Ok(Json(
            service::acknowledge(&self.state, &auth.0, id.0, b.item_count, &b.manifest_sha256)
                .await?
                .into(),
        )))
    }

    /// Decide cases of a batch (bureau)
    ///
    /// Approve (the case gets the next waiting-list number of its programme), return to
    /// the sub-district with a reason (it can be reported again later), or reject with a
    /// reason. Each case is its own transaction.
    #[oai(
        path = "/api/v1/batches/:id/decisions",
        method = "post",
        operation_id = "batches_decide"
    )]
    async fn decide(
        &self,
        auth: BearerAuth,
        id: Path<i64>,
        body: JsonBody<DecideRequest>,
    ) -> Result<DecideResponse, ApiError> {
        let mut results = Vec::new();
        for item in body.0.items {
            let d = Decision {
                application_id: item.application_id,
                decision: item.decision,
                reason_code: item.reason_code,
                comment: item.comment,
            };
            results.push(
                match service::decide_one(&self.state, &auth.0, id.0, &d).await {
                    Ok(case) => DecisionResult {
                        application_id: d.application_id,
                        ok: true,
                        status: Some(case.status),
                        waitlist_number: case.waitlist_number,
                        error_code: None,
                        error_message: None,
                    },
                    Err(e) => {
                        let (code, message) = ApiError::from(e).code_and_message();
                        DecisionResult {
                            application_id: d.application_id,
                            ok: false,
                            status: None,
                            waitlist_number: None,
                            error_code: Some(code),
                            error_message: Some(message),
                        }
                    }
                },
            );
        }
        Ok(DecideResponse::Ok(Json(DecideView { results })))
    }

    /// Download the roster (上报名册)
    ///
    /// CSV (UTF-8 with BOM) or XLSX with Chinese headers. Identity numbers are masked
    /// unless a bureau user sets `full=true` and gives a `purpose`; every export is
    /// recorded (who, when, batch, purpose, masked or not).
    #[oai(
        path = "/api/v1/batches/:id/roster",
        method = "get",
        operation_id = "batches_roster"
    )]
    async fn roster(
        &self,
        auth: BearerAuth,
        id: Path<i64>,
        /// `csv` (default) or `xlsx`.
        format: Query<Option<String>>,
        /// Full identity numbers (bureau only, with a purpose).
        full: Query<Option<bool>>,
        /// Why the full roster is needed.
        #[oai(validator(max_length = 500))]
        purpose: Query<Option<String>>,
    ) -> Result<RosterResponse, ApiError> {
        let xlsx = format.0.as_deref() == Some("xlsx");
        let req = roster::Request {
            full: full.0.unwrap_or(false),
            purpose: purpose.0,
            xlsx,
        };
        let (bytes, name) = roster::export(&self.state, &auth.0, id.0, req).await?;
        Ok(RosterResponse::Ok(
            Attachment::new(bytes)
                .attachment_type(AttachmentType::Attachment)
                .filename(name),
        ))
    }

    /// Reconciliation (supervisor, bureau)
    ///
    /// Per sub-district and period (submission time): cases sent, received, approved,
    /// returned, rejected and still open, with the numbers behind each figure.
    #[oai(
        path = "/api/v1/reconciliation",
        method = "get",
        operation_id = "batches_reconciliation"
    )]
    async fn reconciliation(
        &self,
        auth: BearerAuth,
        /// Only this sub-district (code).
        subdistrict: Query<Option<String>>,
        /// Batches submitted at or after.
        from: Query<Option<DateTime<Utc>>>,
        /// Batches submitted before.
        to: Query<Option<DateTime<Utc>>>,
    ) -> Result<ReconciliationResponse, ApiError> {
        let r = service::reconcile(&self.state, &auth.0, subdistrict.0, from.0, to.0).await?;
        Ok(ReconciliationResponse::Ok(Json(ReconciliationView {
            sent: figure(r.sent),
            received: figure(r.received),
            approved: figure(r.approved),
            returned: figure(r.returned),
            rejected: figure(r.rejected),
            withdrawn: figure(r.withdrawn),
            still_open: figure(r.open),
        })))
    }
}
