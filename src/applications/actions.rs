//! Staff actions on a case: accept, claim, assign, request correction, pass, reject,
//! confirm warnings, resolve duplicates, decide objections; and the system closing of
//! notice windows. Each action is one transaction: the lifecycle table decides whether
//! it is allowed, the case's version guards against a stale view, one event is written,
//! and any message is queued with it.

use chrono::{DateTime, Duration, Utc};
use entity::{application, application_event, duplicate_flag, objection};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use super::domain::Warning;
use super::lifecycle::{self, Action, Status};
use super::repository as repo;
use super::service::{
    ApplicationError, CaseDetail, Viewer, detail_of, load_visible, parse_form, parse_status,
    refusal,
};
use crate::auth::{Principal, Role};
use crate::eligibility;
use crate::error::FieldError;
use crate::i18n::{Lang, Msg};
use crate::notifications::{self, NewMessage, templates};
use crate::reports::counters::CaseFacts;
use crate::state::AppState;

/// Reasons a case may be rejected for: the maintained list (code, zh, en).
pub const REASON_CODES: &[(&str, &str, &str)] = &[
    (
        "income_over_limit",
        "家庭收入超过标准",
        "household income over the limit",
    ),
    (
        "owns_housing",
        "拥有住房或住房面积超标",
        "owns housing or too much housing area",
    ),
    (
        "hukou_insufficient",
        "户籍条件不符",
        "hukou conditions not met",
    ),
    ("false_declaration", "虚假申报", "false declaration"),
    (
        "incomplete_documents",
        "材料不全且逾期未补正",
        "documents incomplete and not corrected in time",
    ),
    ("duplicate_application", "重复申请", "duplicate application"),
    (
        "home_visit_failed",
        "入户调查不符",
        "home visit found the conditions unmet",
    ),
    (
        "objection_upheld",
        "公示异议成立",
        "an objection to the public notice was upheld",
    ),
    ("other", "其他原因", "other reason"),
];

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

fn invalid(field: &str, code: &'static str, zh: &str, en: &str) -> ApplicationError {
    ApplicationError::Invalid(vec![FieldError::new(field, code, Msg::new(zh, en))])
}

fn lang_of(case: &application::Model) -> Lang {
    if case.language == entity::enums::Language::En {
        Lang::En
    } else {
        Lang::Zh
    }
}

/// The staff member's own identity number appears in the household.
async fn conflicted(db: &impl ConnectionTrait, user_id: i64, case_id: i64) -> Result<bool, DbErr> {
    let Some(hash) = crate::auth::service::id_hash_of(db, user_id).await? else {
        return Ok(false);
    };
    Ok(entity::member_key::Entity::find()
        .filter(entity::member_key::Column::ApplicationId.eq(case_id))
        .filter(entity::member_key::Column::IdHash.eq(hash))
        .one(db)
        .await?
        .is_some())
}

