//! HTTP for reviewers and supervisors: work queues, actions on a case (one at a time or
//! in bulk), the reason-code list, objections, the audit trail, and closing notice
//! windows that have ended.

use chrono::{DateTime, Utc};
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use serde::Deserialize;

use super::actions::{self, ActionInput};
use super::notice as service;
use super::queue::{self, Assigned, Order, QueueQuery};
use crate::access::BearerAuth;
use crate::access::Principal;
use crate::applications::api::{ApplicationView, CommunityRef, EventView};
use crate::applications::form::Programme;
use crate::error::ApiError;
use crate::http::body::JsonBody;
use crate::i18n::{Lang, Msg};
use crate::lifecycle::reasons::REASON_CODES;
use crate::lifecycle::{Action, Status};
use crate::openapi::ApiTags;
use crate::state::AppState;

/// An action on a case. Which fields matter depends on `action`.
#[derive(Object, Deserialize, Clone)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// `accept`, `claim`, `assign`, `request_correction`, `pass_review`, `reject`,
    /// `confirm_warnings`, `resolve_duplicate`, `uphold_objection` or `dismiss_objection`.
    pub action: Action,
    /// The case version the caller saw; a stale one gets 409 with the current version.
    pub version: i32,
    /// Opinion or note: required to pass (the first-review opinion), reject, resolve a
    /// duplicate or decide an objection. Up to 2,000 characters.
    #[oai(validator(max_length = 2000))]
    pub comment: Option<String>,
    /// For `reject`: a code from `GET /api/v1/review/reason-codes`.
    #[oai(validator(max_length = 48))]
    pub reason_code: Option<String>,
    /// For `request_correction`: every missing item, at once (1 to 30).
    #[oai(default, validator(max_items = 30))]
    #[serde(default)]
    pub items: Vec<String>,
    /// For `assign`: the reviewer's account id.
    pub assignee_id: Option<i64>,
    /// For `confirm_warnings`: which warning codes (all open ones when empty).
    #[oai(default, validator(max_items = 50))]
    #[serde(default)]
    pub warning_codes: Vec<String>,
    /// `confirmed`/`overruled` (warnings) or `duplicate`/`not_duplicate` (a duplicate flag).
    #[oai(validator(max_length = 16))]
    pub resolution: Option<String>,
    /// For `resolve_duplicate`: the flag's id.
    pub flag_id: Option<i64>,
    /// For `uphold_objection` / `dismiss_objection`: the objection's id.
    pub objection_id: Option<i64>,
}

impl ActionRequest {
    fn input(&self) -> ActionInput {
        ActionInput {
            version: self.version,
            comment: self.comment.clone(),
            reason_code: self.reason_code.clone(),
            items: self.items.clone(),
            assignee_id: self.assignee_id,
            warning_codes: self.warning_codes.clone(),
            resolution: self.resolution.clone(),
            flag_id: self.flag_id,
            objection_id: self.objection_id,
        }
    }
}

/// One case of a bulk action.
#[derive(Object, Deserialize, Clone)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
pub struct BulkItem {
    /// Case id.
    pub id: i64,
    /// The version the caller saw.
    pub version: i32,
}

/// The same action on several cases; each succeeds or fails on its own.
#[derive(Object, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// `accept`, `pass_review` or `reject`.
    pub action: Action,
    /// The cases, 1 to 100.
    #[oai(validator(min_items = 1, max_items = 100))]
    pub items: Vec<BulkItem>,
    /// Opinion or comment, used for every case.
    #[oai(validator(max_length = 2000))]
    pub comment: Option<String>,
    /// Reason code, for `reject`.
    #[oai(validator(max_length = 48))]
    pub reason_code: Option<String>,
}

/// What happened to one case of a bulk action.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct BulkResult {
    /// Case id.
    pub id: i64,
    /// The action was taken.
    pub ok: bool,
    /// Status after the action (when ok).
    pub status: Option<Status>,
    /// Version after the action (when ok).
    pub version: Option<i32>,
    /// Error code when not ok, e.g. `stale_version`, `wrong_status`.
    pub error_code: Option<String>,
    /// Error message when not ok.
    pub error_message: Option<String>,
}

