//! Application use cases: drafts, reading with scope, withdrawal, and the case reads and
//! small writes other domains ask for (review, batches, reports). Submission is in
//! `submission`. Owns the transactions; every status change goes through the case
//! writer (`crate::lifecycle::case_writer`).

use chrono::{DateTime, Utc};
use entity::{application, duplicate_flag};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr};

use super::domain::{self, Warning};
use super::form::{Form, Language};
use super::repository as repo;
pub use super::simulation::{Simulation, simulate};
pub use super::submission::{IdempotencyKey, Receipt, Submitted, submit};
use crate::access::{Principal, Role};
use crate::eligibility::{self, engine::Decision};
use crate::error::FieldError;
use crate::i18n::Msg;
use crate::lifecycle::case_writer::{self, Actor, Change, Locked};
use crate::lifecycle::history::{self, CaseEvent};
use crate::lifecycle::{Action, LifecycleError, Status};
use crate::places::{self, Place, PlaceKind};
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum ApplicationError {
    #[error("no such application")]
    NotFound,
    #[error("the caller's role may not do this")]
    Forbidden,
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("not allowed while the case is {0:?}")]
    WrongStatus(Status),
    #[error("the case changed since version {0}")]
    Stale(i32),
    #[error("this Idempotency-Key was used with a different request")]
    KeyReused,
    #[error("too many open drafts")]
    TooManyDrafts,
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl From<LifecycleError> for ApplicationError {
    fn from(e: LifecycleError) -> Self {
        use LifecycleError as L;
        match e {
            L::WrongStatus(s) => ApplicationError::WrongStatus(s),
            L::Forbidden => ApplicationError::Forbidden,
            L::Stale(v) => ApplicationError::Stale(v),
            L::Invalid(f) => ApplicationError::Invalid(f),
            L::NotFound => ApplicationError::NotFound,
            L::Db(db) => ApplicationError::Db(db),
            other => ApplicationError::Db(DbErr::Custom(other.to_string())),
        }
    }
}

/// Who is looking, and which communities a staff member covers.
#[derive(Clone)]
pub struct Viewer {
    pub user_id: i64,
    pub role: Role,
    pub communities: Vec<i64>,
    /// A staff member's own keyed identity hash (see `Principal::id_hash`).
    pub id_hash: Option<String>,
}

impl Viewer {
    pub async fn of(state: &AppState, caller: &Principal) -> Result<Viewer, DbErr> {
        let communities = if crate::access::scope_kind(caller.role).is_some() {
            places::service::communities_within_cached(state, &caller.place_ids).await?
        } else {
            vec![]
        };
        Ok(Viewer {
            user_id: caller.user_id,
            role: caller.role,
            communities,
            id_hash: caller.id_hash.clone(),
        })
    }

    pub fn is_staff(&self) -> bool {
        matches!(self.role, Role::Reviewer | Role::Supervisor | Role::Bureau)
    }

    /// The person, as the case writer records them.
    pub fn actor(&self) -> Actor {
        Actor::Person {
            user_id: self.user_id,
            role: self.role,
        }
    }

    /// Who sees a case: its applicant; staff of its community once it is submitted;
    /// a draft only its author (an online draft is the applicant's alone, a counter draft
    /// the clerk's who entered it).
    fn can_see(&self, m: &application::Model) -> bool {
        match self.role {
            Role::Applicant => m.applicant_id == Some(self.user_id),
            Role::Reviewer | Role::Supervisor | Role::Bureau if m.status == Status::Draft => {
                m.entered_by == Some(self.user_id)
            }
            Role::Reviewer | Role::Supervisor | Role::Bureau => m
                .community_id
                .is_some_and(|c| self.communities.contains(&c)),
            Role::Admin => false,
        }
    }

    /// A staff member whose own household is on the case sees nothing of it (as if it
    /// did not exist): they may neither read it nor act on it.
    async fn own_household(&self, db: &impl ConnectionTrait, case_id: i64) -> Result<bool, DbErr> {
        match &self.id_hash {
            Some(hash) if self.is_staff() => repo::has_member_hash(db, case_id, hash).await,
            _ => Ok(false),
        }
    }

