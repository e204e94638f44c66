//! Counters the funnel reads, kept in step with the event log.
//!
//! The event log stays the source of truth: every counter row is a pure function of the
//! events and the cases' current status, [`rebuild`] recomputes all of them from the log,
//! and a test checks that the maintained rows equal the rebuilt ones. What the counters
//! buy is that a report reads a few rows per community and day instead of every event:
//! the funnel over 1,000,000 cases reads thousands of rows, not millions.
//!
//! Three tables, all updated by [`on_event`] in the transaction that writes the event:
//! - `funnel_count`: cases that *first* reached a stage (or side exit) on a local day;
//! - `funnel_duration`: a histogram, in tenths of a day, of how long cases spent in a
//!   stage, filed under the day they reached the next one;
//! - `status_count`: cases now in each status by the local day they entered it, for
//!   overdue counts.
//!
//! Rows are upserted in one fixed order (table, then key), so two transactions never
//! wait on each other's counter rows in opposite orders.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use entity::{application, application_event, funnel_count, funnel_duration, status_count};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::case_table::{Action, Status};
use crate::clock::local_date;
use entity::enums::Programme;

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
    ("allocated", "配租", "allocated", Action::AcceptOffer),
];

/// Side exits of the funnel, with the events that mark them.
pub const OUTCOMES: [(&str, &str, &str, &[Action]); 9] = [
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
    (
        "appealed",
        "申请复核",
        "appealed",
        &[
            Action::AppealEligibility,
            Action::AppealReview,
            Action::AppealBureau,
            Action::AppealExit,
        ],
    ),
    (
        "appeal_upheld",
        "复核维持",
        "appeal upheld",
        &[Action::UpholdAppeal],
    ),
    (
        "appeal_overturned",
        "复核撤销原决定",
        "appeal overturned",
        &[Action::OverturnAppeal],
    ),
    (
        "reverified",
        "年审通过",
        "re-verified",
        &[Action::Reverify, Action::AdjustReverification],
    ),
    (
        "exited",
        "退出",
        "left the programme",
        &[
            Action::ExitReverification,
            Action::ExitNoDeclaration,
            Action::ExitForCause,
            Action::FailRecheck,
        ],
    ),
];

/// What the counters need to know of the case an event belongs to.
#[derive(Clone, Debug)]
pub struct CaseFacts {
    pub id: i64,
    pub community_id: Option<i64>,
    pub programme: Option<Programme>,
    /// When the case entered its status before this event.
    pub status_since: DateTime<Utc>,
}

impl CaseFacts {
    pub fn of(case: &application::Model) -> Self {
        CaseFacts {
            id: case.id,
            community_id: case.community_id,
            programme: case.programme,
            status_since: case.status_since,
        }
    }
}

/// The funnel key (a stage or a side exit) an action counts towards, with the stage's
/// position when it is a stage.
pub fn key_of(action: Action) -> Option<(&'static str, Option<usize>)> {
    if let Some(i) = STAGES.iter().position(|s| s.3 == action) {
        return Some((STAGES[i].0, Some(i)));
    }
    OUTCOMES
        .iter()
        .find(|o| o.3.contains(&action))
        .map(|o| (o.0, None))
}

/// The actions that count towards a key.
fn actions_of(key: &str) -> Vec<&'static str> {
    STAGES
        .iter()
        .filter(|s| s.0 == key)
        .map(|s| s.3.as_str())
        .chain(
            OUTCOMES
                .iter()
                .filter(|o| o.0 == key)
                .flat_map(|o| o.3.iter().map(|a| a.as_str())),
        )
        .collect()
}

/// Every action any key counts.
pub fn tracked_actions() -> Vec<&'static str> {
    STAGES
        .iter()
        .map(|s| s.3.as_str())
        .chain(OUTCOMES.iter().flat_map(|o| o.3.iter().map(|a| a.as_str())))
        .collect()
}

/// Time between two instants in tenths of a day, rounded, never negative.
pub fn tenths(from: DateTime<Utc>, to: DateTime<Utc>) -> i32 {
    let minutes = Ord::max((to - from).num_minutes(), 0);
    ((minutes as f64) / 144.0).round() as i32
}

