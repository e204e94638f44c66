//! The funnel: a stage's figure is the number of distinct cases that first reached it
//! (its event, the first time) on a local day in the period; a case resubmitted or
//! re-reported counts once. Median days in a stage run from first entering it to first
//! reaching the next stage, for the cases that reached the next stage in the period, to a
//! tenth of a day. All of it is read from the counters in `super::counters`, kept in step
//! with the event log, so the report costs the same at 400 cases and at 1,000,000.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use sea_orm::DbErr;
use serde::Serialize;

use crate::access::{Principal, Role};
use crate::applications::form::Programme;
use crate::applications::query::{self, CaseQuery};
use crate::lifecycle::Status;
use crate::lifecycle::counters::{self, CountRow, OUTCOMES, STAGES};
use crate::places::{self, Place, PlaceKind};
use crate::state::AppState;

/// What to count.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub programme: Option<Programme>,
    pub community_code: Option<String>,
    pub subdistrict_code: Option<String>,
    /// First local day (Asia/Shanghai) counted.
    pub from: Option<NaiveDate>,
    /// Last local day counted (inclusive).
    pub to: Option<NaiveDate>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Stage {
    pub stage: &'static str,
    pub label_zh: &'static str,
    pub label_en: &'static str,
    /// Distinct cases that first reached the stage in the period.
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
    /// How far behind the primary the replica read was, in seconds (`None`: no replica).
    pub replica_lag_seconds: Option<f64>,
    /// When the counts were read: every change committed before then is in them.
    pub as_of: chrono::DateTime<Utc>,
}

/// The communities the caller may report on, and a name for the scope.
async fn scope(
    state: &AppState,
    caller: &Principal,
    f: &Filter,
) -> Result<Option<(Vec<Place>, String)>, DbErr> {
    let all = places::service::cached(state).await?;
    let own = match caller.role {
        Role::Applicant => return Ok(None),
        Role::Admin => all.iter().map(|p| p.id).collect(),
        _ => caller.place_ids.clone(),
    };
    let mut ids = places::service::communities_within_cached(state, &own).await?;
    if let Some(code) = &f.subdistrict_code {
        let sub: Vec<i64> = all
            .iter()
            .filter(|p| &p.code == code && p.kind == PlaceKind::Subdistrict)
            .map(|p| p.id)
            .collect();
        let within = places::service::communities_within_cached(state, &sub).await?;
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
        all.iter()
            .filter(|p| ids.contains(&p.id))
            .cloned()
            .collect(),
        name,
    )))
}

/// The median of a histogram of tenths of a day, in days to one decimal.
fn median(histogram: &BTreeMap<i32, u64>) -> Option<f64> {
    let n: u64 = histogram.values().sum();
    if n == 0 {
        return None;
    }
    let at = |rank: u64| {
        let mut seen = 0;
        for (tenths, count) in histogram {
            seen += count;
            if seen > rank {
                return *tenths;
            }
        }
        0
    };
    let mid = (at((n - 1) / 2) + at(n / 2)) as f64 / 2.0;
    Some((mid).round() / 10.0)
}

/// When a report was computed, and the report.
type Computed = (Instant, Arc<Funnel>);

/// Recently computed reports by caller scope, filters and minute (see
/// `Settings::report_cache_secs`); one computation at a time fills it.
#[derive(Clone, Default)]
pub struct FunnelCache {
    done: Arc<Mutex<HashMap<String, Computed>>>,
    computing: Arc<tokio::sync::Mutex<()>>,
}

impl FunnelCache {
    fn get(&self, key: &str, ttl: std::time::Duration) -> Option<Arc<Funnel>> {
        let done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        done.get(key)
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, f)| f.clone())
    }

    fn put(&self, key: String, f: Arc<Funnel>) {
        let mut done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        if done.len() >= 256 {
            done.clear();
        }
        done.insert(key, (Instant::now(), f));
    }
}

/// The funnel for the caller's scope, reused for `report_cache_secs`; `None` for a
/// caller with no reports.
pub async fn funnel_cached(
    state: &AppState,
    caller: &Principal,
    f: &Filter,
) -> Result<Option<Arc<Funnel>>, DbErr> {
    let ttl = std::time::Duration::from_secs(state.settings.report_cache_secs);
    if ttl.is_zero() {
        return Ok(funnel(state, caller, f).await?.map(Arc::new));
    }
    let key = format!(
        "{:?}|{:?}|{f:?}|{}",
        caller.role,
        caller.place_ids,
        state.clock.now().format("%Y%m%d%H%M")
    );
    let cache = state.cache::<FunnelCache>();
    if let Some(hit) = cache.get(&key, ttl) {
        return Ok(Some(hit));
    }
    let _one = cache.computing.lock().await;
    if let Some(hit) = cache.get(&key, ttl) {
        return Ok(Some(hit));
    }
    let Some(fresh) = funnel(state, caller, f).await?.map(Arc::new) else {
        return Ok(None);
    };
    cache.put(key, fresh.clone());
    Ok(Some(fresh))
}

