//! Work queues: the cases in a staff member's scope in one status, filtered, sorted by
//! how long they have waited, with keyset cursors that stay correct while cases move
//! (a case that leaves the status just drops out; one that enters it lands at the end
//! of the oldest-first order), and each case's deadline from the policy.

use base64::Engine;
use chrono::{DateTime, Duration, Utc};

use super::error::ReviewError;
use crate::access::Principal;
use crate::applications::Listed;
use crate::applications::form::Programme;
use crate::applications::query::{self, CaseQuery, Deadline};
use crate::applications::service::Viewer;
use crate::clock::local_date;
use crate::eligibility;
use crate::error::FieldError;
use crate::i18n::Msg;
use crate::lifecycle::Status;
use crate::places::{self, Place};
use crate::state::AppState;

/// Whose cases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Assigned {
    Me,
    Unassigned,
    Anyone,
}

/// The order of a queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Longest waiting first (the default).
    Oldest,
    Newest,
}

pub struct QueueQuery {
    pub status: Status,
    pub programme: Option<Programme>,
    pub community_code: Option<String>,
    pub assigned: Assigned,
    pub flagged_duplicate: Option<bool>,
    pub has_warnings: Option<bool>,
    pub overdue: Option<bool>,
    pub order: Order,
    pub cursor: Option<String>,
    pub limit: u64,
}

pub struct QueueItem {
    pub case: Listed,
    pub community: Option<Place>,
    pub due_at: Option<DateTime<Utc>>,
}

pub struct QueuePage {
    pub items: Vec<QueueItem>,
    pub next_cursor: Option<String>,
}

fn encode(c: &Listed) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
        "{}|{}",
        c.status_since.to_rfc3339(),
        c.id
    ))
}

fn decode(cursor: &str) -> Option<(DateTime<Utc>, i64)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (t, id) = text.split_once('|')?;
    Some((
        DateTime::parse_from_rfc3339(t).ok()?.with_timezone(&Utc),
        id.parse().ok()?,
    ))
}

/// Days a case may stay in `status` under a programme's current policy.
fn allowance(status: Status, d: &eligibility::policy::Deadlines) -> Option<i64> {
    match status {
        Status::Eligible => Some(d.acceptance_days.into()),
        Status::UnderReview => Some(d.first_review_days.into()),
        _ => None,
    }
}

pub async fn queue(
    state: &AppState,
    caller: &Principal,
    q: QueueQuery,
) -> Result<QueuePage, ReviewError> {
    let viewer = Viewer::of(state, caller).await?;
    if !viewer.is_staff() {
        return Err(ReviewError::Forbidden);
    }
    let now = state.clock.now();
    let today = local_date(now);
    let mut deadlines = Vec::new();
    for p in Programme::ALL {
        if let Some(policy) = eligibility::service::policy_in_force_cached(state, *p, today).await?
        {
            deadlines.push((*p, policy.deadlines.clone()));
        }
    }
    let mut communities = viewer.communities.clone();
    if let Some(code) = &q.community_code {
        let found =
            places::service::resolve_codes_cached(state, "community", std::slice::from_ref(code))
                .await?;
        let id = found.ok().and_then(|v| v.first().map(|p| p.id));
        communities.retain(|c| Some(*c) == id);
    }
    let cases = case_query(&q, &viewer, &deadlines, now)?;
    let rows = query::find_listed(&state.reads, &communities, &cases, q.limit + 1).await?;
    let more = rows.len() as u64 > q.limit;
    let rows: Vec<_> = rows.into_iter().take(q.limit as usize).collect();
    let next_cursor = if more { rows.last().map(encode) } else { None };
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.community_id).collect();
    let places = places::service::by_ids_cached(state, &ids).await?;
    let items = rows
        .into_iter()
        .map(|case| {
            let due_at = if case.status == Status::PassedReview {
                case.notice_ends_at
            } else {
                deadlines
                    .iter()
                    .find(|(p, _)| Some(*p) == case.programme)
                    .and_then(|(_, d)| allowance(q.status, d))
                    .map(|days| case.status_since + Duration::days(days))
            };
            let community = places
                .iter()
                .find(|p| Some(p.id) == case.community_id)
                .cloned();
            QueueItem {
                case,
                community,
                due_at,
            }
        })
        .collect();
    Ok(QueuePage { items, next_cursor })
}

/// The queue's filters as a case query.
fn case_query(
    q: &QueueQuery,
    viewer: &Viewer,
    deadlines: &[(Programme, eligibility::policy::Deadlines)],
    now: DateTime<Utc>,
) -> Result<CaseQuery, ReviewError> {
    let after = match &q.cursor {
        Some(c) => Some(decode(c).ok_or_else(|| {
            ReviewError::Invalid(vec![FieldError::new(
                "cursor",
                "invalid_cursor",
                Msg::new("分页游标无效", "not a cursor this queue gave out"),
            )])
        })?),
        None => None,
    };
    let appeal = matches!(
        q.status,
        Status::AppealEligibility
            | Status::AppealReview
            | Status::AppealBureau
            | Status::AppealExit
    );
    // An appeal's answer is due on a working day kept on the case.
    let appeal_late_on = q
        .overdue
        .filter(|_| appeal)
        .map(|o| (o, crate::clock::local_date(now)));
    let late = q.overdue.filter(|_| !appeal).map(|overdue| {
        let notice = (q.status == Status::PassedReview).then_some(now);
        let due = deadlines
            .iter()
            .filter_map(|(p, d)| {
                allowance(q.status, d).map(|days| Deadline {
                    programme: *p,
                    since_before: now - Duration::days(days),
                })
            })
            .collect();
        (overdue, due, notice)
    });
    Ok(CaseQuery {
        programme: q.programme,
        assigned: match q.assigned {
            Assigned::Me => query::Assigned::To(viewer.user_id),
            Assigned::Unassigned => query::Assigned::Nobody,
            Assigned::Anyone => query::Assigned::Anyone,
        },
        duplicate_open: q.flagged_duplicate,
        has_warnings: q.has_warnings,
        late,
        appeal_late_on,
        without_member: viewer.id_hash.clone(),
        descending: q.order == Order::Newest,
        after,
        ..CaseQuery::in_status(q.status)
    })
}