/// Does an action on a case. Everything it changes is in one transaction.
pub async fn act(
    state: &AppState,
    caller: &Principal,
    id: i64,
    action: Action,
    input: ActionInput,
) -> Result<CaseDetail, ApplicationError> {
    let viewer = Viewer::of(state, caller).await?;
    if !viewer.is_staff() {
        return Err(ApplicationError::Forbidden);
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let case = load_visible(&txn, &viewer, id).await?;
    let from = parse_status(&case)?;
    let rule = lifecycle::transition(from, action, viewer.role).map_err(|r| refusal(r, from))?;
    if rule.system {
        return Err(ApplicationError::Forbidden);
    }
    if input.version != case.version {
        return Err(ApplicationError::Stale(case.version));
    }
    if conflicted(&txn, viewer.user_id, id).await? {
        return Err(ApplicationError::ConflictOfInterest);
    }
    let comment = match input
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        Some(c) => Some(
            crate::values::text("comment", c, 2000)
                .map_err(|e| ApplicationError::Invalid(vec![e]))?,
        ),
        None if rule.comment_required && action != Action::RequestCorrection => {
            return Err(ApplicationError::Invalid(vec![FieldError::required(
                "comment",
            )]));
        }
        None => None,
    };
    let reason = match (&input.reason_code, rule.reason_required) {
        (Some(code), _) if REASON_CODES.iter().any(|(c, _, _)| c == code) => Some(code.clone()),
        (Some(_), _) => {
            return Err(invalid(
                "reason_code",
                "unknown_reason",
                "不在原因代码清单中",
                "is not on the list of reason codes",
            ));
        }
        (None, true) => {
            return Err(ApplicationError::Invalid(vec![FieldError::required(
                "reason_code",
            )]));
        }
        (None, false) => None,
    };
    let now = state.clock.now();
    let to = rule.target(from);
    let mut changes = application::ActiveModel {
        updated_at: Set(now),
        ..Default::default()
    };
    if to != from {
        changes.status = Set(to);
        changes.status_since = Set(now);
    }
    let mut event_comment = comment.clone();
    let mut event_reason = reason.clone();
    let mut messages: Vec<(&'static str, templates::Rendered)> = Vec::new();
    let lang = lang_of(&case);
    let number = case.number.clone().unwrap_or_default();
    let name = super::service::applicant_name(&parse_form(&case)?);

    match action {
        Action::Accept => {
            if case.assigned_to.is_none() && viewer.role == Role::Reviewer {
                changes.assigned_to = Set(Some(viewer.user_id));
            }
            messages.push(("acceptance", templates::acceptance(lang, &name, &number)));
        }
        Action::Claim => {
            if case.assigned_to.is_some_and(|a| a != viewer.user_id) {
                return Err(ApplicationError::AlreadyAssigned);
            }
            changes.assigned_to = Set(Some(viewer.user_id));
        }
        Action::Assign => {
            let Some(assignee) = input.assignee_id else {
                return Err(ApplicationError::Invalid(vec![FieldError::required(
                    "assignee_id",
                )]));
            };
            let covers = crate::auth::service::reviewer_covers(
                &txn,
                assignee,
                case.community_id.unwrap_or_default(),
            )
            .await?;
            if !covers {
                return Err(invalid(
                    "assignee_id",
                    "not_a_reviewer_here",
                    "该账号不是负责此社区的审核员",
                    "is not a reviewer of this case's community",
                ));
            }
            changes.assigned_to = Set(Some(assignee));
        }
        Action::RequestCorrection => {
            let items = check_items(&input.items)?;
            event_comment = Some(items.join("\n"));
            messages.push((
                "correction_request",
                templates::correction_request(lang, &name, &number, &items),
            ));
        }
        Action::PassReview => {
            if case.warnings_open > 0 || case.duplicate_open {
                return Err(ApplicationError::UnresolvedFlags);
            }
            let days = notice_days(&txn, &case, now).await?;
            let ends = now + Duration::days(i64::from(days));
            changes.notice_ends_at = Set(Some(ends));
            let until = crate::clock::local_date(ends).to_string();
            messages.push((
                "first_review_result",
                templates::review_passed(lang, &name, &number),
            ));
            messages.push((
                "notice_started",
                templates::notice_started(lang, &name, &number, &until),
            ));
        }
        Action::Reject | Action::UpholdObjection => {
            if action == Action::UpholdObjection {
                decide_objection(
                    &txn,
                    id,
                    &input,
                    viewer.user_id,
                    "upheld",
                    comment.as_deref(),
                    now,
                )
                .await?;
                event_reason = Some("objection_upheld".into());
            }
            let code = event_reason.clone().unwrap_or_default();
            let label = REASON_CODES
                .iter()
                .find(|(c, _, _)| *c == code)
                .map(|(_, zh, en)| Msg::new(*zh, *en));
            let why = label.map(|m| m.get(lang).to_string()).unwrap_or_default();
            messages.push((
                "first_review_result",
                templates::rejected(lang, &name, &number, &why, comment.as_deref().unwrap_or("")),
            ));
        }
        Action::Reconfirm => {}
        Action::DismissObjection => {
            decide_objection(
                &txn,
                id,
                &input,
                viewer.user_id,
                "dismissed",
                comment.as_deref(),
                now,
            )
            .await?;
        }
        Action::ConfirmWarnings => {
            let (warnings, open, note) = resolve_warnings(&case, &input)?;
            changes.warnings =
                Set(serde_json::to_value(&warnings).map_err(|e| DbErr::Custom(e.to_string()))?);
            changes.warnings_open = Set(open);
            event_comment = Some(match comment {
                Some(c) => format!("{note}; {c}"),
                None => note,
            });
        }
        Action::ResolveDuplicate => {
            let still_open =
                resolve_flag(&txn, id, &input, viewer.user_id, comment.as_deref(), now).await?;
            changes.duplicate_open = Set(still_open);
        }
        _ => return Err(ApplicationError::Forbidden),
    }

    if !repo::update_guarded(&txn, id, case.version, changes).await? {
        return Err(ApplicationError::Stale(case.version));
    }
    let event = repo::insert_event(
        &txn,
        &CaseFacts::of(&case),
        application_event::ActiveModel {
            application_id: Set(id),
            actor_id: Set(Some(viewer.user_id)),
            action: Set(action),
            from_status: Set(Some(from)),
            to_status: Set(to),
            reason_code: Set(event_reason),
            comment: Set(event_comment),
            policy_version: Set(case.policy_version.clone()),
            created_at: Set(now),
            ..Default::default()
        },
    )
    .await?;
    for (kind, rendered) in messages {
        notifications::enqueue(
            &txn,
            NewMessage {
                application_id: Some(id),
                event_id: Some(event.id),
                kind,
                recipient: case.contact_email.clone(),
                language: lang.into(),
                rendered,
            },
            now,
        )
        .await?;
    }
    txn.commit().await?;
    let case = repo::find(&state.db, id)
        .await?
        .ok_or(ApplicationError::NotFound)?;
    detail_of(state, &viewer, case).await
}

fn check_items(items: &[String]) -> Result<Vec<String>, ApplicationError> {
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
        Err(ApplicationError::Invalid(errors))
    }
}

