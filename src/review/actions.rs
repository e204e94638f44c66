//! Staff actions on a case: accept, claim, assign, request correction, pass, reject,
//! confirm warnings, resolve duplicates, decide objections, reconfirm a returned case.
//! Each action is one transaction: the case is locked, what the action needs is checked
//! and prepared here, and the case writer writes the status, version, event, counters
//! and messages.

use chrono::{DateTime, Duration, Utc};
use entity::enums::ObjectionStatus;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr};

use super::error::ReviewError;
use super::repository as repo;
use crate::access::{Principal, Role};
use crate::applications::Case;
use crate::applications::domain::Warning;
use crate::applications::service::{self as apps, CaseDetail, Viewer};
use crate::clock::local_date;
use crate::eligibility;
use crate::error::FieldError;
use crate::i18n::Msg;
use crate::lifecycle::Action;
use crate::lifecycle::case_table::{self, Refusal};
use crate::lifecycle::case_writer::{self, Change};
use crate::notifications::templates::Facts;
use crate::state::AppState;

/// An action and what it needs.
#[derive(Clone, Debug, Default)]
pub struct ActionInput {
    pub version: i32,
    pub comment: Option<String>,
    pub reason_code: Option<String>,
    /// Missing items, for a correction request.
    pub items: Vec<String>,
    /// The reviewer to assign to.
    pub assignee_id: Option<i64>,
    /// Warning codes to confirm or overrule (all open ones when empty).
    pub warning_codes: Vec<String>,
    /// `confirmed` or `overruled` for warnings; `duplicate` or `not_duplicate` for a flag.
    pub resolution: Option<String>,
    pub flag_id: Option<i64>,
    pub objection_id: Option<i64>,
}

fn invalid(field: &str, code: &'static str, zh: &str, en: &str) -> ReviewError {
    ReviewError::Invalid(vec![FieldError::new(field, code, Msg::new(zh, en))])
}

/// What the action adds to the change beyond its name: columns, comment, reason, facts.
#[derive(Default)]
struct Prepared {
    columns: crate::applications::CaseColumns,
    comment: Option<String>,
    reason: Option<String>,
    facts: Facts,
}

/// Does an action on a case. Everything it changes is in one transaction.
pub async fn act(
    state: &AppState,
    caller: &Principal,
    id: i64,
    action: Action,
    input: ActionInput,
) -> Result<CaseDetail, ReviewError> {
    let viewer = Viewer::of(state, caller).await?;
    if !viewer.is_staff() {
        return Err(ReviewError::Forbidden);
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let case = apps::lock_visible(&txn, &viewer, id).await?;
    let from = case.case().status;
    let rule = case_table::transition(from, action, viewer.role).map_err(|r| match r {
        Refusal::WrongStatus => ReviewError::WrongStatus(from),
        Refusal::WrongRole => ReviewError::Forbidden,
    })?;
    if rule.system {
        return Err(ReviewError::Forbidden);
    }
    if input.version != case.case().version {
        return Err(ReviewError::Stale(case.case().version));
    }
    let now = state.clock.now();
    let p = prepare(state, &txn, &viewer, case.case(), action, &input, now).await?;
    let change = Change::new(action, viewer.actor())
        .version(Some(input.version))
        .comment(p.comment)
        .reason(p.reason)
        .columns(p.columns)
        .facts(p.facts);
    let done = case_writer::apply(&txn, case, change, now).await?;
    txn.commit().await?;
    Ok(apps::detail_of(state, &viewer, done.case.into_case()).await?)
}

fn comment_of(input: &ActionInput) -> Result<Option<String>, ReviewError> {
    match input
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        Some(c) => Ok(Some(
            crate::values::text("comment", c, 2000).map_err(|e| ReviewError::Invalid(vec![e]))?,
        )),
        None => Ok(None),
    }
}