/// Results of a bulk action, one per case, in request order.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct BulkView {
    /// Per case.
    pub results: Vec<BulkResult>,
    /// How many succeeded.
    pub succeeded: u32,
    /// How many failed.
    pub failed: u32,
}

/// Whose cases a queue shows.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum AssignedFilter {
    /// Assigned to the caller.
    Me,
    /// Assigned to nobody.
    Unassigned,
    /// Everyone's (the default).
    Anyone,
}

/// Order of a queue.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum QueueOrder {
    /// Longest waiting first (default).
    Oldest,
    /// Most recent first.
    Newest,
}

/// A case in a work queue; personal data masked.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct QueueItemView {
    /// Case id.
    pub id: i64,
    /// Application number.
    pub number: Option<String>,
    /// Status.
    pub status: Status,
    /// Programme.
    pub programme: Option<Programme>,
    /// Community.
    pub community: Option<CommunityRef>,
    /// Members.
    pub household_size: i32,
    /// Applicant's name, masked.
    pub applicant_name: Option<String>,
    /// Applicant's identity number, masked.
    pub applicant_id_number: Option<String>,
    /// Reviewer working the case.
    pub assigned_to: Option<i64>,
    /// When the case entered this status.
    pub status_since: DateTime<Utc>,
    /// When this stage is due (from the policy's deadlines, or the end of the notice).
    pub due_at: Option<DateTime<Utc>>,
    /// Whole days left until `due_at` (negative when overdue).
    pub days_left: Option<i64>,
    /// Past its deadline.
    pub overdue: bool,
    /// An unresolved duplicate flag exists.
    pub duplicate_open: bool,
    /// Warnings not yet confirmed or overruled.
    pub warnings_open: i32,
    /// Version for actions.
    pub version: i32,
}

/// A page of a work queue.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct QueueView {
    /// Cases.
    pub items: Vec<QueueItemView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A reason a case may be rejected for.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ReasonCodeView {
    /// Code.
    pub code: String,
    /// Label in the request's language.
    pub label: String,
}

/// An objection to a public notice.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ObjectionView {
    /// Objection id.
    pub id: i64,
    /// Objector's real name.
    pub name: String,
    /// Objector's contact.
    pub contact: String,
    /// What the objection says.
    pub content: String,
    /// Where the objection stands.
    pub status: entity::enums::ObjectionStatus,
    /// Filed at.
    pub filed_at: DateTime<Utc>,
    /// Decided by.
    pub resolved_by: Option<i64>,
    /// The investigator's note.
    pub note: Option<String>,
}

/// A staff member's view of a case's personal data.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AccessView {
    /// Staff account.
    pub user_id: i64,
    /// What was viewed.
    pub what: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A case's audit trail.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AuditView {
    /// Every event, oldest first.
    pub events: Vec<EventView>,
    /// Every view of the case's full personal data by staff.
    pub accesses: Vec<AccessView>,
}

/// How many notice windows were closed.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ClosedView {
    /// Cases moved to ready-to-report.
    pub moved: u64,
}

#[derive(ApiResponse)]
pub enum ActionResponse {
    /// The case after the action.
    #[oai(status = 200)]
    Ok(Json<ApplicationView>),
}

/// Asking for 复核 (reconsideration) of a refusal.
#[derive(Object, Deserialize, Clone)]
pub struct AppealRequest {
    /// The version of the case last seen.
    pub version: i32,
    /// Why the refusal is wrong (required, up to 2,000 characters).
    pub reasons: String,
    /// Facts the household says were wrong, and what they are (optional).
    pub corrected_facts: Option<String>,
}

/// The case under appeal and when the answer is due.
#[derive(Object)]
pub struct AppealView {
    /// The case, now under appeal.
    pub application: ApplicationView,
    /// The last day for the written answer.
    pub answer_due_on: chrono::NaiveDate,
    /// Working days counted to that day.
    pub working_days: u32,
    /// Whether every year counted has its holidays entered in the calendar (when not,
    /// Monday to Friday were counted).
    pub calendar_complete: bool,
}