    /// Staff submit only the counter applications they entered themselves.
    pub fn may_submit(&self, m: &application::Model) -> bool {
        !self.is_staff() || m.entered_by == Some(self.user_id)
    }
}

/// A case with everything its detail view shows.
pub struct CaseDetail {
    pub case: application::Model,
    pub form: Form,
    pub community: Option<Place>,
    pub events: Vec<CaseEvent>,
    /// Duplicate flags with the other case's number; empty unless the viewer is staff.
    pub duplicates: Vec<(duplicate_flag::Model, Option<String>)>,
    pub warnings: Vec<Warning>,
    pub staff_view: bool,
    /// The latest eligibility decision, if the case has been checked.
    pub decision: Option<Decision>,
}

/// The stored form of a case; an unreadable one is an error, never an empty form.
pub fn form_of(case: &application::Model) -> Result<Form, DbErr> {
    repo::form_of(case)
}

/// The stored warnings of a case; unreadable ones are an error.
pub fn warnings_of(case: &application::Model) -> Result<Vec<Warning>, DbErr> {
    repo::warnings_of(case)
}

/// A case the viewer may see, or `NotFound` (never `Forbidden`: another applicant's
/// case id must not be confirmed to exist).
pub async fn visible(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i64,
) -> Result<application::Model, ApplicationError> {
    match repo::find(db, id).await? {
        Some(m) if viewer.can_see(&m) && !viewer.own_household(db, id).await? => Ok(m),
        _ => Err(ApplicationError::NotFound),
    }
}

/// A case the viewer may see, locked for a change in the caller's transaction.
pub async fn lock_visible(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i64,
) -> Result<Locked, ApplicationError> {
    match case_writer::lock(db, id).await? {
        Some(l) if viewer.can_see(l.case()) && !viewer.own_household(db, id).await? => Ok(l),
        _ => Err(ApplicationError::NotFound),
    }
}

/// Resolves the community named in a form, checking it is a community and, for staff
/// entering a counter application, in their scope.
pub(super) async fn resolve_community(
    state: &AppState,
    viewer: &Viewer,
    code: Option<&str>,
) -> Result<Result<Option<Place>, FieldError>, DbErr> {
    let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(Ok(None));
    };
    let found =
        places::service::resolve_codes_cached(state, "community_code", &[code.to_string()]).await?;
    let place = match found {
        Ok(mut v) if !v.is_empty() => v.remove(0),
        _ => {
            return Ok(Err(FieldError::new(
                "community_code",
                "unknown_community",
                Msg::new(
                    format!("没有代码为 {code} 的社区"),
                    format!("no community has code {code}"),
                ),
            )));
        }
    };
    if place.kind != PlaceKind::Community {
        return Ok(Err(FieldError::new(
            "community_code",
            "not_a_community",
            Msg::new(
                "申请必须提交到社区",
                "applications are filed in a community",
            ),
        )));
    }
    if viewer.is_staff() && !viewer.communities.contains(&place.id) {
        return Ok(Err(FieldError::new(
            "community_code",
            "outside_scope",
            Msg::new(
                "该社区不在您的管辖范围内",
                "this community is outside your scope",
            ),
        )));
    }
    Ok(Ok(Some(place)))
}

/// The columns a form fills (also on submission, from the normalised form).
pub(super) fn form_columns(
    form: &Form,
    community: Option<&Place>,
    now: DateTime<Utc>,
) -> Result<application::ActiveModel, ApplicationError> {
    let json = serde_json::to_value(form).map_err(|e| DbErr::Json(e.to_string()))?;
    Ok(application::ActiveModel {
        programme: Set(form.programme),
        applicant_class: Set(form.applicant_class),
        community_id: Set(community.map(|c| c.id)),
        form: Set(json),
        applicant_name: Set(form.applicant().and_then(|m| m.name.clone())),
        applicant_id_masked: Set(form.applicant_masked().1),
        household_size: Set(form.members.as_ref().map_or(0, |m| m.len() as i32)),
        contact_email: Set(form.contact_email.clone()),
        language: Set(form.language.unwrap_or(Language::Zh)),
        updated_at: Set(now),
        ..Default::default()
    })
}