type CountKey = (i64, NaiveDate, String, &'static str);
type DurationKey = (i64, NaiveDate, String, &'static str, i32);
type StatusKey = (i64, String, String, NaiveDate);

/// Counter changes to apply together; sorted, so writes always happen in one order.
#[derive(Default, Debug, PartialEq, Eq)]
pub struct Tally {
    reached: BTreeMap<CountKey, i64>,
    durations: BTreeMap<DurationKey, i64>,
    statuses: BTreeMap<StatusKey, i64>,
}

impl Tally {
    fn reached(&mut self, community: i64, day: NaiveDate, programme: &str, key: &'static str) {
        *self
            .reached
            .entry((community, day, programme.to_string(), key))
            .or_default() += 1;
    }

    fn left(
        &mut self,
        community: i64,
        day: NaiveDate,
        programme: &str,
        stage: &'static str,
        tenths: i32,
    ) {
        *self
            .durations
            .entry((community, day, programme.to_string(), stage, tenths))
            .or_default() += 1;
    }

    fn status(&mut self, community: i64, programme: &str, status: &str, day: NaiveDate, n: i64) {
        if status == Status::Draft.as_str() {
            return;
        }
        *self
            .statuses
            .entry((community, programme.to_string(), status.to_string(), day))
            .or_default() += n;
    }

    /// Counts one case from scratch: its events (any order) and its current status.
    pub fn add_case(
        &mut self,
        community: i64,
        programme: Programme,
        status: Status,
        status_since: DateTime<Utc>,
        events: &[(Action, DateTime<Utc>)],
    ) {
        let (programme, status) = (programme.as_str(), status.as_str());
        let mut first: HashMap<&'static str, DateTime<Utc>> = HashMap::new();
        for (action, at) in events {
            if let Some((key, _)) = key_of(*action) {
                let e = first.entry(key).or_insert(*at);
                if at < e {
                    *e = *at;
                }
            }
        }
        for (key, at) in &first {
            self.reached(community, local_date(*at), programme, key);
        }
        for pair in STAGES.windows(2) {
            let (Some(entered), Some(left)) = (first.get(pair[0].0), first.get(pair[1].0)) else {
                continue;
            };
            if entered <= left {
                self.left(
                    community,
                    local_date(*left),
                    programme,
                    pair[0].0,
                    tenths(*entered, *left),
                );
            }
        }
        self.status(community, programme, status, local_date(status_since), 1);
    }

    fn is_empty(&self) -> bool {
        self.reached.is_empty() && self.durations.is_empty() && self.statuses.is_empty()
    }

    /// Adds the changes to the stored counters.
    pub async fn flush(self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        use funnel_count::Column as C;
        use funnel_duration::Column as D;
        use status_count::Column as S;
        for ((community, day, programme, stage), n) in self.reached {
            let stmt = Query::insert()
                .into_table(funnel_count::Entity)
                .columns([C::CommunityId, C::Day, C::Programme, C::Stage, C::Cases])
                .values_panic([
                    community.into(),
                    day.into(),
                    programme.into(),
                    stage.into(),
                    n.into(),
                ])
                .on_conflict(
                    OnConflict::columns([C::CommunityId, C::Programme, C::Stage, C::Day])
                        .value(C::Cases, Expr::col((funnel_count::Entity, C::Cases)).add(n))
                        .to_owned(),
                )
                .to_owned();
            db.execute(&stmt).await?;
        }
        for ((community, day, programme, stage, tenths), n) in self.durations {
            let stmt = Query::insert()
                .into_table(funnel_duration::Entity)
                .columns([
                    D::CommunityId,
                    D::Day,
                    D::Programme,
                    D::Stage,
                    D::Tenths,
                    D::Cases,
                ])
                .values_panic([
                    community.into(),
                    day.into(),
                    programme.into(),
                    stage.into(),
                    tenths.into(),
                    n.into(),
                ])
                .on_conflict(
                    OnConflict::columns([
                        D::CommunityId,
                        D::Day,
                        D::Programme,
                        D::Stage,
                        D::Tenths,
                    ])
                    .value(
                        D::Cases,
                        Expr::col((funnel_duration::Entity, D::Cases)).add(n),
                    )
                    .to_owned(),
                )
                .to_owned();
            db.execute(&stmt).await?;
        }
        for ((community, programme, status, day), n) in self.statuses {
            if n == 0 {
                continue;
            }
            let stmt = Query::insert()
                .into_table(status_count::Entity)
                .columns([
                    S::CommunityId,
                    S::Programme,
                    S::Status,
                    S::SinceDay,
                    S::Cases,
                ])
                .values_panic([
                    community.into(),
                    programme.into(),
                    status.into(),
                    day.into(),
                    n.into(),
                ])
                .on_conflict(
                    OnConflict::columns([S::CommunityId, S::Programme, S::Status, S::SinceDay])
                        .value(S::Cases, Expr::col((status_count::Entity, S::Cases)).add(n))
                        .to_owned(),
                )
                .to_owned();
            db.execute(&stmt).await?;
        }
        Ok(())
    }
}

/// Updates the counters for one event about to be written in `db`'s transaction (call it
/// before inserting the event, with the case as it was before the change).
pub async fn on_event(
    db: &impl ConnectionTrait,
    case: &CaseFacts,
    action: Action,
    from_status: Option<Status>,
    to_status: Status,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    let (Some(community), Some(programme)) = (case.community_id, case.programme) else {
        return Ok(());
    };
    let programme = programme.as_str();
    let (from_status, to_status) = (from_status.map(Status::as_str), to_status.as_str());
    let mut t = Tally::default();
    if let Some((key, position)) = key_of(action) {
        let own = actions_of(key);
        let previous = position
            .and_then(|i| i.checked_sub(1))
            .map(|i| (STAGES[i].0, STAGES[i].3.as_str()));
        let mut wanted = own.clone();
        wanted.extend(previous.map(|p| p.1));
        let prior: Vec<(String, DateTime<Utc>)> = application_event::Entity::find()
            .select_only()
            .column(application_event::Column::Action)
            .column(application_event::Column::CreatedAt)
            .filter(application_event::Column::ApplicationId.eq(case.id))
            .filter(application_event::Column::Action.is_in(wanted))
            .into_tuple()
            .all(db)
            .await?;
        if !prior.iter().any(|(a, _)| own.contains(&a.as_str())) {
            t.reached(community, local_date(at), programme, key);
            if let Some((stage, prev_action)) = previous {
                let entered = prior
                    .iter()
                    .filter(|(a, _)| a == prev_action)
                    .map(|(_, t)| *t)
                    .min();
                if let Some(entered) = entered.filter(|e| *e <= at) {
                    t.left(
                        community,
                        local_date(at),
                        programme,
                        stage,
                        tenths(entered, at),
                    );
                }
            }
        }
    }
    if let Some(from) = from_status.filter(|f| *f != to_status) {
        t.status(
            community,
            programme,
            from,
            local_date(case.status_since),
            -1,
        );
        t.status(community, programme, to_status, local_date(at), 1);
    }
    if t.is_empty() {
        return Ok(());
    }
    t.flush(db).await
}

/// (community, programme, stage, cases) first reaching a stage in the period.
pub type CountRow = (i64, String, String, i64);
/// (stage, tenths of a day, cases) for the time spent in a stage.
pub type DurationRow = (String, i32, i64);

/// The funnel's rows for these communities: stage counts per community and programme,
/// and the duration histograms, for a programme (or all) and a period of local days,
/// summed by the database over the days: a few hundred rows whatever the period's length.
/// (`CAST` because PostgreSQL sums a `bigint` into a `numeric`.)
pub async fn reached_and_durations(
    db: &impl ConnectionTrait,
    communities: &[i64],
    programme: Option<Programme>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<(Vec<CountRow>, Vec<DurationRow>), DbErr> {
    use funnel_count::Column as C;
    use funnel_duration::Column as D;
    use sea_orm::sea_query::Func;
    fn sum(col: impl sea_orm::sea_query::IntoColumnRef) -> Expr {
        Expr::from(Func::cast_as(Func::sum(Expr::col(col)), "BIGINT"))
    }
    let mut counts = funnel_count::Entity::find()
        .select_only()
        .column(C::CommunityId)
        .column(C::Programme)
        .column(C::Stage)
        .column_as(sum(C::Cases), "cases")
        .filter(C::CommunityId.is_in(communities.to_vec()))
        .group_by(C::CommunityId)
        .group_by(C::Programme)
        .group_by(C::Stage);
    let mut durations = funnel_duration::Entity::find()
        .select_only()
        .column(D::Stage)
        .column(D::Tenths)
        .column_as(sum(D::Cases), "cases")
        .filter(D::CommunityId.is_in(communities.to_vec()))
        .group_by(D::Stage)
        .group_by(D::Tenths);
    if let Some(p) = programme {
        counts = counts.filter(C::Programme.eq(p.as_str()));
        durations = durations.filter(D::Programme.eq(p.as_str()));
    }
    if let Some(from) = from {
        counts = counts.filter(C::Day.gte(from));
        durations = durations.filter(D::Day.gte(from));
    }
    if let Some(to) = to {
        counts = counts.filter(C::Day.lte(to));
        durations = durations.filter(D::Day.lte(to));
    }
    Ok((
        counts.into_tuple().all(db).await?,
        durations.into_tuple().all(db).await?,
    ))
}

/// Cases of these communities now in `status`, having entered it before `day`.
pub async fn in_status_before(
    db: &impl ConnectionTrait,
    communities: &[i64],
    programme: Programme,
    status: Status,
    day: NaiveDate,
) -> Result<i64, DbErr> {
    let sum = status_count::Entity::find()
        .filter(status_count::Column::CommunityId.is_in(communities.to_vec()))
        .filter(status_count::Column::Programme.eq(programme.as_str()))
        .filter(status_count::Column::Status.eq(status.as_str()))
        .filter(status_count::Column::SinceDay.lt(day))
        .all(db)
        .await?
        .iter()
        .map(|r| r.cases)
        .sum::<i64>();
    Ok(Ord::max(sum, 0))
}

/// (id, community, programme, status, status since) of a case.
type CaseRow = (i64, Option<i64>, Option<Programme>, Status, DateTime<Utc>);

/// Counts every submitted case from the event log, without writing.
pub async fn recount(db: &impl ConnectionTrait) -> Result<Tally, DbErr> {
    let mut tally = Tally::default();
    let mut after = 0i64;
    loop {
        let cases: Vec<CaseRow> = application::Entity::find()
            .select_only()
            .column(application::Column::Id)
            .column(application::Column::CommunityId)
            .column(application::Column::Programme)
            .column(application::Column::Status)
            .column(application::Column::StatusSince)
            .filter(application::Column::Id.gt(after))
            .filter(application::Column::Status.ne(Status::Draft.as_str()))
            .order_by_asc(application::Column::Id)
            .limit(2000)
            .into_tuple()
            .all(db)
            .await?;
        let Some(last) = cases.last() else {
            break;
        };
        after = last.0;
        let ids: Vec<i64> = cases.iter().map(|c| c.0).collect();
        let events: Vec<(i64, Action, DateTime<Utc>)> = application_event::Entity::find()
            .select_only()
            .column(application_event::Column::ApplicationId)
            .column(application_event::Column::Action)
            .column(application_event::Column::CreatedAt)
            .filter(application_event::Column::ApplicationId.is_in(ids))
            .filter(application_event::Column::Action.is_in(tracked_actions()))
            .into_tuple()
            .all(db)
            .await?;
        let mut by_case: HashMap<i64, Vec<(Action, DateTime<Utc>)>> = HashMap::new();
        for (id, action, at) in events {
            by_case.entry(id).or_default().push((action, at));
        }
        for (id, community, programme, status, since) in cases {
            let (Some(community), Some(programme)) = (community, programme) else {
                continue;
            };
            let events = by_case.remove(&id).unwrap_or_default();
            tally.add_case(community, programme, status, since, &events);
        }
    }
    Ok(tally)
}

/// The counters as stored, in the same shape as [`recount`] returns (zero rows left out).
pub async fn stored(db: &impl ConnectionTrait) -> Result<Tally, DbErr> {
    let mut t = Tally::default();
    for r in funnel_count::Entity::find().all(db).await? {
        if let Some(key) = key_named(&r.stage) {
            t.reached
                .insert((r.community_id, r.day, r.programme, key), r.cases);
        }
    }
    for r in funnel_duration::Entity::find().all(db).await? {
        if let Some(key) = key_named(&r.stage) {
            t.durations
                .insert((r.community_id, r.day, r.programme, key, r.tenths), r.cases);
        }
    }
    for r in status_count::Entity::find().all(db).await? {
        if r.cases != 0 {
            t.statuses.insert(
                (r.community_id, r.programme, r.status, r.since_day),
                r.cases,
            );
        }
    }
    Ok(t)
}

/// Where two tallies differ, one line per key: (stored, recounted).
pub fn differences(stored: &Tally, recounted: &Tally) -> Vec<String> {
    fn diff<K: Ord + std::fmt::Debug>(
        what: &str,
        a: &BTreeMap<K, i64>,
        b: &BTreeMap<K, i64>,
        out: &mut Vec<String>,
    ) {
        for k in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
            let (x, y) = (
                a.get(k).copied().unwrap_or(0),
                b.get(k).copied().unwrap_or(0),
            );
            if x != y {
                out.push(format!("{what} {k:?}: stored {x}, event log {y}"));
            }
        }
    }
    let mut out = Vec::new();
    diff("reached", &stored.reached, &recounted.reached, &mut out);
    diff(
        "duration",
        &stored.durations,
        &recounted.durations,
        &mut out,
    );
    diff("status", &stored.statuses, &recounted.statuses, &mut out);
    out
}

/// The static name of a stored key.
fn key_named(name: &str) -> Option<&'static str> {
    STAGES
        .iter()
        .map(|s| s.0)
        .chain(OUTCOMES.iter().map(|o| o.0))
        .find(|k| *k == name)
}

/// Replaces every counter with a recount from the event log, in one transaction.
pub async fn rebuild(db: &sea_orm::DatabaseConnection) -> Result<(), DbErr> {
    let txn = crate::db::begin_write(db).await?;
    funnel_count::Entity::delete_many().exec(&txn).await?;
    funnel_duration::Entity::delete_many().exec(&txn).await?;
    status_count::Entity::delete_many().exec(&txn).await?;
    let tally = recount(&txn).await?;
    tally.flush(&txn).await?;
    txn.commit().await
}

/// Fills the counters from the log when they are empty but cases exist: a database
/// created before the counters, on its first start with them.
pub async fn ensure(db: &sea_orm::DatabaseConnection) -> Result<bool, DbErr> {
    if status_count::Entity::find().count(db).await? > 0 {
        return Ok(false);
    }
    let submitted = application::Entity::find()
        .filter(application::Column::Status.ne(Status::Draft.as_str()))
        .count(db)
        .await?;
    if submitted == 0 {
        return Ok(false);
    }
    rebuild(db).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::{Action, key_of, tenths};
    use chrono::{Duration, TimeZone, Utc};

    #[test]
    fn durations_round_to_tenths_of_a_day_and_never_go_negative() {
        let t = Utc.with_ymd_and_hms(2015, 9, 1, 8, 0, 0).unwrap();
        assert_eq!(tenths(t, t), 0);
        assert_eq!(tenths(t, t + Duration::minutes(71)), 0);
        assert_eq!(
            tenths(t, t + Duration::minutes(72)),
            1,
            "half a tenth rounds up"
        );
        assert_eq!(tenths(t, t + Duration::days(3)), 30);
        assert_eq!(tenths(t, t - Duration::days(1)), 0);
    }

    #[test]
    fn each_tracked_action_counts_towards_one_key() {
        assert_eq!(key_of(Action::Submit), Some(("submitted", Some(0))));
        assert_eq!(key_of(Action::AcceptOffer), Some(("allocated", Some(6))));
        assert_eq!(key_of(Action::Waitlist), None);
        assert_eq!(key_of(Action::BureauReject), Some(("rejected", None)));
        assert_eq!(key_of(Action::UpholdObjection), Some(("rejected", None)));
        assert_eq!(
            key_of(Action::Resubmit),
            None,
            "a resubmission is not a second submission"
        );
        assert_eq!(key_of(Action::Claim), None);
    }
}