#[derive(ApiResponse)]
pub enum AppealResponse {
    /// The appeal is filed; a confirmation goes to the outbox.
    #[oai(status = 201)]
    Created(Json<AppealView>),
}

#[derive(ApiResponse)]
pub enum BulkResponse {
    /// One result per case.
    #[oai(status = 200)]
    Ok(Json<BulkView>),
}

#[derive(ApiResponse)]
pub enum QueueResponse {
    /// A page of the queue.
    #[oai(status = 200)]
    Ok(Json<QueueView>),
}

#[derive(ApiResponse)]
pub enum ReasonCodesResponse {
    /// The list.
    #[oai(status = 200)]
    Ok(Json<Vec<ReasonCodeView>>),
}

#[derive(ApiResponse)]
pub enum ObjectionsResponse {
    /// The objections, oldest first.
    #[oai(status = 200)]
    Ok(Json<Vec<ObjectionView>>),
}

#[derive(ApiResponse)]
pub enum AuditResponse {
    /// The trail.
    #[oai(status = 200)]
    Ok(Json<AuditView>),
}

#[derive(ApiResponse)]
pub enum ClosedResponse {
    /// Done.
    #[oai(status = 200)]
    Ok(Json<ClosedView>),
}

async fn bulk_one(
    state: &AppState,
    caller: &Principal,
    req: &BulkRequest,
    item: &BulkItem,
) -> BulkResult {
    let input = ActionInput {
        version: item.version,
        comment: req.comment.clone(),
        reason_code: req.reason_code.clone(),
        ..Default::default()
    };
    match actions::act(state, caller, item.id, req.action, input).await {
        Ok(d) => BulkResult {
            id: item.id,
            ok: true,
            status: Some(d.case.status),
            version: Some(d.case.version),
            error_code: None,
            error_message: None,
        },
        Err(e) => {
            let (code, message) = ApiError::from(e).code_and_message();
            BulkResult {
                id: item.id,
                ok: false,
                status: None,
                version: None,
                error_code: Some(code),
                error_message: Some(message),
            }
        }
    }
}

