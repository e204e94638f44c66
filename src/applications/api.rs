//! HTTP for applications: drafts, submission with a receipt, the case view with its
//! history, the caller's list, withdrawal.

use chrono::{DateTime, NaiveDate, Utc};
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::form::{ApplicantClass, Form, Programme};
use super::service::{self, CaseDetail, CaseSummary, IdempotencyKey, Receipt, Submitted};
use crate::access::BearerAuth;
use crate::error::{ApiError, FieldError};
use crate::http::body::JsonBody;
use crate::i18n::{Lang, Msg};
use crate::lifecycle::{Action, Status, case_table as lifecycle};
use crate::openapi::ApiTags;
use crate::state::AppState;
use crate::values::IdNumber;
use entity::enums::Source;

/// A place a case is filed in.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CommunityRef {
    /// Community code.
    pub code: String,
    /// Community name.
    pub name: String,
}

/// Something unusual for a reviewer to confirm; it does not block submission.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct WarningView {
    /// Path of the field concerned, e.g. `members[1].annual_income_fen`.
    pub field: String,
    /// Stable code, e.g. `zero_income_working_age`.
    pub code: String,
    /// Explanation in the request's language.
    pub message: String,
}

fn warning_views(ws: &[super::domain::Warning]) -> Vec<WarningView> {
    let lang = Lang::current();
    ws.iter()
        .map(|w| WarningView {
            field: w.field.clone(),
            code: w.code.clone(),
            message: Msg::new(w.zh.clone(), w.en.clone()).get(lang).to_string(),
        })
        .collect()
}

/// One entry of a case's history.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct EventView {
    /// Event id (ascending in time).
    pub id: i64,
    /// What was done, e.g. `submit`, `withdraw`.
    pub action: Action,
    /// Status before.
    pub from_status: Option<Status>,
    /// Status after.
    pub to_status: Status,
    /// Account that acted; absent for the system.
    pub actor_id: Option<i64>,
    /// Reason code, where the action takes one.
    pub reason_code: Option<String>,
    /// Comment or opinion text.
    pub comment: Option<String>,
    /// Policy version in force for the action, where relevant.
    pub policy_version: Option<String>,
    /// When (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
}

/// A person found in another active case. Shown to staff only.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct DuplicateView {
    /// Flag id, for resolving it.
    pub id: i64,
    /// Index of the member in this case.
    pub member_index: i32,
    /// Number of the other case.
    pub other_application_number: Option<String>,
    /// Id of the other case.
    pub other_application_id: i64,
    /// Index of the same person in the other case.
    pub other_member_index: i32,
    /// `not_duplicate` or `duplicate` once resolved.
    pub resolution: Option<String>,
}

/// Facts derived from a member's identity number (never typed twice).
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct MemberFactsView {
    /// Index in `form.members`.
    pub index: i32,
    /// Birth date from the identity number.
    pub birth_date: Option<NaiveDate>,
    /// Age in whole years today.
    pub age: Option<i32>,
}

/// A re-verification declaration.
#[derive(Object, Deserialize)]
pub struct ReverificationRequest {
    /// The version of the case last seen.
    pub version: i32,
    /// The household as it is now.
    pub form: Form,
}

/// What the re-verification came to.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ReverificationView {
    /// The case after it.
    pub application: ApplicationView,
    /// The household still qualifies.
    pub continued: bool,
    /// When it continues: the next re-verification's day.
    pub next_due_on: Option<NaiveDate>,
    /// When a low-rent household no longer qualifies for low-rent housing but does for
    /// public rental housing: `public_rental`, the programme it continues in (with a new
    /// waiting-list number if it is still waiting).
    pub adjusted_to: Option<Programme>,
}

#[derive(ApiResponse)]
pub enum ReverificationResponse {
    /// Re-checked.
    #[oai(status = 200)]
    Ok(Json<ReverificationView>),
}

