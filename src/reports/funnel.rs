//! The funnel, counted from the event log: a stage's figure is the number of distinct
//! cases with that stage's event in the period (a case resubmitted or re-reported counts
//! once). Median days in a stage are measured from the event that entered it to the one
//! that left it, for cases that left it.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::{application, application_event};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, JoinType, QueryFilter,
    QuerySelect, RelationTrait,
};
use serde::Serialize;

use crate::applications::form::Programme;
use crate::applications::lifecycle::{Action, Status};
use crate::auth::{Principal, Role};
use crate::places::{self, Place, PlaceKind};
use crate::startup::AppState;

/// The stages, in order, with the event that marks entering each.
pub const STAGES: [(&str, &str, &str, Action); 7] = [
    ("submitted", "提交申请", "submitted", Action::Submit),
    ("eligible", "符合条件", "eligible", Action::PassEligibility),
    (
        "accepted",
        "受理初审",
        "accepted for first review",
        Action::Accept,
    ),
    (
        "passed_review",
        "通过初审",
        "passed first review",
        Action::PassReview,
    ),
    ("reported", "上报民政局", "reported up", Action::Report),
    ("approved", "审核批准", "approved", Action::Approve),
    ("allocated", "配租", "allocated", Action::Waitlist),
];

/// Side exits of the funnel, with the events that mark them.
pub const OUTCOMES: [(&str, &str, &str, &[Action]); 4] = [
    (
        "ineligible",
        "不符合条件",
        "ineligible",
        &[Action::FailEligibility],
    ),
    (
        "rejected",
        "驳回",
        "rejected",
        &[
            Action::Reject,
            Action::UpholdObjection,
            Action::BureauReject,
        ],
    ),
    ("returned", "退回", "returned", &[Action::Return]),
    ("withdrawn", "撤回", "withdrawn", &[Action::Withdraw]),
];

/// (case, action, time, programme, community) of one event.
type EventRow = (i64, String, DateTime<Utc>, Option<String>, Option<i64>);
/// (programme, community) of a case.
type CaseMeta = (Option<String>, Option<i64>);