pub struct ReviewApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Review")]
impl ReviewApi {
    /// Act on a case
    ///
    /// One action from the lifecycle table, carrying the version last seen. Refused with
    /// 409 when the status does not allow it or the version is stale, 403 for the wrong
    /// role or a conflict of interest, 422 when a required comment, reason or item is
    /// missing. Every action writes one event.
    #[oai(
        path = "/api/v1/applications/:id/actions",
        method = "post",
        operation_id = "review_act"
    )]
    async fn act(
        &self,
        auth: BearerAuth,
        id: Path<i64>,
        body: JsonBody<ActionRequest>,
    ) -> Result<ActionResponse, ApiError> {
        let d = actions::act(&self.state, &auth.0, id.0, body.0.action, body.0.input()).await?;
        Ok(ActionResponse::Ok(Json(d.into())))
    }

    /// Ask for 复核 (reconsideration) of a refusal (applicant)
    ///
    /// Against the eligibility check's refusal, a first-review rejection or the bureau's
    /// rejection, once per case, within the policy's window (working days from the
    /// refusal; 409 `appeal_window_closed` after, `already_appealed` the second time).
    /// The answer is due within the policy's working days; a reviewer other than the one
    /// who refused answers it (the bureau for its own refusals) with the `uphold_appeal`
    /// or `overturn_appeal` action.
    #[oai(
        path = "/api/v1/applications/:id/appeal",
        method = "post",
        operation_id = "applications_appeal"
    )]
    async fn appeal(
        &self,
        auth: BearerAuth,
        id: Path<i64>,
        body: JsonBody<AppealRequest>,
    ) -> Result<AppealResponse, ApiError> {
        let req = body.0;
        let text = |field: &str, v: &str| {
            crate::values::text(field, v.trim(), 2000).map_err(|e| ApiError::validation(vec![e]))
        };
        let reasons = text("reasons", &req.reasons)?;
        if reasons.is_empty() {
            return Err(ApiError::validation(vec![
                crate::error::FieldError::required("reasons"),
            ]));
        }
        let corrected = match req.corrected_facts.as_deref().map(str::trim) {
            Some(c) if !c.is_empty() => Some(text("corrected_facts", c)?),
            _ => None,
        };
        let (d, due) =
            super::appeals::file(&self.state, &auth.0, id.0, req.version, reasons, corrected)
                .await?;
        Ok(AppealResponse::Created(Json(AppealView {
            application: d.into(),
            answer_due_on: due.due_on,
            working_days: due.working_days,
            calendar_complete: due.calendar_complete,
        })))
    }

    /// Act on several cases
    ///
    /// Accept, pass or reject several cases; each is its own transaction, so one bad
    /// case does not undo the others.
    #[oai(
        path = "/api/v1/review/bulk",
        method = "post",
        operation_id = "review_bulk"
    )]
    async fn bulk(
        &self,
        auth: BearerAuth,
        body: JsonBody<BulkRequest>,
    ) -> Result<BulkResponse, ApiError> {
        let req = body.0;
        if !matches!(
            req.action,
            Action::Accept | Action::PassReview | Action::Reject
        ) {
            return Err(ApiError::validation(vec![crate::error::FieldError::new(
                "action",
                "not_bulk",
                Msg::new(
                    "批量操作只支持受理、通过和驳回",
                    "bulk takes accept, pass_review or reject",
                ),
            )]));
        }
        let mut results = Vec::with_capacity(req.items.len());
        for item in &req.items {
            results.push(bulk_one(&self.state, &auth.0, &req, item).await);
        }
        let succeeded = results.iter().filter(|r| r.ok).count() as u32;
        let failed = results.len() as u32 - succeeded;
        Ok(BulkResponse::Ok(Json(BulkView {
            results,
            succeeded,
            failed,
        })))
    }

    /// Work queue
    ///
    /// The cases in the caller's scope in one status, longest waiting first, with
    /// deadlines from the policy. Reviewers see their communities, supervisors their
    /// sub-district.
    #[oai(
        path = "/api/v1/review/queue",
        method = "get",
        operation_id = "review_queue"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn queue(
        &self,
        auth: BearerAuth,
        /// Status of the queue (default `eligible`).
        status: Query<Option<Status>>,
        /// Only this programme.
        programme: Query<Option<Programme>>,
        /// Only this community (code).
        community: Query<Option<String>>,
        /// Whose cases (default anyone's).
        assigned: Query<Option<AssignedFilter>>,
        /// Only cases with (true) or without (false) an open duplicate flag.
        flagged_duplicate: Query<Option<bool>>,
        /// Only cases with (true) or without (false) open warnings.
        has_warnings: Query<Option<bool>>,
        /// Only overdue (true) or on-time (false) cases.
        overdue: Query<Option<bool>>,
        /// Order (default oldest first).
        order: Query<Option<QueueOrder>>,
        /// The previous page's `next_cursor`.
        cursor: Query<Option<String>>,
        /// Page size, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u64>>,
    ) -> Result<QueueResponse, ApiError> {
        let q = QueueQuery {
            status: status.0.unwrap_or(Status::Eligible),
            programme: programme.0,
            community_code: community.0,
            assigned: match assigned.0 {
                Some(AssignedFilter::Me) => Assigned::Me,
                Some(AssignedFilter::Unassigned) => Assigned::Unassigned,
                _ => Assigned::Anyone,
            },
            flagged_duplicate: flagged_duplicate.0,
            has_warnings: has_warnings.0,
            overdue: overdue.0,
            order: if order.0 == Some(QueueOrder::Newest) {
                Order::Newest
            } else {
                Order::Oldest
            },
            cursor: cursor.0,
            limit: limit.0.unwrap_or(20),
        };
        let page = queue::queue(&self.state, &auth.0, q).await?;
        let now = self.state.clock.now();
        let items = page
            .items
            .into_iter()
            .map(|item| {
                let (name, id_number) = crate::applications::applicant_masked(&item.case);
                let days_left = item
                    .due_at
                    .map(|d| (d - now).num_seconds().div_euclid(86_400));
                QueueItemView {
                    id: item.case.id,
                    number: item.case.number,
                    status: item.case.status,
                    programme: item.case.programme,
                    community: item.community.map(|c| CommunityRef {
                        code: c.code,
                        name: c.name,
                    }),
                    household_size: item.case.household_size,
                    applicant_name: name,
                    applicant_id_number: id_number,
                    assigned_to: item.case.assigned_to,
                    status_since: item.case.status_since,
                    due_at: item.due_at,
                    days_left,
                    overdue: item.due_at.is_some_and(|d| d < now),
                    duplicate_open: item.case.duplicate_open,
                    warnings_open: item.case.warnings_open,
                    version: item.case.version,
                }
            })
            .collect();
        Ok(QueueResponse::Ok(Json(QueueView {
            items,
            next_cursor: page.next_cursor,
        })))
    }

    /// Reason codes
    ///
    /// The maintained list of reasons a case may be rejected for.
    #[oai(
        path = "/api/v1/review/reason-codes",
        method = "get",
        operation_id = "review_reason_codes"
    )]
    async fn reason_codes(&self, _auth: BearerAuth) -> Result<ReasonCodesResponse, ApiError> {
        let lang = Lang::current();
        Ok(ReasonCodesResponse::Ok(Json(
            REASON_CODES
                .iter()
                .map(|(code, zh, en)| ReasonCodeView {
                    code: (*code).into(),
                    label: Msg::new(*zh, *en).get(lang).to_string(),
                })
                .collect(),
        )))
    }

    /// Objections to a case
    #[oai(
        path = "/api/v1/applications/:id/objections",
        method = "get",
        operation_id = "review_objections"
    )]
    async fn objections(
        &self,
        auth: BearerAuth,
        id: Path<i64>,
    ) -> Result<ObjectionsResponse, ApiError> {
        let rows = service::objections_of(&self.state, &auth.0, id.0).await?;
        Ok(ObjectionsResponse::Ok(Json(
            rows.into_iter()
                .map(|o| ObjectionView {
                    id: o.id,
                    name: o.name,
                    contact: o.contact,
                    content: o.content,
                    status: o.status,
                    filed_at: o.filed_at,
                    resolved_by: o.resolved_by,
                    note: o.note,
                })
                .collect(),
        )))
    }

    /// Audit trail of a case
    ///
    /// Every event and every view of the case's full personal data by staff.
    #[oai(
        path = "/api/v1/applications/:id/audit",
        method = "get",
        operation_id = "review_audit"
    )]
    async fn audit(&self, auth: BearerAuth, id: Path<i64>) -> Result<AuditResponse, ApiError> {
        let (events, accesses) = service::audit(&self.state, &auth.0, id.0).await?;
        Ok(AuditResponse::Ok(Json(AuditView {
            events: events.into_iter().map(EventView::from).collect(),
            accesses: accesses
                .into_iter()
                .map(|a| AccessView {
                    user_id: a.user_id,
                    what: a.what,
                    at: a.at,
                })
                .collect(),
        })))
    }

    /// Close ended notice windows (supervisor, admin)
    ///
    /// Moves every case whose notice has ended without an open or upheld objection to
    /// ready-to-report. `anju serve` also does this every minute.
    #[oai(
        path = "/api/v1/review/notices/close-due",
        method = "post",
        operation_id = "review_close_due"
    )]
    async fn close_due(&self, auth: BearerAuth) -> Result<ClosedResponse, ApiError> {
        let moved = service::close_due_notices(&self.state, Some(&auth.0)).await?;
        Ok(ClosedResponse::Ok(Json(ClosedView { moved })))
    }
}
