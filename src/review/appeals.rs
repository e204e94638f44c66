//! 复核: a household refused at eligibility, at first review (or by an upheld objection)
//! or by the bureau asks for reconsideration within the policy's window, with reasons and
//! any corrected facts; the answer is due within the policy's working days (the
//! calendar's). A reviewer other than the one who refused answers (the bureau for its own
//! refusals): upheld, the refusal stands with a reason; overturned, the case re-enters
//! the flow where it was refused. Every step is a row of the lifecycle table.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait};

use super::error::ReviewError;
use crate::access::Principal;
use crate::applications::Case;
use crate::applications::service::{self as apps, CaseDetail, Viewer};
use crate::calendar::Deadline;
use crate::clock::local_date;
use crate::eligibility;
use crate::i18n::Msg;
use crate::lifecycle::case_writer::{self, Change};
use crate::lifecycle::history::{self, CaseEvent};
use crate::lifecycle::{Action, Status};
use crate::notifications::templates::Facts;
use crate::state::AppState;

/// The actions that refuse a case, and which appeal each one leads to.
fn appeal_for(refusal: Action) -> Option<Action> {
    match refusal {
        Action::FailEligibility | Action::UpholdAppeal => None,
        Action::Reject | Action::UpholdObjection => Some(Action::AppealReview),
        Action::BureauReject => Some(Action::AppealBureau),
        Action::ExitReverification | Action::ExitNoDeclaration | Action::ExitForCause => {
            Some(Action::AppealExit)
        }
        _ => None,
    }
}

const APPEALS: [Action; 4] = [
    Action::AppealEligibility,
    Action::AppealReview,
    Action::AppealBureau,
    Action::AppealExit,
];

/// The event that put the case where it is now (its last status-changing event).
fn refusal(events: &[CaseEvent]) -> Option<&CaseEvent> {
    events.iter().rev().find(|e| {
        matches!(
            e.action,
            Action::FailEligibility
                | Action::Reject
                | Action::UpholdObjection
                | Action::BureauReject
                | Action::ExitReverification
                | Action::ExitNoDeclaration
                | Action::ExitForCause
        )
    })
}

/// The windows of the policy the case was judged by: (to ask, to answer).
async fn windows(
    state: &AppState,
    case: &Case,
    now: DateTime<Utc>,
) -> Result<(u32, u32), ReviewError> {
    let Some(programme) = case.programme else {
        return Ok((15, 15));
    };
    let day = local_date(case.submitted_at.unwrap_or(now));
    let policy = eligibility::service::policy_in_force_cached(state, programme, day).await?;
    Ok(policy.map_or((15, 15), |p| {
        (
            p.deadlines.appeal_window_working_days.max(1) as u32,
            p.deadlines.appeal_answer_working_days.max(1) as u32,
        )
    }))
}

fn refused(code: &'static str, zh: String, en: String) -> ReviewError {
    ReviewError::AppealRefused(code, Msg::new(zh, en))
}

/// The household asks for 复核. `reasons` are required; `corrected` are facts the
/// household says were wrong, kept with the reasons for the reviewer.
pub async fn file(
    state: &AppState,
    caller: &Principal,
    id: i64,
    version: i32,
    reasons: String,
    corrected: Option<String>,
) -> Result<(CaseDetail, Deadline), ReviewError> {
    let viewer = Viewer::of(state, caller).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    let case = apps::lock_visible(&txn, &viewer, id).await?;
    let events = history::of_case(&txn, id).await?;
    let now = state.clock.now();
    let today = local_date(now);
    let refused_by = refusal(&events);
    let action = match case.case().status {
        Status::Ineligible => Action::AppealEligibility,
        s @ (Status::Rejected | Status::Exited) => refused_by
            .and_then(|e| appeal_for(e.action))
            .ok_or(ReviewError::WrongStatus(s))?,
        other => return Err(ReviewError::WrongStatus(other)),
    };
    // Once per refusal: an appeal after the latest refusal (an upheld appeal does not
    // count as a new refusal) means this one has had its 复核.
    let since = refused_by.map_or(0, |r| r.id);
    if events
        .iter()
        .any(|e| e.id > since && APPEALS.contains(&e.action))
    {
        return Err(refused(
            "already_appealed",
            "该申请已申请过复核，复核结果为最终结果".into(),
            "Reconsideration was already asked for this application; its answer is final".into(),
        ));
    }
    let calendar = crate::calendar::service::current(state).await?;
    let (ask_days, answer_days) = windows(state, case.case(), now).await?;
    let refused_on = refused_by.map_or(today, |e| local_date(e.created_at));
    let last_day = calendar.add_working_days(refused_on, ask_days).due_on;
    if today > last_day {
        return Err(refused(
            "appeal_window_closed",
            format!("复核申请期限已于 {last_day} 届满"),
            format!("The time to ask for reconsideration ended on {last_day}"),
        ));
    }
    let due = calendar.add_working_days(today, answer_days);
    let comment = match corrected {
        Some(c) => format!("{reasons}\n更正事项 / corrected facts: {c}"),
        None => reasons,
    };
    let change = Change::new(action, viewer.actor())
        .version(Some(version))
        .comment(Some(comment))
        .columns(crate::applications::CaseColumns {
            appeal_due_on: Set(Some(due.due_on)),
            ..Default::default()
        })
        .facts(Facts {
            until: due.due_on.to_string(),
            ..Default::default()
        });
    let done = case_writer::apply(&txn, case, change, now).await?;
    txn.commit().await?;
    Ok((
        apps::detail_of(state, &viewer, done.case.into_case()).await?,
        due,
    ))
}

/// Checks before a staff answer (`UpholdAppeal`, `OverturnAppeal`): the reviewer who
/// refused may not answer the appeal against it. Returns the columns the answer clears.
pub async fn before_answer(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    case: &Case,
    today: chrono::NaiveDate,
) -> Result<crate::applications::CaseColumns, ReviewError> {
    let events = history::of_case(db, case.id).await?;
    if case.status == Status::AppealReview
        && refusal(&events).and_then(|e| e.actor_id) == Some(viewer.user_id)
    {
        return Err(refused(
            "refused_by_you",
            "复核须由作出原决定以外的审核人员办理".into(),
            "A reviewer other than the one who refused must answer the reconsideration".into(),
        ));
    }
    let mut columns = crate::applications::CaseColumns {
        appeal_due_on: Set(None),
        ..Default::default()
    };
    if case.status == Status::AppealReview {
        columns.assigned_to = Set(Some(viewer.user_id));
    }
    if case.status == Status::AppealExit {
        // Back on the list if overturned: the next 年审 a year from now.
        columns.reverify_due_on = Set(today.checked_add_months(chrono::Months::new(12)));
    }
    Ok(columns)
}