async fn prepare(
    state: &AppState,
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    case: &Case,
    action: Action,
    input: &ActionInput,
    now: DateTime<Utc>,
) -> Result<Prepared, ReviewError> {
    let mut p = Prepared {
        comment: comment_of(input)?,
        reason: input.reason_code.clone(),
        ..Default::default()
    };
    match action {
        Action::Accept => {
            if case.assigned_to.is_none() && viewer.role == Role::Reviewer {
                p.columns.assigned_to = Set(Some(viewer.user_id));
            }
        }
        Action::Claim => {
            if case.assigned_to.is_some_and(|a| a != viewer.user_id) {
                return Err(ReviewError::AlreadyAssigned);
            }
            p.columns.assigned_to = Set(Some(viewer.user_id));
        }
        Action::Assign => p.columns.assigned_to = Set(Some(assignee(db, case, input).await?)),
        Action::RequestCorrection => {
            let items = check_items(&input.items)?;
            p.comment = Some(items.join("\n"));
            p.facts.items = items;
        }
        Action::PassReview => {
            if case.warnings_open > 0 || case.duplicate_open {
                return Err(ReviewError::UnresolvedFlags);
            }
            let days = notice_days(state, case, now).await?;
            p.columns.notice_ends_at = Set(Some(now + Duration::days(i64::from(days))));
        }
        Action::UpholdObjection | Action::DismissObjection => {
            let upheld = action == Action::UpholdObjection;
            let outcome = if upheld {
                ObjectionStatus::Upheld
            } else {
                ObjectionStatus::Dismissed
            };
            decide_objection(db, case.id, input, viewer.user_id, outcome, &p.comment, now).await?;
            if upheld {
                p.reason = Some("objection_upheld".into());
            }
        }
        Action::ConfirmWarnings => {
            let (warnings, open, note) = resolve_warnings(case, input)?;
            p.columns.warnings =
                Set(serde_json::to_value(&warnings).map_err(|e| DbErr::Json(e.to_string()))?);
            p.columns.warnings_open = Set(open);
            p.comment = Some(match p.comment {
                Some(c) => format!("{note}; {c}"),
                None => note,
            });
        }
        Action::ResolveDuplicate => {
            let resolution = match input.resolution.as_deref() {
                Some(r @ ("duplicate" | "not_duplicate")) => r,
                _ => {
                    return Err(invalid(
                        "resolution",
                        "invalid_resolution",
                        "应为 duplicate 或 not_duplicate",
                        "must be duplicate or not_duplicate",
                    ));
                }
            };
            let note = p.comment.as_deref();
            let still_open = apps::resolve_duplicate(
                db,
                case.id,
                input.flag_id,
                resolution,
                viewer.user_id,
                note,
                now,
            )
            .await?;
            p.columns.duplicate_open = Set(still_open);
        }
        Action::UpholdAppeal | Action::OverturnAppeal => {
            p.columns = super::appeals::before_answer(db, viewer, case, local_date(now)).await?;
        }
        Action::ExitForCause => p.columns.reverify_due_on = Set(None),
        Action::Reject | Action::Reconfirm => {}
        _ => return Err(ReviewError::Forbidden),
    }
    Ok(p)
}

/// The reviewer a supervisor assigns the case to: one who covers its community.
async fn assignee(
    db: &impl ConnectionTrait,
    case: &Case,
    input: &ActionInput,
) -> Result<i64, ReviewError> {
    let Some(assignee) = input.assignee_id else {
        return Err(ReviewError::Invalid(vec![FieldError::required(
            "assignee_id",
        )]));
    };
    let community = case.community_id.unwrap_or_default();
    if !crate::auth::service::reviewer_covers(db, assignee, community).await? {
        return Err(invalid(
            "assignee_id",
            "not_a_reviewer_here",
            "该账号不是负责此社区的审核员",
            "is not a reviewer of this case's community",
        ));
    }
    Ok(assignee)
}

fn check_items(items: &[String]) -> Result<Vec<String>, ReviewError> {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    if items.is_empty() {
        errors.push(FieldError::new(
            "items",
            "required",
            Msg::new(
                "须一次性列出全部需补正的事项",
                "list every missing item at once",
            ),
        ));
    }
    if items.len() > 30 {
        errors.push(FieldError::out_of_range("items", 1, 30));
    }
    for (i, item) in items.iter().enumerate() {
        match crate::values::text(&format!("items[{i}]"), item, 200) {
            Ok(t) => out.push(t),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ReviewError::Invalid(errors))
    }
}

/// Notice length from the policy the case was decided under (10 days when unknown).
async fn notice_days(state: &AppState, case: &Case, now: DateTime<Utc>) -> Result<i32, DbErr> {
    let Some(programme) = case.programme else {
        return Ok(10);
    };
    let day = local_date(case.submitted_at.unwrap_or(now));
    Ok(
        eligibility::service::policy_in_force_cached(state, programme, day)
            .await?
            .map_or(10, |p| p.deadlines.notice_days),
    )
}

fn resolve_warnings(
    case: &Case,
    input: &ActionInput,
) -> Result<(Vec<Warning>, i32, String), ReviewError> {
    let resolution = match input.resolution.as_deref() {
        Some(r @ ("confirmed" | "overruled")) => r.to_string(),
        _ => {
            return Err(invalid(
                "resolution",
                "invalid_resolution",
                "应为 confirmed 或 overruled",
                "must be confirmed or overruled",
            ));
        }
    };
    let mut warnings = apps::warnings_of(case)?;
    let mut touched = Vec::new();
    for w in warnings.iter_mut().filter(|w| w.resolution.is_none()) {
        if input.warning_codes.is_empty() || input.warning_codes.contains(&w.code) {
            w.resolution = Some(resolution.clone());
            touched.push(w.code.clone());
        }
    }
    if touched.is_empty() {
        return Err(invalid(
            "warning_codes",
            "nothing_to_resolve",
            "没有待确认的提示",
            "no open warning matches",
        ));
    }
    let open = warnings.iter().filter(|w| w.resolution.is_none()).count() as i32;
    Ok((
        warnings,
        open,
        format!("{resolution}: {}", touched.join(", ")),
    ))
}

async fn decide_objection(
    db: &impl ConnectionTrait,
    case_id: i64,
    input: &ActionInput,
    by: i64,
    outcome: ObjectionStatus,
    note: &Option<String>,
    now: DateTime<Utc>,
) -> Result<(), ReviewError> {
    let Some(oid) = input.objection_id else {
        return Err(ReviewError::Invalid(vec![FieldError::required(
            "objection_id",
        )]));
    };
    if !repo::decide(db, case_id, oid, outcome, by, note.as_deref(), now).await? {
        return Err(invalid(
            "objection_id",
            "unknown_objection",
            "没有这个待处理的异议",
            "no open objection with this id on the case",
        ));
    }
    Ok(())
}
