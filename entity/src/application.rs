//! One household's application for one programme: the case.

use sea_orm::entity::prelude::*;

use crate::enums::{ApplicantClass, CaseStatus, Language, Programme, Source};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "application")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `410104003-2026-000123`, assigned on first submission.
    #[sea_orm(unique)]
    pub number: Option<String>,
    /// The applicant's account; absent for a paper application entered at the counter.
    pub applicant_id: Option<i64>,
    /// The staff member who entered a counter application.
    pub entered_by: Option<i64>,
    pub source: Source,
    /// Absent in an early draft.
    pub programme: Option<Programme>,
    pub applicant_class: Option<ApplicantClass>,
    pub community_id: Option<i64>,
    pub status: CaseStatus,
    /// The household form as JSON (see `applications::form::Form`; read it through
    /// `applications::repository::form_of`, which refuses an unreadable one).
    pub form: Json,
    /// The applicant's name as in the form, for messages and lists.
    pub applicant_name: Option<String>,
    /// The applicant's identity number masked (`4101**********0037`), for lists.
    pub applicant_id_masked: Option<String>,
    /// Warnings for the reviewer to confirm, as JSON.
    pub warnings: Json,
    pub household_size: i32,
    pub contact_email: Option<String>,
    pub language: Language,
    /// Optimistic-concurrency version, bumped by every change.
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub submitted_at: Option<DateTimeUtc>,
    /// When the case entered its current status (deadlines count from here).
    pub status_since: DateTimeUtc,
    /// The reviewer working the case.
    pub assigned_to: Option<i64>,
    /// End of the public notice window (公示), while on notice.
    pub notice_ends_at: Option<DateTimeUtc>,
    /// The last local day for the answer to a 复核, while one is open (working days).
    pub appeal_due_on: Option<Date>,
    /// While waitlisted or housed: the day the next annual re-verification (年审) is due.
    pub reverify_due_on: Option<Date>,
    /// The last day the household was reminded of it.
    pub reverify_reminded_on: Option<Date>,
    /// An unresolved duplicate flag exists (kept in step with `duplicate_flag`).
    pub duplicate_open: bool,
    /// Warnings and soft-rule flags not yet confirmed or overruled.
    pub warnings_open: i32,
    /// Policy version of the latest eligibility decision.
    pub policy_version: Option<String>,
    /// Waiting-list (轮候) number per programme, given on approval.
    pub waitlist_number: Option<i64>,
    /// After declining an offer under a bar penalty: no offer before this day.
    pub barred_until: Option<Date>,
}

/// A case as a list shows it: the row without the form and the warnings (a queue page
/// that read and parsed twenty forms for two masked fields spent most of its time there).
#[derive(Clone, Debug, PartialEq, DerivePartialModel)]
#[sea_orm(entity = "Entity")]
pub struct Listed {
    pub id: i64,
    pub number: Option<String>,
    pub status: CaseStatus,
    pub programme: Option<Programme>,
    pub community_id: Option<i64>,
    pub household_size: i32,
    pub applicant_name: Option<String>,
    pub applicant_id_masked: Option<String>,
    pub version: i32,
    pub status_since: DateTimeUtc,
    pub assigned_to: Option<i64>,
    pub notice_ends_at: Option<DateTimeUtc>,
    pub duplicate_open: bool,
    pub warnings_open: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