/// What to count.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub programme: Option<Programme>,
    pub community_code: Option<String>,
    pub subdistrict_code: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Stage {
    pub stage: &'static str,
    pub label_zh: &'static str,
    pub label_en: &'static str,
    pub count: u64,
    /// Share of the previous stage, in percent (two decimals).
    pub ratio_from_previous: Option<f64>,
    /// Median days spent in the stage by the cases that left it.
    pub median_days: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub outcome: &'static str,
    pub label_zh: &'static str,
    pub label_en: &'static str,
    pub count: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct GroupRow {
    pub group: String,
    pub counts: Vec<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Funnel {
    pub scope: String,
    pub stages: Vec<Stage>,
    pub outcomes: Vec<Outcome>,
    /// Cases past the deadline of their current stage now: (stage, count).
    pub overdue: Vec<(String, u64)>,
    /// Per programme, then per community: stage counts in `STAGES` order.
    pub by_programme: Vec<GroupRow>,
    pub by_community: Vec<GroupRow>,
}

/// The communities the caller may report on, and a name for the scope.
async fn scope(
    db: &impl ConnectionTrait,
    caller: &Principal,
    f: &Filter,
) -> Result<Option<(Vec<Place>, String)>, DbErr> {
    let all = places::service::all(db).await?;
    let own = match caller.role {
        Role::Applicant => return Ok(None),
        Role::Admin => all.iter().map(|p| p.id).collect(),
        _ => caller.place_ids.clone(),
    };
    let mut ids = places::service::communities_within(db, &own).await?;
    if let Some(code) = &f.subdistrict_code {
        let sub: Vec<i64> = all
            .iter()
            .filter(|p| &p.code == code && p.kind == PlaceKind::Subdistrict)
            .map(|p| p.id)
            .collect();
        let within = places::service::communities_within(db, &sub).await?;
        ids.retain(|c| within.contains(c));
    }
    if let Some(code) = &f.community_code {
        ids.retain(|c| all.iter().any(|p| p.id == *c && &p.code == code));
    }
    let name = all
        .iter()
        .find(|p| own.contains(&p.id) && p.kind != PlaceKind::Community)
        .map(|p| p.name.clone())
        .unwrap_or_else(|| "—".into());
    Ok(Some((
        all.into_iter().filter(|p| ids.contains(&p.id)).collect(),
        name,
    )))
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    let x = if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    };
    Some((x * 10.0).round() / 10.0)
}

/// Computes the funnel for the caller's scope, or `None` for a caller with no reports.
pub async fn funnel(
    state: &AppState,
    caller: &Principal,
    f: &Filter,
) -> Result<Option<Funnel>, DbErr> {
    let db = &state.db;
    let Some((communities, scope_name)) = scope(db, caller, f).await? else {
        return Ok(None);
    };
    let ids: Vec<i64> = communities.iter().map(|c| c.id).collect();
    let mut cond = Condition::all().add(application::Column::CommunityId.is_in(ids.clone()));
    if let Some(p) = f.programme {
        cond = cond.add(application::Column::Programme.eq(p.as_str()));
    }
    if let Some(from) = f.from {
        cond = cond.add(application_event::Column::CreatedAt.gte(from));
    }
    if let Some(to) = f.to {
        cond = cond.add(application_event::Column::CreatedAt.lt(to));
    }
    let tracked: Vec<&str> = STAGES
        .iter()
        .map(|s| s.3.as_str())
        .chain(OUTCOMES.iter().flat_map(|o| o.3.iter().map(|a| a.as_str())))
        .collect();
    // One pass over the events in scope: (case, action, time, programme, community).
    let rows: Vec<EventRow> = application_event::Entity::find()
        .select_only()
        .column(application_event::Column::ApplicationId)
        .column(application_event::Column::Action)
        .column(application_event::Column::CreatedAt)
        .column(application::Column::Programme)
        .column(application::Column::CommunityId)
        .join(
            JoinType::InnerJoin,
            application_event::Relation::Application.def(),
        )
        .filter(cond)
        .filter(application_event::Column::Action.is_in(tracked))
        .into_tuple()
        .all(db)
        .await?;

    // First time each case took each action.
    let mut first: HashMap<(i64, String), DateTime<Utc>> = HashMap::new();
    let mut meta: HashMap<i64, CaseMeta> = HashMap::new();
    for (case, action, at, programme, community) in rows {
        let e = first.entry((case, action)).or_insert(at);
        if at < *e {
            *e = at;
        }
        meta.insert(case, (programme, community));
    }
    let count = |action: &str, keep: &dyn Fn(&CaseMeta) -> bool| -> u64 {
        first
            .keys()
            .filter(|(c, a)| a == action && meta.get(c).is_some_and(keep))
            .count() as u64
    };
    let all_cases = |_: &CaseMeta| true;
    let mut stages = Vec::new();
    let mut previous: Option<u64> = None;
    for (i, (stage, zh, en, action)) in STAGES.iter().enumerate() {
        let n = count(action.as_str(), &all_cases);
        let days: Vec<f64> = match STAGES.get(i + 1) {
            Some(next) => first
                .iter()
                .filter(|((_, a), _)| a == action.as_str())
                .filter_map(|((c, _), entered)| {
                    first
                        .get(&(*c, next.3.as_str().to_string()))
                        .map(|left| (*left - *entered).num_minutes() as f64 / 1440.0)
                })
                .collect(),
            None => vec![],
        };
        stages.push(Stage {
            stage,
            label_zh: zh,
            label_en: en,
            count: n,
            ratio_from_previous: previous.map(|p| {
                if p == 0 {
                    0.0
                } else {
                    (n as f64 * 10_000.0 / p as f64).round() / 100.0
                }
            }),
            median_days: median(days),
        });
        previous = Some(n);
    }
    let outcomes = OUTCOMES
        .iter()
        .map(|(o, zh, en, actions)| Outcome {
            outcome: o,
            label_zh: zh,
            label_en: en,
            count: first
                .keys()
                .filter(|(_, a)| actions.iter().any(|x| x.as_str() == a))
                .map(|(c, _)| *c)
                .collect::<std::collections::HashSet<_>>()
                .len() as u64,
        })
        .collect();
    let by_programme = Programme::ALL
        .iter()
        .map(|p| GroupRow {
            group: p.as_str().to_string(),
            counts: STAGES
                .iter()
                .map(|s| count(s.3.as_str(), &|m| m.0.as_deref() == Some(p.as_str())))
                .collect(),
        })
        .collect();
    let by_community = communities
        .iter()
        .filter(|c| c.kind == PlaceKind::Community)
        .map(|c| GroupRow {
            group: c.name.clone(),
            counts: STAGES
                .iter()
                .map(|s| count(s.3.as_str(), &|m| m.1 == Some(c.id)))
                .collect(),
        })
        .collect();
    let overdue = overdue(state, &ids, f.programme).await?;
    Ok(Some(Funnel {
        scope: scope_name,
        stages,
        outcomes,
        overdue,
        by_programme,
        by_community,
    }))
}

/// Cases now past the deadline of the stage they are in (policy deadlines).
async fn overdue(
    state: &AppState,
    communities: &[i64],
    programme: Option<Programme>,
) -> Result<Vec<(String, u64)>, DbErr> {
    use sea_orm::PaginatorTrait;
    let now = state.clock.now();
    let today = crate::applications::service::local_date(now);
    let mut out = Vec::new();
    for (status, label) in [
        (Status::Eligible, "accepted"),
        (Status::UnderReview, "passed_review"),
    ] {
        let mut total = 0;
        for p in Programme::ALL
            .iter()
            .filter(|p| programme.is_none_or(|x| x == **p))
        {
            let Some(policy) =
                crate::eligibility::service::policy_in_force(&state.db, *p, today).await?
            else {
                continue;
            };
            let days = match status {
                Status::Eligible => policy.deadlines.acceptance_days,
                _ => policy.deadlines.first_review_days,
            };
            total += application::Entity::find()
                .filter(application::Column::CommunityId.is_in(communities.iter().copied()))
                .filter(application::Column::Programme.eq(p.as_str()))
                .filter(application::Column::Status.eq(status.as_str()))
                .filter(application::Column::StatusSince.lt(now - Duration::days(days.into())))
                .count(&state.db)
                .await?;
        }
        out.push((label.to_string(), total));
    }
    Ok(out)
}