/// A case, in full.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ApplicationView {
    /// Case id.
    pub id: i64,
    /// Application number, e.g. `410104003-2026-000123` (assigned on submission).
    pub number: Option<String>,
    /// Where the case stands.
    pub status: Status,
    /// When it entered that status.
    pub status_since: DateTime<Utc>,
    /// `online`, or `counter` for a paper application entered by staff.
    pub source: Source,
    /// Community filed in.
    pub community: Option<CommunityRef>,
    /// Version for optimistic concurrency: send it back with changes.
    pub version: i32,
    /// The household form (identity numbers in full: the applicant's own data, or staff in scope).
    pub form: Form,
    /// Birth dates and ages derived from the identity numbers.
    pub member_facts: Vec<MemberFactsView>,
    /// Warnings for the reviewer to confirm.
    pub warnings: Vec<WarningView>,
    /// Duplicate flags (staff only; always empty for applicants).
    pub duplicates: Vec<DuplicateView>,
    /// The case's history, oldest first.
    pub events: Vec<EventView>,
    /// What happens next, in the request's language.
    pub next_step: String,
    /// The latest eligibility decision, explained rule by rule.
    pub eligibility: Option<crate::eligibility::api::DecisionView>,
    /// Created (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// First submitted.
    pub submitted_at: Option<DateTime<Utc>>,
    /// While a 复核 is open: the last day for its written answer (working days counted
    /// by the calendar).
    pub appeal_due_on: Option<chrono::NaiveDate>,
    /// While waitlisted or housed: the day the next annual re-verification (年审) is due.
    pub reverify_due_on: Option<chrono::NaiveDate>,
    /// Once approved: the household's number on its programme's waiting list (轮候号).
    pub waitlist_number: Option<i64>,
}

fn community_ref(p: &Option<crate::places::Place>) -> Option<CommunityRef> {
    p.as_ref().map(|c| CommunityRef {
        code: c.code.clone(),
        name: c.name.clone(),
    })
}

impl From<crate::lifecycle::history::CaseEvent> for EventView {
    fn from(e: crate::lifecycle::history::CaseEvent) -> Self {
        EventView {
            id: e.id,
            action: e.action,
            from_status: e.from_status,
            to_status: e.to_status,
            actor_id: e.actor_id,
            reason_code: e.reason_code,
            comment: e.comment,
            policy_version: e.policy_version,
            created_at: e.created_at,
        }
    }
}

impl From<CaseDetail> for ApplicationView {
    fn from(d: CaseDetail) -> Self {
        let status = d.case.status;
        let today = crate::clock::local_date(Utc::now());
        let member_facts = d
            .form
            .members
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, m)| {
                let id = m
                    .id_number
                    .as_deref()
                    .and_then(|raw| IdNumber::parse("", raw, today).ok());
                let birth = id.as_ref().and_then(IdNumber::birth_date);
                MemberFactsView {
                    index: i as i32,
                    birth_date: birth,
                    age: birth.map(|b| today.years_since(b).map_or(0, |y| y as i32)),
                }
            })
            .collect();
        ApplicationView {
            id: d.case.id,
            number: d.case.number,
            status,
            status_since: d.case.status_since,
            source: d.case.source,
            community: community_ref(&d.community),
            version: d.case.version,
            form: d.form,
            member_facts,
            warnings: warning_views(&d.warnings),
            duplicates: d
                .duplicates
                .into_iter()
                .map(|(f, number)| DuplicateView {
                    id: f.id,
                    member_index: f.member_index,
                    other_application_number: number,
                    other_application_id: f.other_application_id,
                    other_member_index: f.other_member_index,
                    resolution: f.resolution,
                })
                .collect(),
            events: d.events.into_iter().map(EventView::from).collect(),
            next_step: lifecycle::next_step(status)
                .get(Lang::current())
                .to_string(),
            eligibility: d.decision.map(Into::into),
            created_at: d.case.created_at,
            submitted_at: d.case.submitted_at,
            appeal_due_on: d.case.appeal_due_on,
            reverify_due_on: d.case.reverify_due_on,
            waitlist_number: d.case.waitlist_number,
        }
    }
}