/// Open drafts one account may have at once.
pub const MAX_OPEN_DRAFTS: u64 = 20;

pub async fn create_draft(
    state: &AppState,
    caller: &Principal,
    form: Form,
) -> Result<CaseDetail, ApplicationError> {
    let viewer = Viewer::of(state, caller).await?;
    let row = draft_row(state, &viewer, &form, true).await?;
    // Through the group writer like every write on the submission path.
    let case = in_group(state, move |txn| {
        Box::pin(async move { Ok(repo::insert(txn, row).await?) })
    })
    .await?;
    detail_of(state, &viewer, case).await
}

/// Runs a write in the group writer's next group (see `db::group`): it commits with
/// the writes queued beside it and is answered after that commit; its own failure
/// rolls back its writes alone.
pub(super) async fn in_group<T, F>(state: &AppState, job: F) -> Result<T, ApplicationError>
where
    F: for<'t> FnOnce(
            &'t sea_orm::DatabaseTransaction,
        ) -> crate::db::group::BoxFuture<'t, Result<T, ApplicationError>>
        + Send
        + 'static,
    T: Send + 'static,
{
    state
        .cache::<crate::db::group::GroupCommit>()
        .run(&state.db, state.settings.group_limits(), job)
        .await
}

/// The row of a new draft for the viewer, after the draft's checks (limits, community,
/// open drafts, for a row that `stays_a_draft`); not yet written.
pub(super) async fn draft_row(
    state: &AppState,
    viewer: &Viewer,
    form: &Form,
    stays_a_draft: bool,
) -> Result<application::ActiveModel, ApplicationError> {
    if !matches!(viewer.role, Role::Applicant | Role::Reviewer) {
        return Err(ApplicationError::Forbidden);
    }
    let mut errors = domain::check_draft(form);
    let community = resolve_community(state, viewer, form.community_code.as_deref())
        .await?
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    if !errors.is_empty() {
        return Err(ApplicationError::Invalid(errors));
    }
    let now = state.clock.now();
    let mut row = form_columns(form, community.as_ref(), now)?;
    let counter = viewer.role == Role::Reviewer;
    // A household has one or two applications; a clerk a day's walk-ins. More open drafts
    // than this is a script, and each one is a row someone must clean up.
    // (A one-shot submission leaves no draft, so it is not counted against them.)
    if stays_a_draft && repo::count_drafts(&state.db, viewer.user_id).await? >= MAX_OPEN_DRAFTS {
        return Err(ApplicationError::TooManyDrafts);
    }
    row.applicant_id = Set((!counter).then_some(viewer.user_id));
    row.entered_by = Set(counter.then_some(viewer.user_id));
    row.source = Set(if counter {
        entity::enums::Source::Counter
    } else {
        entity::enums::Source::Online
    });
    row.status = Set(Status::Draft);
    row.warnings = Set(serde_json::json!([]));
    row.version = Set(1);
    row.created_at = Set(now);
    row.status_since = Set(now);
    Ok(row)
}

/// Applies a partial update to a draft (or a case returned for correction).
pub async fn update_draft(
    state: &AppState,
    caller: &Principal,
    id: i64,
    version: i32,
    patch: Form,
) -> Result<CaseDetail, ApplicationError> {
    let viewer = Viewer::of(state, caller).await?;
    let case = visible(&state.db, &viewer, id).await?;
    if !matches!(case.status, Status::Draft | Status::NeedsCorrection) {
        return Err(ApplicationError::WrongStatus(case.status));
    }
    if !(case.applicant_id == Some(viewer.user_id) || case.entered_by == Some(viewer.user_id)) {
        return Err(ApplicationError::Forbidden);
    }
    let mut form = repo::form_of(&case)?;
    let mut errors = fixed_after_submission(&case, &form, &patch);
    form.merge(patch);
    errors.extend(domain::check_draft(&form));
    let community = resolve_community(state, &viewer, form.community_code.as_deref())
        .await?
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    if !errors.is_empty() {
        return Err(ApplicationError::Invalid(errors));
    }
    let changes = form_columns(&form, community.as_ref(), state.clock.now())?;
    let txn = crate::db::begin_write(&state.db).await?;
    let updated = repo::update_draft(&txn, id, version, changes)
        .await?
        .ok_or(ApplicationError::Stale(case.version))?;
    txn.commit().await?;
    detail_of(state, &viewer, updated).await
}

