//! Application use cases: drafts, submission (idempotent, exactly once), reading with
//! scope, withdrawal. Owns the transactions; every status change goes through the
//! lifecycle table and writes one event.

use chrono::{DateTime, NaiveDate, Utc};

use crate::clock::local_date;
use entity::{application, application_event, duplicate_flag, idempotency_record};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr};
use serde::{Deserialize, Serialize};

use super::domain::{self, Warning};
use super::form::{Form, Language};
use super::lifecycle::{self, Action, Refusal, Status};
use super::repository as repo;
pub use super::simulation::{Simulation, simulate};
use crate::auth::{Principal, Role};
use crate::eligibility::{
    self,
    engine::{Decision, Facts, Outcome},
};
use crate::error::FieldError;
use crate::i18n::{Lang, Msg};
use crate::notifications::{self, NewMessage, templates};
use crate::places::{self, Place, PlaceKind};
use crate::reports::counters::CaseFacts;
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
    #[error("the staff member's own identity number is in this household")]
    ConflictOfInterest,
    #[error("the case is assigned to another reviewer")]
    AlreadyAssigned,
    #[error("warnings or duplicate flags are still open")]
    UnresolvedFlags,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Who is looking, and which communities a staff member covers.
pub struct Viewer {
    pub user_id: i64,
    pub role: Role,
    pub communities: Vec<i64>,
}

impl Viewer {
    pub async fn of(state: &AppState, caller: &Principal) -> Result<Viewer, DbErr> {
        let communities = if crate::auth::domain::scope_kind(caller.role).is_some() {
            places::service::communities_within_cached(state, &caller.place_ids).await?
        } else {
            vec![]
        };
        Ok(Viewer {
            user_id: caller.user_id,
            role: caller.role,
            communities,
        })
    }

    pub fn is_staff(&self) -> bool {
        matches!(self.role, Role::Reviewer | Role::Supervisor | Role::Bureau)
    }

    fn can_see(&self, m: &application::Model) -> bool {
        match self.role {
            Role::Applicant => m.applicant_id == Some(self.user_id),
            Role::Reviewer | Role::Supervisor | Role::Bureau => {
                m.community_id
                    .is_some_and(|c| self.communities.contains(&c))
                    || (m.entered_by == Some(self.user_id) && m.status == Status::Draft)
            }
            Role::Admin => false,
        }
    }
}

/// A case with everything its detail view shows.
pub struct CaseDetail {
    pub case: application::Model,
    pub form: Form,
    pub community: Option<Place>,
    pub events: Vec<application_event::Model>,
    /// Duplicate flags with the other case's number; empty unless the viewer is staff.
    pub duplicates: Vec<(duplicate_flag::Model, Option<String>)>,
    pub warnings: Vec<Warning>,
    pub staff_view: bool,
    /// The latest eligibility decision, if the case has been checked.
    pub decision: Option<Decision>,
}

/// What a submission answers, stored so a retry with the same key gets it again.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Receipt {
    pub application_id: i64,
    pub number: String,
    pub status: String,
    pub submitted_at: DateTime<Utc>,
    pub community_code: String,
    pub warnings: Vec<Warning>,
}

/// A submission's `Idempotency-Key` and the hash of the request it came with.
pub struct IdempotencyKey {
    pub key: String,
    pub request_hash: String,
}

/// The result of a submission: fresh, or the stored answer to an earlier identical one.
pub enum Submitted {
    Fresh(Receipt),
    Replayed(Receipt),
}

pub(crate) fn parse_status(m: &application::Model) -> Result<Status, DbErr> {
    Ok(m.status)
}

pub(crate) fn parse_form(m: &application::Model) -> Result<Form, DbErr> {
    serde_json::from_value(m.form.clone())
        .map_err(|e| DbErr::Custom(format!("application {} form: {e}", m.id)))
}

pub(crate) fn refusal(r: Refusal, s: Status) -> ApplicationError {
    match r {
        Refusal::WrongStatus => ApplicationError::WrongStatus(s),
        Refusal::WrongRole => ApplicationError::Forbidden,
    }
}

/// A case the viewer may see, or `NotFound` (never `Forbidden`: another applicant's
/// case id must not be confirmed to exist).
pub(crate) async fn load_visible(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i64,
) -> Result<application::Model, ApplicationError> {
    match repo::find(db, id).await? {
        Some(m) if viewer.can_see(&m) => Ok(m),
        _ => Err(ApplicationError::NotFound),
    }
}