/// Notice length from the policy the case was decided under (10 days when unknown).
async fn notice_days(
    db: &impl ConnectionTrait,
    case: &application::Model,
    now: DateTime<Utc>,
) -> Result<i32, DbErr> {
    let Some(programme) = case.programme else {
        return Ok(10);
    };
    let day = crate::clock::local_date(case.submitted_at.unwrap_or(now));
    Ok(eligibility::service::policy_in_force(db, programme, day)
        .await?
        .map_or(10, |p| p.deadlines.notice_days))
}

fn resolve_warnings(
    case: &application::Model,
    input: &ActionInput,
) -> Result<(Vec<Warning>, i32, String), ApplicationError> {
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
    let mut warnings: Vec<Warning> =
        serde_json::from_value(case.warnings.clone()).unwrap_or_default();
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

/// Resolves a duplicate flag and its mirror on the other case; returns whether this
/// case still has an open flag.
async fn resolve_flag(
    db: &impl ConnectionTrait,
    id: i64,
    input: &ActionInput,
    by: i64,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, ApplicationError> {
    let resolution = match input.resolution.as_deref() {
        Some(r @ ("duplicate" | "not_duplicate")) => r.to_string(),
        _ => {
            return Err(invalid(
                "resolution",
                "invalid_resolution",
                "应为 duplicate 或 not_duplicate",
                "must be duplicate or not_duplicate",
            ));
        }
    };
    let flags = repo::flags_of(db, id).await?;
    let Some(flag) = flags
        .iter()
        .find(|f| Some(f.id) == input.flag_id && f.resolution.is_none())
    else {
        return Err(invalid(
            "flag_id",
            "unknown_flag",
            "没有这个待处理的重复标记",
            "no open duplicate flag with this id on the case",
        ));
    };
    duplicate_flag::Entity::update_many()
        .col_expr(
            duplicate_flag::Column::Resolution,
            resolution.clone().into(),
        )
        .col_expr(duplicate_flag::Column::ResolvedBy, Some(by).into())
        .col_expr(duplicate_flag::Column::ResolvedAt, Some(now).into())
        .col_expr(
            duplicate_flag::Column::Note,
            note.map(str::to_string).into(),
        )
        .filter(
            sea_orm::Condition::any()
                .add(duplicate_flag::Column::Id.eq(flag.id))
                .add(
                    sea_orm::Condition::all()
                        .add(duplicate_flag::Column::ApplicationId.eq(flag.other_application_id))
                        .add(duplicate_flag::Column::OtherApplicationId.eq(id))
                        .add(duplicate_flag::Column::MemberIndex.eq(flag.other_member_index)),
                ),
        )
        .exec(db)
        .await?;
    // The other case's open-flag marker follows its flags (a derived index helper, not
    // case state: it changes without an event on that case).
    for case_id in [id, flag.other_application_id] {
        let open = repo::flags_of(db, case_id)
            .await?
            .iter()
            .any(|f| f.resolution.is_none());
        application::Entity::update_many()
            .col_expr(application::Column::DuplicateOpen, open.into())
            .filter(application::Column::Id.eq(case_id))
            .exec(db)
            .await?;
    }
    Ok(repo::flags_of(db, id)
        .await?
        .iter()
        .any(|f| f.resolution.is_none()))
}

async fn decide_objection(
    db: &impl ConnectionTrait,
    id: i64,
    input: &ActionInput,
    by: i64,
    outcome: &str,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), ApplicationError> {
    let Some(oid) = input.objection_id else {
        return Err(ApplicationError::Invalid(vec![FieldError::required(
            "objection_id",
        )]));
    };
    let res = objection::Entity::update_many()
        .col_expr(objection::Column::Status, outcome.into())
        .col_expr(objection::Column::ResolvedBy, Some(by).into())
        .col_expr(objection::Column::ResolvedAt, Some(now).into())
        .col_expr(objection::Column::Note, note.map(str::to_string).into())
        .filter(objection::Column::Id.eq(oid))
        .filter(objection::Column::ApplicationId.eq(id))
        .filter(objection::Column::Status.eq("open"))
        .exec(db)
        .await?;
    if res.rows_affected != 1 {
        return Err(invalid(
            "objection_id",
            "unknown_objection",
            "没有这个待处理的异议",
            "no open objection with this id on the case",
        ));
    }
    Ok(())
}

/// Takes `action` on `case` inside the caller's transaction, for another domain's use
/// case (batches): `role` is the acting person's role, or `None` for a system action.
/// Guards the version, writes the event and returns its id.
#[allow(clippy::too_many_arguments)]
pub async fn apply(
    db: &impl ConnectionTrait,
    case: &application::Model,
    action: Action,
    actor: Option<(i64, Role)>,
    reason: Option<String>,
    comment: Option<String>,
    mut changes: application::ActiveModel,
    now: DateTime<Utc>,
) -> Result<i64, ApplicationError> {
    let from = parse_status(case)?;
    let rule = match actor {
        Some((_, role)) => lifecycle::transition(from, action, role),
        None => lifecycle::system_transition(from, action),
    }
    .map_err(|r| refusal(r, from))?;
    let to = rule.target(from);
    if to != from {
        changes.status = Set(to);
        changes.status_since = Set(now);
    }
    changes.updated_at = Set(now);
    if !repo::update_guarded(db, case.id, case.version, changes).await? {
        return Err(ApplicationError::Stale(case.version));
    }
    let event = repo::insert_event(
        db,
        &CaseFacts::of(case),
        application_event::ActiveModel {
            application_id: Set(case.id),
            actor_id: Set(actor.map(|a| a.0)),
            action: Set(action),
            from_status: Set(Some(from)),
            to_status: Set(to),
            reason_code: Set(reason),
            comment: Set(comment),
            policy_version: Set(case.policy_version.clone()),
            created_at: Set(now),
            ..Default::default()
        },
    )
    .await?;
    Ok(event.id)
}

/// Moves every case whose notice window has ended, with no open or upheld objection, to
/// ready-to-report. Each case in its own transaction; returns how many moved.
pub async fn close_due_notices(state: &AppState) -> Result<u64, ApplicationError> {
    let now = state.clock.now();
    let due = application::Entity::find()
        .filter(application::Column::Status.eq(Status::PassedReview.as_str()))
        .filter(application::Column::NoticeEndsAt.lte(now))
        .all(&state.db)
        .await?;
    let mut moved = 0;
    for case in due {
        let txn = crate::db::begin_write(&state.db).await?;
        let blocking = objection::Entity::find()
            .filter(objection::Column::ApplicationId.eq(case.id))
            .filter(objection::Column::Status.is_in(["open", "upheld"]))
            .one(&txn)
            .await?;
        if blocking.is_some() {
            continue;
        }
        let rule = lifecycle::system_transition(Status::PassedReview, Action::CloseNotice)
            .map_err(|r| refusal(r, Status::PassedReview))?;
        let to = rule.target(Status::PassedReview);
        let changes = application::ActiveModel {
            status: Set(to),
            status_since: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        if !repo::update_guarded(&txn, case.id, case.version, changes).await? {
            continue; // Someone acted on it meanwhile; the next run looks again.
        }
        repo::insert_event(
            &txn,
            &CaseFacts::of(&case),
            application_event::ActiveModel {
                application_id: Set(case.id),
                actor_id: Set(None),
                action: Set(Action::CloseNotice),
                from_status: Set(Some(Status::PassedReview)),
                to_status: Set(to),
                policy_version: Set(case.policy_version.clone()),
                created_at: Set(now),
                ..Default::default()
            },
        )
        .await?;
        txn.commit().await?;
        moved += 1;
    }
    Ok(moved)
}