/// A submitted case keeps its programme and community: its number, its reviewers' queue
/// and its place in the reports follow them. Another programme or community is another
/// application.
fn fixed_after_submission(case: &application::Model, form: &Form, patch: &Form) -> Vec<FieldError> {
    if case.status != Status::NeedsCorrection {
        return vec![];
    }
    let mut fixed = Vec::new();
    if patch.programme.is_some() && patch.programme != form.programme {
        fixed.push("programme");
    }
    if patch.community_code.is_some() && patch.community_code != form.community_code {
        fixed.push("community_code");
    }
    fixed
        .into_iter()
        .map(|field| {
            FieldError::new(
                field,
                "fixed_after_submission",
                Msg::new(
                    "提交后不能更改；如需更改请撤回后重新申请",
                    "cannot change after submission; withdraw and apply again instead",
                ),
            )
        })
        .collect()
}

pub async fn delete_draft(
    state: &AppState,
    caller: &Principal,
    id: i64,
    version: i32,
) -> Result<(), ApplicationError> {
    let viewer = Viewer::of(state, caller).await?;
    let case = visible(&state.db, &viewer, id).await?;
    if case.status != Status::Draft {
        return Err(ApplicationError::WrongStatus(case.status));
    }
    if !(case.applicant_id == Some(viewer.user_id) || case.entered_by == Some(viewer.user_id)) {
        return Err(ApplicationError::NotFound);
    }
    if !repo::delete_draft(&state.db, id, version).await? {
        return Err(ApplicationError::Stale(case.version));
    }
    Ok(())
}

/// The applicant withdraws their case; a case in an open batch leaves it (the writer
/// sees to that in the same transaction).
pub async fn withdraw(
    state: &AppState,
    caller: &Principal,
    id: i64,
    version: Option<i32>,
    reason: Option<String>,
) -> Result<CaseDetail, ApplicationError> {
    let viewer = Viewer::of(state, caller).await?;
    let reason = match reason.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => Some(
            crate::values::text("reason", r, 500)
                .map_err(|e| ApplicationError::Invalid(vec![e]))?,
        ),
        None => None,
    };
    let txn = crate::db::begin_write(&state.db).await?;
    let case = lock_visible(&txn, &viewer, id).await?;
    let change = Change::new(Action::Withdraw, viewer.actor())
        .version(version)
        .comment(reason);
    let done = case_writer::apply(&txn, case, change, state.clock.now()).await?;
    txn.commit().await?;
    detail_of(state, &viewer, done.case.into_case()).await
}

/// Checks the caller may see the case, without recording a view (for the audit and
/// objection lists, which show no personal data of the household).
pub async fn get_quiet(
    state: &AppState,
    caller: &Principal,
    id: i64,
) -> Result<application::Model, ApplicationError> {
    let viewer = Viewer::of(state, caller).await?;
    visible(&state.db, &viewer, id).await
}

pub async fn get(
    state: &AppState,
    caller: &Principal,
    id: i64,
) -> Result<CaseDetail, ApplicationError> {
    let viewer = Viewer::of(state, caller).await?;
    let case = visible(&state.db, &viewer, id).await?;
    if !viewer.is_staff() {
        return detail_of(state, &viewer, case).await;
    }
    // Every view of a case's full personal data by staff is on record: the case is
    // answered only once its view has committed (read meanwhile).
    let view = Viewed {
        application_id: id,
        user_id: viewer.user_id,
        what: "detail",
        at: state.clock.now(),
    };
    let (writer, views) = (
        state.cache::<crate::db::group::GroupCommit>(),
        std::sync::Arc::new(Views),
    );
    let recorded = writer.run_batch(&state.db, state.settings.group_limits(), &views, view);
    let ((), detail) = tokio::try_join!(
        async { recorded.await.map_err(ApplicationError::from) },
        detail_of(state, &viewer, case)
    )?;
    Ok(detail)
}