/// A case in a list: personal data masked.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ApplicationSummary {
    /// Case id.
    pub id: i64,
    /// Application number.
    pub number: Option<String>,
    /// Where the case stands.
    pub status: Status,
    /// Programme.
    pub programme: Option<Programme>,
    /// Applicant class.
    pub applicant_class: Option<ApplicantClass>,
    /// Community filed in.
    pub community: Option<CommunityRef>,
    /// Members in the household.
    pub household_size: i32,
    /// Applicant's name, masked (张*明).
    pub applicant_name: Option<String>,
    /// Applicant's identity number, masked (4101**********0037).
    pub applicant_id_number: Option<String>,
    /// Version for optimistic concurrency.
    pub version: i32,
    /// First submitted.
    pub submitted_at: Option<DateTime<Utc>>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<CaseSummary> for ApplicationSummary {
    fn from(s: CaseSummary) -> Self {
        let (applicant_name, applicant_id_number) = s.form.applicant_masked();
        ApplicationSummary {
            id: s.case.id,
            number: s.case.number,
            status: s.case.status,
            programme: s.form.programme,
            applicant_class: s.form.applicant_class,
            community: community_ref(&s.community),
            household_size: s.case.household_size,
            applicant_name,
            applicant_id_number,
            version: s.case.version,
            submitted_at: s.case.submitted_at,
            updated_at: s.case.updated_at,
        }
    }
}

/// A page of cases.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ApplicationPage {
    /// Cases, newest first.
    pub items: Vec<ApplicationSummary>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next_before: Option<i64>,
}

/// The receipt for a submission: the written receipt the rules require.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ReceiptView {
    /// Case id.
    pub application_id: i64,
    /// Application number, e.g. `410104003-2026-000123`.
    pub number: String,
    /// Status right after submission.
    pub status: String,
    /// When it was submitted (RFC 3339, UTC).
    pub submitted_at: DateTime<Utc>,
    /// Community it was filed in.
    pub community_code: String,
    /// Warnings for the reviewer to confirm (they did not block submission).
    pub warnings: Vec<WarningView>,
}

impl From<Receipt> for ReceiptView {
    fn from(r: Receipt) -> Self {
        ReceiptView {
            application_id: r.application_id,
            number: r.number,
            status: r.status,
            submitted_at: r.submitted_at,
            community_code: r.community_code,
            warnings: warning_views(&r.warnings),
        }
    }
}

/// Submission of a draft.
#[derive(Object, Deserialize, Serialize)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// The version the caller last saw; a stale one gets 409.
    pub version: Option<i32>,
}

/// Withdrawal by the applicant.
#[derive(Object, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    /// The version the caller last saw; a stale one gets 409.
    pub version: Option<i32>,
    /// Why, optionally, up to 500 characters.
    #[oai(validator(max_length = 500))]
    pub reason: Option<String>,
}

#[derive(ApiResponse)]
pub enum ApplicationResponse {
    /// The draft was created.
    #[oai(status = 201)]
    Created(Json<ApplicationView>),
    /// The case.
    #[oai(status = 200)]
    Ok(Json<ApplicationView>),
}

#[derive(ApiResponse)]
pub enum CreatedResponse {
    /// The draft was created, or (with `Idempotency-Key`) the application was filed.
    #[oai(status = 201)]
    Created(
        Json<ApplicationView>,
        /// `true` when this is the case an earlier identical request filed.
        #[oai(header = "Idempotency-Replayed")]
        Option<String>,
    ),
}

#[derive(ApiResponse)]
pub enum PageResponse {
    /// A page of cases.
    #[oai(status = 200)]
    Ok(Json<ApplicationPage>),
}

#[derive(ApiResponse)]
pub enum SubmitResponse {
    /// Submitted; the receipt. A retry with the same key and body gets the same receipt
    /// again, with `Idempotency-Replayed: true`.
    #[oai(status = 201)]
    Created(
        Json<ReceiptView>,
        /// `true` when this is the stored answer to an earlier identical request.
        #[oai(header = "Idempotency-Replayed")]
        Option<String>,
    ),
}

#[derive(ApiResponse)]
pub enum DeletedResponse {
    /// The draft was deleted.
    #[oai(status = 204)]
    Deleted,
}

