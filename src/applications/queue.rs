//! Work queues: the cases in a staff member's scope in one status, filtered, sorted by
//! how long they have waited, with keyset cursors that stay correct while cases move
//! (a case that leaves the status just drops out; one that enters it lands at the end
//! of the oldest-first order), and each case's deadline from the policy.

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use entity::application;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::form::Programme;
use super::lifecycle::Status;
use super::service::{ApplicationError, Viewer};
use crate::auth::Principal;
use crate::clock::local_date;
use crate::eligibility;
use crate::error::FieldError;
use crate::i18n::Msg;
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
    pub case: application::Model,
    pub community: Option<Place>,
    pub due_at: Option<DateTime<Utc>>,
}

pub struct QueuePage {
    pub items: Vec<QueueItem>,
    pub next_cursor: Option<String>,
}

fn encode(c: &application::Model) -> String {
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
) -> Result<QueuePage, ApplicationError> {
    let viewer = Viewer::of(state, caller).await?;
    if !viewer.is_staff() {
        return Err(ApplicationError::Forbidden);
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
    let mut cond = Condition::all()
        .add(application::Column::Status.eq(q.status.as_str()))
        .add(application::Column::CommunityId.is_in(communities.iter().copied()));
    if let Some(p) = q.programme {
        cond = cond.add(application::Column::Programme.eq(p.as_str()));
    }
    cond = match q.assigned {
        Assigned::Me => cond.add(application::Column::AssignedTo.eq(viewer.user_id)),
        Assigned::Unassigned => cond.add(application::Column::AssignedTo.is_null()),
        Assigned::Anyone => cond,
    };
    if let Some(f) = q.flagged_duplicate {
        cond = cond.add(application::Column::DuplicateOpen.eq(f));
    }
    if let Some(w) = q.has_warnings {
        cond = cond.add(if w {
            application::Column::WarningsOpen.gt(0)
        } else {
            application::Column::WarningsOpen.eq(0)
        });
    }
    if let Some(overdue) = q.overdue {
        let mut late = Condition::any();
        if q.status == Status::PassedReview {
            late = late.add(application::Column::NoticeEndsAt.lt(now));
        }
        for (p, d) in &deadlines {
            if let Some(days) = allowance(q.status, d) {
                late = late.add(
                    Condition::all()
                        .add(application::Column::Programme.eq(p.as_str()))
                        .add(application::Column::StatusSince.lt(now - Duration::days(days))),
                );
            }
        }
        cond = if overdue {
            cond.add(late)
        } else {
            cond.add(late.not())
        };
    }
    if let Some(c) = &q.cursor {
        let (t, id) = decode(c).ok_or_else(|| {
            ApplicationError::Invalid(vec![FieldError::new(
                "cursor",
                "invalid_cursor",
                Msg::new("分页游标无效", "not a cursor this queue gave out"),
            )])
        })?;
        cond = cond.add(match q.order {
            Order::Oldest => Condition::any()
                .add(application::Column::StatusSince.gt(t))
                .add(
                    Condition::all()
                        .add(application::Column::StatusSince.eq(t))
                        .add(application::Column::Id.gt(id)),
                ),
            Order::Newest => Condition::any()
                .add(application::Column::StatusSince.lt(t))
                .add(
                    Condition::all()
                        .add(application::Column::StatusSince.eq(t))
                        .add(application::Column::Id.lt(id)),
                ),
        });
    }
    let mut select = application::Entity::find().filter(cond);
    select = match q.order {
        Order::Oldest => select
            .order_by_asc(application::Column::StatusSince)
            .order_by_asc(application::Column::Id),
        Order::Newest => select
            .order_by_desc(application::Column::StatusSince)
            .order_by_desc(application::Column::Id),
    };
    let rows = select.limit(q.limit + 1).all(&state.db).await?;
    let more = rows.len() as u64 > q.limit;
    let rows: Vec<_> = rows.into_iter().take(q.limit as usize).collect();
    let next_cursor = if more { rows.last().map(encode) } else { None };
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.community_id).collect();
    let places = places::service::by_ids_cached(state, &ids).await?;
    let items = rows
        .into_iter()
        .map(|case| {
            let programme = case.programme;
            let due_at = if case.status == Status::PassedReview {
                case.notice_ends_at
            } else {
                deadlines
                    .iter()
                    .find(|(p, _)| Some(*p) == programme)
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