/// A staff member's view of a case, to be put on record.
#[derive(Clone)]
pub(super) struct Viewed {
    pub application_id: i64,
    pub user_id: i64,
    pub what: &'static str,
    pub at: DateTime<Utc>,
}

/// The views recorded by the group writer: those queued together in one insert, in the
/// commit of the writes beside them.
pub(super) struct Views;

impl crate::db::group::Batch for Views {
    type Item = Viewed;
    type Out = ();
    type Err = DbErr;

    fn store<'t>(
        &'t self,
        txn: &'t sea_orm::DatabaseTransaction,
        items: Vec<Viewed>,
    ) -> crate::db::group::BoxFuture<'t, crate::db::group::Stored<Self>> {
        Box::pin(async move {
            let n = items.len();
            repo::record_access_many(txn, items).await?;
            Ok((0..n).map(|_| Ok(())).collect())
        })
    }
}

pub async fn detail_of(
    state: &AppState,
    viewer: &Viewer,
    case: application::Model,
) -> Result<CaseDetail, ApplicationError> {
    let events = history::of_case(&state.db, case.id).await?;
    let staff_view = viewer.is_staff();
    let duplicates = if staff_view {
        duplicates_of(&state.db, case.id).await?
    } else {
        vec![]
    };
    let decision = eligibility::service::latest(&state.db, case.id).await?;
    let mut detail = fresh_detail(state, case, events, decision).await?;
    detail.duplicates = duplicates;
    detail.staff_view = staff_view;
    Ok(detail)
}

/// The household's view of a case from its row, events and decision as they are: what a
/// filing answers with the rows it has just written, reading nothing back (the
/// community comes from the place cache).
pub(super) async fn fresh_detail(
    state: &AppState,
    case: application::Model,
    events: Vec<CaseEvent>,
    decision: Option<Decision>,
) -> Result<CaseDetail, ApplicationError> {
    let community = match case.community_id {
        Some(cid) => places::service::by_ids_cached(state, &[cid])
            .await?
            .into_iter()
            .next(),
        None => None,
    };
    Ok(CaseDetail {
        form: repo::form_of(&case)?,
        warnings: repo::warnings_of(&case)?,
        decision,
        case,
        community,
        events,
        duplicates: vec![],
        staff_view: false,
    })
}