/// Reads a version from `If-Match` (`3` or `"3"`).
fn version_from(if_match: &str) -> Result<i32, ApiError> {
    if_match.trim().trim_matches('"').parse().map_err(|_| {
        ApiError::validation(vec![FieldError::new(
            "If-Match",
            "invalid_version",
            Msg::new(
                "If-Match 应为案件版本号",
                "If-Match must be the case version",
            ),
        )])
    })
}

pub struct ApplicationApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Applications")]
impl ApplicationApi {
    /// Start an application (draft), or file a complete one at once
    ///
    /// Without `Idempotency-Key`: saves a draft; only limits are checked now (submission
    /// checks everything). With one: the form is submitted in the same request (one-shot
    /// submission: checked as a whole, 422 listing every problem and nothing saved), and
    /// the answer is the submitted case with its number and eligibility decision; the same
    /// key and form answer the same case again (`Idempotency-Replayed: true`), the same key
    /// with another form is refused (422). An applicant files for their own household; a
    /// reviewer enters a paper application (source `counter`) in a community of their scope.
    #[oai(
        path = "/api/v1/applications",
        method = "post",
        operation_id = "applications_create"
    )]
    async fn create(
        &self,
        auth: BearerAuth,
        /// Submit at once, exactly once per key (1 to 128 characters).
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 128))]
        key: Header<Option<String>>,
        body: JsonBody<Form>,
    ) -> Result<CreatedResponse, ApiError> {
        let Some(key) = key.0 else {
            let d = service::create_draft(&self.state, &auth.0, body.0).await?;
            return Ok(CreatedResponse::Created(Json(d.into()), None));
        };
        let canonical = serde_json::to_string(&body.0).unwrap_or_default();
        let key = IdempotencyKey {
            key,
            request_hash: hex::encode(Sha256::digest(format!("create:{canonical}"))),
        };
        let (d, replayed) =
            super::submission::create_and_submit(&self.state, &auth.0, body.0, key).await?;
        Ok(CreatedResponse::Created(
            Json(d.into()),
            replayed.then(|| "true".into()),
        ))
    }

    /// List applications
    ///
    /// An applicant's own cases, or the cases in a staff member's scope, newest first,
    /// with names and identity numbers masked.
    #[oai(
        path = "/api/v1/applications",
        method = "get",
        operation_id = "applications_list"
    )]
    async fn list(
        &self,
        auth: BearerAuth,
        /// Return cases with an id below this (the previous page's `next_before`).
        before: Query<Option<i64>>,
        /// Page size, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u64>>,
    ) -> Result<PageResponse, ApiError> {
        let limit = limit.0.unwrap_or(20);
        let rows = service::list(&self.state, &auth.0, before.0, limit).await?;
        let next_before = (rows.len() as u64 == limit)
            .then(|| rows.last().map(|r| r.case.id))
            .flatten();
        Ok(PageResponse::Ok(Json(ApplicationPage {
            items: rows.into_iter().map(ApplicationSummary::from).collect(),
            next_before,
        })))
    }

    /// Read an application
    ///
    /// The full case with its history and what happens next. Anyone else's case
    /// answers 404.
    #[oai(
        path = "/api/v1/applications/:id",
        method = "get",
        operation_id = "applications_get"
    )]
    async fn get(&self, auth: BearerAuth, id: Path<i64>) -> Result<ApplicationResponse, ApiError> {
        let d = service::get(&self.state, &auth.0, id.0).await?;
        Ok(ApplicationResponse::Ok(Json(d.into())))
    }

    /// Change a draft
    ///
    /// Partial update: every field present replaces the stored one (lists are replaced
    /// whole). Needs `If-Match` with the version last seen. Also used to correct a case
    /// returned for correction.
    #[oai(
        path = "/api/v1/applications/:id",
        method = "patch",
        operation_id = "applications_update"
    )]
    async fn update(
        &self,
        auth: BearerAuth,
        id: Path<i64>,
        /// The case version last seen.
        #[oai(name = "If-Match")]
        if_match: Header<String>,
        body: JsonBody<Form>,
    ) -> Result<ApplicationResponse, ApiError> {
        let version = version_from(&if_match.0)?;
        let d = service::update_draft(&self.state, &auth.0, id.0, version, body.0).await?;
        Ok(ApplicationResponse::Ok(Json(d.into())))
    }

    /// Delete a draft
    #[oai(
        path = "/api/v1/applications/:id",
        method = "delete",
        operation_id = "applications_delete"
    )]
    async fn delete(
        &self,
        auth: BearerAuth,
        id: Path<i64>,
        /// The case version last seen.
        #[oai(name = "If-Match")]
        if_match: Header<String>,
    ) -> Result<DeletedResponse, ApiError> {
        let version = version_from(&if_match.0)?;
        service::delete_draft(&self.state, &auth.0, id.0, version).await?;
        Ok(DeletedResponse::Deleted)
    }

    /// Submit an application
    ///
    /// Checks the whole form (422 lists every problem), assigns the application number,
    /// writes the receipt e-mail to the outbox and flags people found in other active
    /// cases. Exactly once per `Idempotency-Key`: the same key and body answer the
    /// original receipt; the same key with another body is refused (422).
    #[oai(
        path = "/api/v1/applications/:id/submit",
        method = "post",
        operation_id = "applications_submit"
    )]
    async fn submit(
        &self,
        auth: BearerAuth,
        id: Path<i64>,
        /// A client-chosen key, 1 to 128 characters, unique per submission attempt.
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 128))]
        key: Header<String>,
        body: JsonBody<SubmitRequest>,
    ) -> Result<SubmitResponse, ApiError> {
        let canonical = serde_json::to_string(&body.0).unwrap_or_default();
        let request_hash = hex::encode(Sha256::digest(format!("submit:{}:{canonical}", id.0)));
        let key = IdempotencyKey {
            key: key.0,
            request_hash,
        };
        match service::submit(&self.state, &auth.0, id.0, body.0.version, key).await? {
            Submitted::Fresh(r) => Ok(SubmitResponse::Created(Json(r.into()), None)),
            Submitted::Replayed(r) => {
                Ok(SubmitResponse::Created(Json(r.into()), Some("true".into())))
            }
        }
    }

    /// Declare for the annual re-verification (年审) (applicant)
    ///
    /// For a household on the waiting list or housed: the household's current members,
    /// income and housing, in the application form's shape and checked the same way
    /// (422 naming each bad field). The engine re-checks it under the policy in force:
    /// the household continues (`continued`, with the next day due), continues in public
    /// rental housing when a low-rent household qualifies only for that now
    /// (`adjusted_to`), or leaves the programme (with the failed rules in the case's
    /// decision); either change may be taken to 复核.
    #[oai(
        path = "/api/v1/applications/:id/reverification",
        method = "post",
        operation_id = "applications_reverify"
    )]
    async fn reverify(
        &self,
        auth: BearerAuth,
        id: Path<i64>,
        body: JsonBody<ReverificationRequest>,
    ) -> Result<ReverificationResponse, ApiError> {
        let r =
            super::reverification::declare(&self.state, &auth.0, id.0, body.0.version, body.0.form)
                .await?;
        Ok(ReverificationResponse::Ok(Json(ReverificationView {
            application: r.detail.into(),
            continued: r.continued,
            next_due_on: r.next_due_on,
            adjusted_to: r.adjusted_to,
        })))
    }

    /// Withdraw an application
    ///
    /// The applicant withdraws, any time before allocation. A confirmation goes to the
    /// outbox.
    #[oai(
        path = "/api/v1/applications/:id/withdraw",
        method = "post",
        operation_id = "applications_withdraw"
    )]
    async fn withdraw(
        &self,
        auth: BearerAuth,
        id: Path<i64>,
        body: JsonBody<WithdrawRequest>,
    ) -> Result<ApplicationResponse, ApiError> {
        let d =
            service::withdraw(&self.state, &auth.0, id.0, body.0.version, body.0.reason).await?;
        Ok(ApplicationResponse::Ok(Json(d.into())))
    }
}