/// Resolves the community named in a form, checking it is a community and, for staff
/// entering a counter application, in their scope.
async fn resolve_community(
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

fn draft_columns(
    form: &Form,
    community: Option<&Place>,
    now: DateTime<Utc>,
) -> Result<application::ActiveModel, ApplicationError> {
    let json = serde_json::to_value(form).map_err(|e| DbErr::Custom(e.to_string()))?;
    Ok(application::ActiveModel {
        programme: Set(form.programme),
        applicant_class: Set(form.applicant_class),
        community_id: Set(community.map(|c| c.id)),
        form: Set(json),
        household_size: Set(form.members.as_ref().map_or(0, |m| m.len() as i32)),
        contact_email: Set(form.contact_email.clone()),
        language: Set(form.language.unwrap_or(Language::Zh)),
        updated_at: Set(now),
        ..Default::default()
    })
}

pub async fn create_draft(
    state: &AppState,
    caller: &Principal,
    form: Form,
) -> Result<CaseDetail, ApplicationError> {
    let viewer = Viewer::of(state, caller).await?;
    if !matches!(viewer.role, Role::Applicant | Role::Reviewer) {
        return Err(ApplicationError::Forbidden);
    }
    let mut errors = domain::check_draft(&form);
    let community = resolve_community(state, &viewer, form.community_code.as_deref())
        .await?
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    if !errors.is_empty() {
        return Err(ApplicationError::Invalid(errors));
    }
    let now = state.clock.now();
    let mut row = draft_columns(&form, community.as_ref(), now)?;
    let counter = viewer.role == Role::Reviewer;
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
    // Through the write gate like every write on the submission path (see `db`).
    let txn = crate::db::begin_write(&state.db).await?;
    let case = repo::insert(&txn, row).await?;
    txn.commit().await?;
    detail_of(state, &viewer, case).await
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
    let case = load_visible(&state.db, &viewer, id).await?;
    let status = parse_status(&case)?;
    if !matches!(status, Status::Draft | Status::NeedsCorrection) {
        return Err(ApplicationError::WrongStatus(status));
    }
    if !(case.applicant_id == Some(viewer.user_id) || case.entered_by == Some(viewer.user_id)) {
        return Err(ApplicationError::Forbidden);
    }
    let mut form = parse_form(&case)?;
    // A submitted case keeps its programme and community: its number, its reviewers'
    // queue and its place in the reports follow them. Another programme or community is
    // another application.
    let mut fixed = Vec::new();
    if status == Status::NeedsCorrection {
        if patch.programme.is_some() && patch.programme != form.programme {
            fixed.push("programme");
        }
        if patch.community_code.is_some() && patch.community_code != form.community_code {
            fixed.push("community_code");
        }
    }
    form.merge(patch);
    let mut errors: Vec<FieldError> = fixed
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
        .collect();
    errors.extend(domain::check_draft(&form));
    let community = resolve_community(state, &viewer, form.community_code.as_deref())
        .await?
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    if !errors.is_empty() {
        return Err(ApplicationError::Invalid(errors));
    }
    let changes = draft_columns(&form, community.as_ref(), state.clock.now())?;
    let txn = crate::db::begin_write(&state.db).await?;
    if !repo::update_guarded(&txn, id, version, changes).await? {
        return Err(ApplicationError::Stale(case.version));
    }
    txn.commit().await?;
    let case = repo::find(&state.db, id)
        .await?
        .ok_or(ApplicationError::NotFound)?;
    detail_of(state, &viewer, case).await
}

pub async fn delete_draft(
    state: &AppState,
    caller: &Principal,
    id: i64,
    version: i32,
) -> Result<(), ApplicationError> {
    let viewer = Viewer::of(state, caller).await?;
    let case = load_visible(&state.db, &viewer, id).await?;
    let status = parse_status(&case)?;
    if status != Status::Draft {
        return Err(ApplicationError::WrongStatus(status));
    }
    if !repo::delete_guarded(&state.db, id, version).await? {
        return Err(ApplicationError::Stale(case.version));
    }
    Ok(())
}

/// Submits a draft, or resubmits a corrected case: exactly once per idempotency key.
pub async fn submit(
    state: &AppState,
    caller: &Principal,
    id: i64,
    version: Option<i32>,
    key: IdempotencyKey,
) -> Result<Submitted, ApplicationError> {
    let viewer = Viewer::of(state, caller).await?;
    match submit_once(state, &viewer, id, version, &key).await {
        Ok(out) => Ok(out),
        // Lost a race with an identical request (same key): answer with its receipt.
        Err(
            err @ (ApplicationError::Stale(_)
            | ApplicationError::WrongStatus(_)
            | ApplicationError::Db(_)),
        ) => match replay(&state.db, viewer.user_id, &key).await? {
            Some(out) => Ok(out),
            None => Err(err),
        },
        Err(err) => Err(err),
    }
}

async fn replay(
    db: &impl ConnectionTrait,
    user_id: i64,
    key: &IdempotencyKey,
) -> Result<Option<Submitted>, ApplicationError> {
    let Some(record) = repo::find_idempotency(db, user_id, &key.key).await? else {
        return Ok(None);
    };
    if record.request_hash != key.request_hash {
        return Err(ApplicationError::KeyReused);
    }
    let receipt: Receipt =
        serde_json::from_value(record.response).map_err(|e| DbErr::Custom(e.to_string()))?;
    Ok(Some(Submitted::Replayed(receipt)))
}

async fn submit_once(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    version: Option<i32>,
    key: &IdempotencyKey,
) -> Result<Submitted, ApplicationError> {
    let txn = crate::db::begin_write(&state.db).await?;
    if let Some(out) = replay(&txn, viewer.user_id, key).await? {
        return Ok(out);
    }
    let case = load_visible(&txn, viewer, id).await?;
    let from = parse_status(&case)?;
    let action = if from == Status::NeedsCorrection {
        Action::Resubmit
    } else {
        Action::Submit
    };
    let rule = lifecycle::transition(from, action, viewer.role).map_err(|r| refusal(r, from))?;
    if version.is_some_and(|v| v != case.version) {
        return Err(ApplicationError::Stale(case.version));
    }
    let now = state.clock.now();
    let today = local_date(now);
    let form = parse_form(&case)?;
    let community = resolve_community(state, viewer, form.community_code.as_deref()).await?;
    let (household, warnings) = match (domain::validate(&form, today), community) {
        (Ok(ok), Ok(Some(_))) => ok,
        (result, community) => {
            let mut errors = result.err().unwrap_or_default();
            if let Err(e) = community {
                errors.push(e);
            }
            return Err(ApplicationError::Invalid(errors));
        }
    };
    let community = resolve_community(state, viewer, Some(&household.community_code))
        .await?
        .ok()
        .flatten()
        .ok_or(ApplicationError::NotFound)?;
    let number = match &case.number {
        Some(n) => n.clone(),
        None => assign_number(state, &txn, &community, today).await?,
    };
    let normalised = household.to_form();
    let mut changes = draft_columns(&normalised, Some(&community), now)?;
    changes.number = Set(Some(number.clone()));
    changes.status = Set(rule.target(from));
    changes.warnings =
        Set(serde_json::to_value(&warnings).map_err(|e| DbErr::Custom(e.to_string()))?);
    changes.warnings_open = Set(warnings.len() as i32);
    changes.submitted_at = Set(Some(case.submitted_at.unwrap_or(now)));
    changes.status_since = Set(now);
    if !repo::update_guarded(&txn, id, case.version, changes).await? {
        return Err(ApplicationError::Stale(case.version));
    }
    let counted = CaseFacts {
        id,
        community_id: Some(community.id),
        programme: Some(household.programme.as_str().to_string()),
        status_since: case.status_since,
    };
    let event = repo::insert_event(
        &txn,
        &counted,
        application_event::ActiveModel {
            application_id: Set(id),
            actor_id: Set(Some(viewer.user_id)),
            action: Set(action),
            from_status: Set(Some(from)),
            to_status: Set(rule.target(from)),
            created_at: Set(now),
            ..Default::default()
        },
    )
    .await?;
    let facts = flag_duplicates(state, &txn, id, &household, now).await?;
    let lang = match household.language {
        Language::Zh => Lang::Zh,
        Language::En => Lang::En,
    };
    let applicant_name = household
        .members
        .iter()
        .find(|m| m.relationship == super::form::Relationship::Applicant)
        .map(|m| m.name.clone())
        .unwrap_or_default();
    notifications::enqueue(
        &txn,
        NewMessage {
            application_id: Some(id),
            event_id: Some(event.id),
            kind: "submission_receipt",
            recipient: household
                .contact_email
                .as_ref()
                .map(|e| e.as_str().to_string()),
            language: household.language,
            rendered: templates::submission_receipt(
                lang,
                &applicant_name,
                &number,
                &community.name,
                &local_date(now).to_string(),
            ),
        },
        now,
    )
    .await?;
    let submitted_on = local_date(case.submitted_at.unwrap_or(now));
    let status = check_eligibility(
        &txn,
        Checked {
            id,
            warnings: &warnings,
            version: case.version + 1,
            number: &number,
            household: &household,
            applicant_name: &applicant_name,
            day: submitted_on,
            facts: &facts,
            counted: CaseFacts {
                status_since: now,
                ..counted
            },
            now,
        },
    )
    .await?
    .unwrap_or(rule.target(from));
    let receipt = Receipt {
        application_id: id,
        number,
        status: status.as_str().to_string(),
        submitted_at: now,
        community_code: community.code.clone(),
        warnings,
    };
    repo::insert_idempotency(
        &txn,
        idempotency_record::Model {
            user_id: viewer.user_id,
            key: key.key.clone(),
            request_hash: key.request_hash.clone(),
            application_id: id,
            status_code: 201,
            response: serde_json::to_value(&receipt).map_err(|e| DbErr::Custom(e.to_string()))?,
            created_at: now,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(Submitted::Fresh(receipt))
}

/// A freshly submitted case, ready for the eligibility check.
struct Checked<'a> {
    id: i64,
    warnings: &'a [Warning],
    version: i32,
    number: &'a str,
    household: &'a domain::Household,
    applicant_name: &'a str,
    day: NaiveDate,
    facts: &'a Facts,
    /// The case as the report counters see it after submission.
    counted: CaseFacts,
    now: DateTime<Utc>,
}

/// Runs the eligibility engine on a just-submitted case, in the submission's
/// transaction: moves it to eligible or ineligible with an event naming the policy
/// version, stores the decision and queues the result for the applicant. Returns the
/// new status, or `None` when no policy is in force (the case stays submitted).
async fn check_eligibility(
    db: &impl ConnectionTrait,
    c: Checked<'_>,
) -> Result<Option<Status>, ApplicationError> {
    let Some(decision) = eligibility::service::decide(db, c.household, c.day, c.facts).await?
    else {
        tracing::warn!(
            application_id = c.id,
            "no policy in force; the case waits in submitted"
        );
        return Ok(None);
    };
    let action = if decision.eligible {
        Action::PassEligibility
    } else {
        Action::FailEligibility
    };
    let rule = lifecycle::system_transition(Status::Submitted, action)
        .map_err(|r| refusal(r, Status::Submitted))?;
    // Soft rules that failed join the warnings the reviewer must confirm or overrule.
    let mut warnings = c.warnings.to_vec();
    warnings.extend(
        decision
            .rules
            .iter()
            .filter(|r| r.outcome == Outcome::Fail && r.severity == "soft")
            .map(|r| Warning {
                field: format!("eligibility.{}", r.id),
                code: format!("soft_rule:{}", r.id),
                zh: r.zh.clone(),
                en: r.en.clone(),
                resolution: None,
            }),
    );
    let changes = application::ActiveModel {
        status: Set(rule.target(Status::Submitted)),
        status_since: Set(c.now),
        policy_version: Set(Some(decision.policy_version.clone())),
        warnings_open: Set(warnings.iter().filter(|w| w.resolution.is_none()).count() as i32),
        warnings: Set(serde_json::to_value(&warnings).map_err(|e| DbErr::Custom(e.to_string()))?),
        ..Default::default()
    };
    if !repo::update_guarded(db, c.id, c.version, changes).await? {
        return Err(ApplicationError::Stale(c.version));
    }
    let event = repo::insert_event(
        db,
        &c.counted,
        application_event::ActiveModel {
            application_id: Set(c.id),
            actor_id: Set(None),
            action: Set(action),
            from_status: Set(Some(Status::Submitted)),
            to_status: Set(rule.target(Status::Submitted)),
            policy_version: Set(Some(decision.policy_version.clone())),
            created_at: Set(c.now),
            ..Default::default()
        },
    )
    .await?;
    eligibility::service::record(db, c.id, event.id, &decision, c.now).await?;
    let lang = match c.household.language {
        Language::Zh => Lang::Zh,
        Language::En => Lang::En,
    };
    let failed: Vec<String> = decision
        .rules
        .iter()
        .filter(|r| r.outcome == Outcome::Fail && r.severity == "hard")
        .map(|r| Msg::new(r.zh.clone(), r.en.clone()).get(lang).to_string())
        .collect();
    notifications::enqueue(
        db,
        NewMessage {
            application_id: Some(c.id),
            event_id: Some(event.id),
            kind: "eligibility_result",
            recipient: c
                .household
                .contact_email
                .as_ref()
                .map(|e| e.as_str().to_string()),
            language: c.household.language,
            rendered: templates::eligibility_result(
                lang,
                c.applicant_name,
                c.number,
                decision.eligible,
                &failed,
            ),
        },
        c.now,
    )
    .await?;
    Ok(Some(rule.target(Status::Submitted)))
}

/// `410104003-2026-000123`: the community's sub-district code, the local year and a
/// gap-free sequence per sub-district and year.
async fn assign_number(
    state: &AppState,
    db: &impl ConnectionTrait,
    community: &Place,
    today: NaiveDate,
) -> Result<String, ApplicationError> {
    let parent = match community.parent_id {
        Some(pid) => places::service::by_ids_cached(state, &[pid])
            .await?
            .into_iter()
            .next(),
        None => None,
    };
    let prefix = parent
        .map(|p| p.code)
        .unwrap_or_else(|| community.code.clone());
    let year = chrono::Datelike::year(&today);
    let seq = repo::next_in_sequence(db, &format!("application:{prefix}:{year}")).await?;
    Ok(format!("{prefix}-{year}-{seq:06}"))
}

/// Statuses in which a case holds a housing benefit (one benefit per person).
const BENEFIT: [Status; 4] = [
    Status::Approved,
    Status::Waitlisted,
    Status::Offered,
    Status::Allocated,
];

/// Records the household's members by keyed hash and flags every active case of
/// either programme that shares a member, in both directions. Returns the facts the
/// eligibility engine needs about those other cases.
async fn flag_duplicates(
    state: &AppState,
    db: &impl ConnectionTrait,
    id: i64,
    household: &domain::Household,
    now: DateTime<Utc>,
) -> Result<Facts, ApplicationError> {
    let hashes: Vec<String> = household
        .members
        .iter()
        .map(|m| m.id_number.keyed_hash(&state.id_hash_key))
        .collect();
    repo::replace_member_keys(db, id, &hashes).await?;
    let matches = repo::keys_matching(db, &hashes, id).await?;
    if matches.is_empty() {
        return Ok(Facts::default());
    }
    let other_ids: Vec<i64> = matches.iter().map(|k| k.application_id).collect();
    let others = repo::by_ids(db, &other_ids).await?;
    let mut other_benefits: Vec<String> = others
        .iter()
        .filter(|o| BENEFIT.contains(&o.status))
        .map(|o| o.number.clone().unwrap_or_else(|| o.id.to_string()))
        .collect();
    other_benefits.sort();
    other_benefits.dedup();
    let existing = repo::flags_of(db, id).await?;
    for k in matches {
        let active = others
            .iter()
            .find(|o| o.id == k.application_id)
            .is_some_and(|o| lifecycle::is_active(o.status));
        let Some(mine) = hashes.iter().position(|h| h == &k.id_hash) else {
            continue;
        };
        let already = existing
            .iter()
            .any(|f| f.other_application_id == k.application_id && f.member_index == mine as i32);
        if !active || already {
            continue;
        }
        for (a, ai, b, bi) in [
            (id, mine as i32, k.application_id, k.member_index),
            (k.application_id, k.member_index, id, mine as i32),
        ] {
            repo::insert_flag(
                db,
                duplicate_flag::ActiveModel {
                    application_id: Set(a),
                    member_index: Set(ai),
                    other_application_id: Set(b),
                    other_member_index: Set(bi),
                    created_at: Set(now),
                    ..Default::default()
                },
            )
            .await?;
        }
    }
    let flagged_any = !repo::flags_of(db, id).await?.is_empty();
    if flagged_any {
        // Both cases now carry an open flag (a derived index helper, changed without an
        // event on the other case; the flag itself is the record).
        let mut ids: Vec<i64> = repo::flags_of(db, id)
            .await?
            .iter()
            .filter(|f| f.resolution.is_none())
            .map(|f| f.other_application_id)
            .collect();
        ids.push(id);
        repo::mark_duplicate_open(db, &ids).await?;
    }
    Ok(Facts { other_benefits })
}

/// The applicant withdraws their case.
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
    let case = load_visible(&txn, &viewer, id).await?;
    let from = parse_status(&case)?;
    let rule =
        lifecycle::transition(from, Action::Withdraw, viewer.role).map_err(|r| refusal(r, from))?;
    if version.is_some_and(|v| v != case.version) {
        return Err(ApplicationError::Stale(case.version));
    }
    let now = state.clock.now();
    let changes = application::ActiveModel {
        status: Set(rule.target(from)),
        status_since: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    if !repo::update_guarded(&txn, id, case.version, changes).await? {
        return Err(ApplicationError::Stale(case.version));
    }
    let event = repo::insert_event(
        &txn,
        &CaseFacts::of(&case),
        application_event::ActiveModel {
            application_id: Set(id),
            actor_id: Set(Some(viewer.user_id)),
            action: Set(Action::Withdraw),
            from_status: Set(Some(from)),
            to_status: Set(rule.target(from)),
            comment: Set(reason),
            created_at: Set(now),
            ..Default::default()
        },
    )
    .await?;
    let form = parse_form(&case)?;
    let lang = if case.language == Language::En {
        Lang::En
    } else {
        Lang::Zh
    };
    let name = applicant_name(&form);
    notifications::enqueue(
        &txn,
        NewMessage {
            application_id: Some(id),
            event_id: Some(event.id),
            kind: "withdrawal_confirmation",
            recipient: case.contact_email.clone(),
            language: lang.into(),
            rendered: templates::withdrawal_confirmation(
                lang,
                &name,
                case.number.as_deref().unwrap_or("-"),
            ),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    let case = repo::find(&state.db, id)
        .await?
        .ok_or(ApplicationError::NotFound)?;
    detail_of(state, &viewer, case).await
}

pub(crate) fn applicant_name(form: &Form) -> String {
    form.applicant()
        .and_then(|m| m.name.clone())
        .unwrap_or_default()
}

/// Checks the caller may see the case, without recording a view (for the audit and
/// objection lists, which show no personal data of the household).
pub async fn get_quiet(
    state: &AppState,
    caller: &Principal,
    id: i64,
) -> Result<application::Model, ApplicationError> {
    let viewer = Viewer::of(state, caller).await?;
    load_visible(&state.db, &viewer, id).await
}

pub async fn get(
    state: &AppState,
    caller: &Principal,
    id: i64,
) -> Result<CaseDetail, ApplicationError> {
    let viewer = Viewer::of(state, caller).await?;
    let case = load_visible(&state.db, &viewer, id).await?;
    if viewer.is_staff() {
        // Every view of a case's full personal data by staff is on record.
        let txn = crate::db::begin_write(&state.db).await?;
        repo::record_access(&txn, id, viewer.user_id, "detail", state.clock.now()).await?;
        txn.commit().await?;
    }
    detail_of(state, &viewer, case).await
}

pub(crate) async fn detail_of(
    state: &AppState,
    viewer: &Viewer,
    case: application::Model,
) -> Result<CaseDetail, ApplicationError> {
    let form = parse_form(&case)?;
    let community = match case.community_id {
        Some(cid) => places::service::by_ids_cached(state, &[cid])
            .await?
            .into_iter()
            .next(),
        None => None,
    };
    let events = repo::events_of(&state.db, case.id).await?;
    let staff_view = viewer.is_staff();
    let duplicates = if staff_view {
        let flags = repo::flags_of(&state.db, case.id).await?;
        let ids: Vec<i64> = flags.iter().map(|f| f.other_application_id).collect();
        let others = repo::by_ids(&state.db, &ids).await?;
        flags
            .into_iter()
            .map(|f| {
                let number = others
                    .iter()
                    .find(|o| o.id == f.other_application_id)
                    .and_then(|o| o.number.clone());
                (f, number)
            })
            .collect()
    } else {
        vec![]
    };
    let warnings: Vec<Warning> = serde_json::from_value(case.warnings.clone()).unwrap_or_default();
    let decision = eligibility::service::latest(&state.db, case.id).await?;
    Ok(CaseDetail {
        decision,
        case,
        form,
        community,
        events,
        duplicates,
        warnings,
        staff_view,
    })
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
        Role::Reviewer | Role::Supervisor | Role::Bureau => {
            repo::in_communities(&viewer.communities)
        }
        Role::Admin => return Err(ApplicationError::Forbidden),
    };
    let rows = repo::page(&state.db, scoped, before, limit).await?;
    let community_ids: Vec<i64> = rows.iter().filter_map(|r| r.community_id).collect();
    let communities = places::service::by_ids_cached(state, &community_ids).await?;
    rows.into_iter()
        .map(|case| {
            let form = parse_form(&case)?;
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