/// Computes the funnel for the caller's scope, or `None` for a caller with no reports.
pub async fn funnel(
    state: &AppState,
    caller: &Principal,
    f: &Filter,
) -> Result<Option<Funnel>, DbErr> {
    let db = &state.reads;
    let Some((communities, scope_name)) = scope(state, caller, f).await? else {
        return Ok(None);
    };
    let as_of = state.clock.now();
    let ids: Vec<i64> = communities.iter().map(|c| c.id).collect();
    let (counts, durations) =
        crate::lifecycle::counters::reached_and_durations(db, &ids, f.programme, f.from, f.to)
            .await?;
    let total = |key: &str, keep: &dyn Fn(&CountRow) -> bool| -> u64 {
        counts
            .iter()
            .filter(|r| r.2 == key && keep(r))
            .map(|r| r.3.max(0) as u64)
            .sum()
    };
    let mut stages = Vec::new();
    let mut previous: Option<u64> = None;
    for (stage, zh, en, _) in STAGES.iter() {
        let n = total(stage, &|_| true);
        let mut histogram = BTreeMap::new();
        for (_, tenths, cases) in durations.iter().filter(|r| r.0 == *stage) {
            *histogram.entry(*tenths).or_insert(0) += (*cases).max(0) as u64;
        }
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
            median_days: median(&histogram),
        });
        previous = Some(n);
    }
    let outcomes = OUTCOMES
        .iter()
        .map(|(o, zh, en, _)| Outcome {
            outcome: o,
            label_zh: zh,
            label_en: en,
            count: total(o, &|_| true),
        })
        .collect();
    let by_programme = Programme::ALL
        .iter()
        .map(|p| GroupRow {
            group: p.as_str().to_string(),
            counts: STAGES
                .iter()
                .map(|s| total(s.0, &|r| r.1 == p.as_str()))
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
                .map(|s| total(s.0, &|r| r.0 == c.id))
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
        replica_lag_seconds: crate::db::replica_lag(state).await,
        as_of,
    }))
}

/// Cases now past the deadline of the stage they are in (policy deadlines). Whole days
/// before the deadline's day come from the status counters; the deadline's own day is
/// counted exactly from the cases (one day's worth, by the status index).
async fn overdue(
    state: &AppState,
    communities: &[i64],
    programme: Option<Programme>,
) -> Result<Vec<(String, u64)>, DbErr> {
    let now = state.clock.now();
    let today = crate::clock::local_date(now);
    let mut totals = [0u64; 2];
    for p in Programme::ALL
        .iter()
        .filter(|p| programme.is_none_or(|x| x == **p))
    {
        let Some(policy) =
            crate::eligibility::service::policy_in_force_cached(state, *p, today).await?
        else {
            continue;
        };
        for (i, (status, days)) in [
            (Status::Eligible, policy.deadlines.acceptance_days),
            (Status::UnderReview, policy.deadlines.first_review_days),
        ]
        .into_iter()
        .enumerate()
        {
            let threshold = now - Duration::days(days.into());
            let day = crate::clock::local_date(threshold);
            let day_start =
                Utc.from_utc_datetime(&(day.and_time(NaiveTime::MIN) - Duration::hours(8)));
            let before =
                counters::in_status_before(&state.reads, communities, *p, status, day).await?;
            let entered_that_day = CaseQuery {
                programme: Some(*p),
                since: Some((day_start, threshold)),
                ..CaseQuery::in_status(status)
            };
            let on_the_day = query::count(&state.reads, communities, &entered_that_day).await?;
            totals[i] += before.max(0) as u64 + on_the_day;
        }
    }
    let mut appeals = 0;
    for status in [
        Status::AppealEligibility,
        Status::AppealReview,
        Status::AppealBureau,
        Status::AppealExit,
    ] {
        let late = CaseQuery {
            programme,
            appeal_late_on: Some((true, today)),
            ..CaseQuery::in_status(status)
        };
        appeals += query::count(&state.reads, communities, &late).await?;
    }
    Ok(vec![
        ("accepted".to_string(), totals[0]),
        ("passed_review".to_string(), totals[1]),
        ("appeal_answered".to_string(), appeals),
    ])
}

#[cfg(test)]
mod tests {
    use super::median;
    use std::collections::BTreeMap;

    #[test]
    fn median_of_a_histogram_in_tenths_of_a_day() {
        let h = |pairs: &[(i32, u64)]| pairs.iter().copied().collect::<BTreeMap<_, _>>();
        assert_eq!(median(&h(&[])), None);
        assert_eq!(median(&h(&[(0, 5)])), Some(0.0));
        assert_eq!(
            median(&h(&[(10, 2), (30, 1)])),
            Some(1.0),
            "odd count: the middle"
        );
        assert_eq!(
            median(&h(&[(10, 1), (20, 1)])),
            Some(1.5),
            "even count: the mean of two"
        );
        assert_eq!(
            median(&h(&[(10, 1), (11, 1)])),
            Some(1.1),
            "10.5 tenths rounds up"
        );
        assert_eq!(median(&h(&[(5, 1), (70, 3)])), Some(7.0));
    }
}