async fn duplicates_of(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Vec<(duplicate_flag::Model, Option<String>)>, DbErr> {
    let flags = repo::flags_of(db, id).await?;
    let ids: Vec<i64> = flags.iter().map(|f| f.other_application_id).collect();
    let others = repo::by_ids(db, &ids).await?;
    Ok(flags
        .into_iter()
        .map(|f| {
            let number = others
                .iter()
                .find(|o| o.id == f.other_application_id)
                .and_then(|o| o.number.clone());
            (f, number)
        })
        .collect())
}

/// A case in a list, with its community.
pub struct CaseSummary {
    pub case: application::Model,
    pub form: Form,
    pub community: Option<Place>,
}

/// The caller's cases (applicant) or the cases in their scope (staff), newest first.
pub async fn list(
    state: &AppState,
    caller: &Principal,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<CaseSummary>, ApplicationError> {
    let viewer = Viewer::of(state, caller).await?;
    let scoped = match viewer.role {
        Role::Applicant => repo::for_applicant(viewer.user_id),
        Role::Reviewer | Role::Supervisor | Role::Bureau => repo::for_staff(
            &viewer.communities,
            viewer.user_id,
            viewer.id_hash.as_deref(),
        ),
        Role::Admin => return Err(ApplicationError::Forbidden),
    };
    let rows = repo::page(&state.db, scoped, before, limit).await?;
    summaries(state, rows).await
}

/// Rows with their forms and communities.
pub async fn summaries(
    state: &AppState,
    rows: Vec<application::Model>,
) -> Result<Vec<CaseSummary>, ApplicationError> {
    let community_ids: Vec<i64> = rows.iter().filter_map(|r| r.community_id).collect();
    let communities = places::service::by_ids_cached(state, &community_ids).await?;
    rows.into_iter()
        .map(|case| {
            let form = repo::form_of(&case)?;
            let community = communities
                .iter()
                .find(|c| Some(c.id) == case.community_id)
                .cloned();
            Ok(CaseSummary {
                case,
                form,
                community,
            })
        })
        .collect()
}

/// Cases by id, with no scope: for a domain that already holds them (a batch's items).
pub async fn by_ids(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<Vec<application::Model>, DbErr> {
    repo::by_ids(db, ids).await
}

/// Waiting households (轮候) of the programmes, by waiting-list number, with no scope:
/// for an allocation round, which the bureau runs for the whole district.
pub async fn waiting(
    db: &impl ConnectionTrait,
    programmes: &[crate::applications::form::Programme],
) -> Result<Vec<application::Model>, DbErr> {
    repo::waiting(db, programmes).await
}

/// What an allocation round reads of a waiting household on `day`: the household as the
/// eligibility rules see it (for the re-check before ranking) and the members the points
/// rules count. `None` when the stored form no longer validates.
pub struct Standing {
    pub input: crate::eligibility::input::Household,
    pub members_over_60: i32,
    pub disabled_members: i32,
    pub seriously_ill_members: i32,
}

pub fn standing(
    case: &application::Model,
    day: chrono::NaiveDate,
) -> Result<Option<Standing>, DbErr> {
    let form = repo::form_of(case)?;
    let Ok((household, _)) = domain::validate(&form, day) else {
        return Ok(None);
    };
    let count = |f: &dyn Fn(&domain::Member) -> bool| {
        household.members.iter().filter(|m| f(m)).count() as i32
    };
    let input = household.eligibility_input();
    Ok(Some(Standing {
        members_over_60: input.members.iter().filter(|p| p.age_on(day) >= 60).count() as i32,
        disabled_members: count(&|m| m.disabled),
        seriously_ill_members: count(&|m| m.serious_illness),
        input,
    }))
}

/// A case by its number, with no scope: for the public notice, which shows no personal
/// data beyond the masked name.
pub async fn by_number(
    db: &impl ConnectionTrait,
    number: &str,
) -> Result<Option<application::Model>, DbErr> {
    repo::by_number(db, number).await
}

/// Whether a person with this keyed identity hash is a member of the household.
pub async fn has_member(
    db: &impl ConnectionTrait,
    case_id: i64,
    id_hash: &str,
) -> Result<bool, DbErr> {
    repo::has_member_hash(db, case_id, id_hash).await
}

/// One view of a case's personal data by a staff member.
pub type CaseAccess = entity::case_access::Model;

/// Every view of the case's personal data by staff.
pub async fn access_log(db: &impl ConnectionTrait, id: i64) -> Result<Vec<CaseAccess>, DbErr> {
    repo::access_of(db, id).await
}

/// Resolves a duplicate flag of the case (and its mirror on the other case), keeping
/// both cases' open markers in step; returns whether this case still has an open flag.
pub async fn resolve_duplicate(
    db: &impl ConnectionTrait,
    case_id: i64,
    flag_id: Option<i64>,
    resolution: &str,
    by: i64,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, ApplicationError> {
    let flags = repo::flags_of(db, case_id).await?;
    let Some(flag) = flags
        .iter()
        .find(|f| Some(f.id) == flag_id && f.resolution.is_none())
    else {
        return Err(ApplicationError::Invalid(vec![FieldError::new(
            "flag_id",
            "unknown_flag",
            Msg::new(
                "没有这个待处理的重复标记",
                "no open duplicate flag with this id on the case",
            ),
        )]));
    };
    repo::resolve_flag_pair(db, flag, resolution, by, note, now).await?;
    let mut still_open = false;
    for id in [case_id, flag.other_application_id] {
        let open = repo::flags_of(db, id)
            .await?
            .iter()
            .any(|f| f.resolution.is_none());
        repo::set_duplicate_open(db, &[id], open).await?;
        if id == case_id {
            still_open = open;
        }
    }
    Ok(still_open)
}
