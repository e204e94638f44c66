//! Counters the funnel reads, kept in step with the event log.
//!
//! The event log stays the source of truth: every counter row is a pure function of the
//! events and the cases' current status, [`rebuild`] recomputes all of them from the log,
//! and a test checks that the maintained rows equal the rebuilt ones. What the counters
//! buy is that a report reads a few rows per community and day instead of every event:
//! the funnel over 1,000,000 cases reads thousands of rows, not millions.
//!
//! Three folded tables:
//! - `funnel_count`: cases that *first* reached a stage (or side exit) on a local day;
//! - `funnel_duration`: a histogram, in tenths of a day, of how long cases spent in a
//!   stage, filed under the day they reached the next one;
//! - `status_count`: cases now in each status by the local day they entered it, for
//!   overdue counts.
//!
//! No transaction that writes an event touches them: [`on_event`] *appends* its changes
//! to `counter_delta` (plain inserts, so two submissions of the same community and day
//! never wait on one shared row), and [`fold`], run by a background step every
//! `counter_fold_ms` (and by bulk loads at their end), moves the deltas into the folded
//! rows in one transaction, one upsert per key in key order. Reports read the folded
//! rows plus the pending deltas in one snapshot, so they are exact whether or not the
//! fold has run; folding only keeps the pending part small.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    application, application_event, counter_delta, funnel_count, funnel_duration, status_count,
};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
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

/// The kinds of counter delta: which folded table each belongs to.
const REACHED: &str = "reached";
const DURATION: &str = "duration";
const STATUS: &str = "status";

/// The columns a [`Delta`] is read from.
const DELTA_COLUMNS: &str = "kind, community_id, programme, name, day, tenths, cases";

/// A counter delta as read back (from the fold or the pending rows).
#[derive(Debug, sea_orm::FromQueryResult)]
struct Delta {
    kind: String,
    community_id: i64,
    programme: String,
    name: String,
    day: NaiveDate,
    tenths: i32,
    cases: i64,
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

    /// Adds the changes to the folded counters, one upsert per key in key order (only
    /// the fold and a rebuild write these rows).
    async fn write_folded(self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
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
    /// The changes as counter-delta rows, zero changes left out.
    fn delta_rows(self) -> Vec<counter_delta::ActiveModel> {
        let row = |kind: &str, community, programme, name: &str, day, tenths, n| {
            counter_delta::ActiveModel {
                kind: Set(kind.to_string()),
                community_id: Set(community),
                programme: Set(programme),
                name: Set(name.to_string()),
                day: Set(day),
                tenths: Set(tenths),
                cases: Set(n),
                ..Default::default()
            }
        };
        let mut rows = Vec::new();
        for ((community, day, programme, key), n) in self.reached {
            rows.push(row(REACHED, community, programme, key, day, 0, n));
        }
        for ((community, day, programme, stage, tenths), n) in self.durations {
            rows.push(row(DURATION, community, programme, stage, day, tenths, n));
        }
        for ((community, programme, status, day), n) in self.statuses {
            if n != 0 {
                rows.push(row(STATUS, community, programme, &status, day, 0, n));
            }
        }
        rows
    }

    /// Appends the changes to `counter_delta`: plain inserts, so no two transactions
    /// ever wait on one counter row. [`fold`] adds them to the counters.
    pub async fn append(self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        let mut rows = self.delta_rows();
        while !rows.is_empty() {
            let rest = rows.split_off(rows.len().min(2000));
            counter_delta::Entity::insert_many(std::mem::replace(&mut rows, rest))
                .exec_without_returning(db)
                .await?;
        }
        Ok(())
    }

    /// Adds one delta; gives it back when it names no known kind or stage.
    fn add_delta(&mut self, d: Delta) -> Result<(), Delta> {
        let stage = key_named(&d.name);
        match (d.kind.as_str(), stage) {
            (REACHED, Some(key)) => {
                *self
                    .reached
                    .entry((d.community_id, d.day, d.programme, key))
                    .or_default() += d.cases;
            }
            (DURATION, Some(key)) => {
                *self
                    .durations
                    .entry((d.community_id, d.day, d.programme, key, d.tenths))
                    .or_default() += d.cases;
            }
            (STATUS, _) => {
                *self
                    .statuses
                    .entry((d.community_id, d.programme, d.name, d.day))
                    .or_default() += d.cases;
            }
            _ => return Err(d),
        }
        Ok(())
    }
}

/// One status change of a case, as the counters see it.
#[derive(Clone, Copy, Debug)]
pub struct Step {
    pub action: Action,
    pub from: Status,
    pub to: Status,
}

/// The case's tracked events before a change (action, when), where the writer knows
/// them without reading: a case still a draft has taken none (no transition leads back
/// to draft, a test in this module checks it).
pub fn known_history(from: Status) -> Option<Vec<(Action, DateTime<Utc>)>> {
    (from == Status::Draft).then(Vec::new)
}

/// Appends the counter changes of events about to be written in `db`'s transaction, in
/// order and all at `at` (call it with the case as it was before the first). `history`
/// is the case's tracked events before these when the caller knows them; otherwise
/// they are read, with one query.
pub async fn on_events(
    db: &impl ConnectionTrait,
    case: &CaseFacts,
    steps: &[Step],
    at: DateTime<Utc>,
    history: Option<Vec<(Action, DateTime<Utc>)>>,
) -> Result<(), DbErr> {
    let (Some(community), Some(programme)) = (case.community_id, case.programme) else {
        return Ok(());
    };
    let programme = programme.as_str();
    let mut prior: Vec<(String, DateTime<Utc>)> = match history {
        Some(h) => h.into_iter().map(|(a, t)| (a.as_str().into(), t)).collect(),
        None => read_prior(db, case.id, steps).await?,
    };
    let mut t = Tally::default();
    let mut since = case.status_since;
    for step in steps {
        if let Some((key, position)) = key_of(step.action) {
            let own = actions_of(key);
            let previous = position
                .and_then(|i| i.checked_sub(1))
                .map(|i| (STAGES[i].0, STAGES[i].3.as_str()));
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
        prior.push((step.action.as_str().into(), at));
        if step.from != step.to {
            let (from, to) = (step.from.as_str(), step.to.as_str());
            t.status(community, programme, from, local_date(since), -1);
            t.status(community, programme, to, local_date(at), 1);
            since = at;
        }
    }
    if t.is_empty() {
        return Ok(());
    }
    t.append(db).await
}

/// The case's earlier events of the actions `steps` count towards (and of the stages
/// before them).
async fn read_prior(
    db: &impl ConnectionTrait,
    id: i64,
    steps: &[Step],
) -> Result<Vec<(String, DateTime<Utc>)>, DbErr> {
    let mut wanted: Vec<&'static str> = Vec::new();
    for step in steps {
        if let Some((key, position)) = key_of(step.action) {
            wanted.extend(actions_of(key));
            if let Some(i) = position.and_then(|i| i.checked_sub(1)) {
                wanted.push(STAGES[i].3.as_str());
            }
        }
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    application_event::Entity::find()
        .select_only()
        .column(application_event::Column::Action)
        .column(application_event::Column::CreatedAt)
        .filter(application_event::Column::ApplicationId.eq(id))
        .filter(application_event::Column::Action.is_in(wanted))
        .into_tuple()
        .all(db)
        .await
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
    db: &DatabaseConnection,
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
    use counter_delta::Column as P;
    let mut pending_counts = counter_delta::Entity::find()
        .select_only()
        .column(P::CommunityId)
        .column(P::Programme)
        .column(P::Name)
        .column_as(sum(P::Cases), "cases")
        .filter(P::Kind.eq(REACHED))
        .filter(P::CommunityId.is_in(communities.to_vec()))
        .group_by(P::CommunityId)
        .group_by(P::Programme)
        .group_by(P::Name);
    let mut pending_durations = counter_delta::Entity::find()
        .select_only()
        .column(P::Name)
        .column(P::Tenths)
        .column_as(sum(P::Cases), "cases")
        .filter(P::Kind.eq(DURATION))
        .filter(P::CommunityId.is_in(communities.to_vec()))
        .group_by(P::Name)
        .group_by(P::Tenths);
    if let Some(p) = programme {
        pending_counts = pending_counts.filter(P::Programme.eq(p.as_str()));
        pending_durations = pending_durations.filter(P::Programme.eq(p.as_str()));
    }
    if let Some(from) = from {
        pending_counts = pending_counts.filter(P::Day.gte(from));
        pending_durations = pending_durations.filter(P::Day.gte(from));
    }
    if let Some(to) = to {
        pending_counts = pending_counts.filter(P::Day.lte(to));
        pending_durations = pending_durations.filter(P::Day.lte(to));
    }
    // One snapshot for the folded rows and the pending ones, so a fold committing in
    // between neither drops nor doubles a delta.
    let snap = crate::db::begin_snapshot(db).await?;
    let mut counts: Vec<CountRow> = counts.into_tuple().all(&snap).await?;
    let mut durations: Vec<DurationRow> = durations.into_tuple().all(&snap).await?;
    counts.extend(pending_counts.into_tuple::<CountRow>().all(&snap).await?);
    durations.extend(
        pending_durations
            .into_tuple::<DurationRow>()
            .all(&snap)
            .await?,
    );
    snap.commit().await?;
    Ok((counts, durations))
}

/// Cases of these communities now in `status`, having entered it before `day`.
pub async fn in_status_before(
    db: &DatabaseConnection,
    communities: &[i64],
    programme: Programme,
    status: Status,
    day: NaiveDate,
) -> Result<i64, DbErr> {
    use counter_delta::Column as P;
    let snap = crate::db::begin_snapshot(db).await?;
    let folded: i64 = status_count::Entity::find()
        .filter(status_count::Column::CommunityId.is_in(communities.to_vec()))
        .filter(status_count::Column::Programme.eq(programme.as_str()))
        .filter(status_count::Column::Status.eq(status.as_str()))
        .filter(status_count::Column::SinceDay.lt(day))
        .all(&snap)
        .await?
        .iter()
        .map(|r| r.cases)
        .sum();
    let pending: i64 = counter_delta::Entity::find()
        .filter(P::Kind.eq(STATUS))
        .filter(P::CommunityId.is_in(communities.to_vec()))
        .filter(P::Programme.eq(programme.as_str()))
        .filter(P::Name.eq(status.as_str()))
        .filter(P::Day.lt(day))
        .all(&snap)
        .await?
        .iter()
        .map(|r| r.cases)
        .sum();
    snap.commit().await?;
    Ok(Ord::max(folded + pending, 0))
}

/// How many deltas one fold takes at most; the next fold takes the rest.
const FOLD_BATCH: usize = 20_000;

/// The fold's `DELETE` of the oldest [`FOLD_BATCH`] deltas, as a range up to the newest
/// of them (one scalar subquery, then one range scan): never `id IN (subquery)`, which
/// PostgreSQL plans as a nested-loop semi-join when its statistics say the table is
/// nearly empty (as they do after the last `ANALYZE` found it folded, with no
/// autovacuum) and which then compares every delta with every taken one: after a load
/// run, a fold of 22,884 deltas was still running 38 s later.
pub fn take_oldest_deltas() -> String {
    format!(
        "DELETE FROM counter_delta WHERE id <= (SELECT MAX(id) FROM \
         (SELECT id FROM counter_delta ORDER BY id LIMIT {FOLD_BATCH}) AS oldest)"
    )
}

/// Folds pending counter deltas into the counters in one write transaction: takes up
/// to [`FOLD_BATCH`] of them, oldest first, with one `DELETE .. RETURNING`, sums them by
/// key and adds each sum with one upsert. Each delta is folded exactly once: a second
/// folder at the same time (another instance on the same PostgreSQL) waits on the rows
/// the first took and then finds them gone, and a crash takes the whole fold back.
/// Returns how many deltas it folded.
pub async fn fold(db: &DatabaseConnection) -> Result<usize, DbErr> {
    let pending: Option<i64> = counter_delta::Entity::find()
        .select_only()
        .column(counter_delta::Column::Id)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    if pending.is_none() {
        return Ok(0);
    }
    let txn = crate::db::begin_write(db).await?;
    let sql = format!("{} RETURNING {DELTA_COLUMNS}", take_oldest_deltas());
    let taken = Delta::find_by_statement(Statement::from_string(txn.get_database_backend(), sql))
        .all(&txn)
        .await?;
    let n = taken.len();
    let mut tally = Tally::default();
    for d in taken {
        if let Err(d) = tally.add_delta(d) {
            tracing::warn!(delta = ?d, "a counter delta names nothing known; dropped");
        }
    }
    tally.write_folded(&txn).await?;
    txn.commit().await?;
    Ok(n)
}

/// Folds until nothing is pending (the CLI, the demo, and tests that read the folded
/// tables directly).
pub async fn fold_all(db: &DatabaseConnection) -> Result<usize, DbErr> {
    let mut total = 0;
    loop {
        match fold(db).await? {
            0 => return Ok(total),
            n => total += n,
        }
    }
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

/// The counters as stored, folded and pending together (one snapshot), in the same shape
/// as [`recount`] returns (zero rows left out).
pub async fn stored(db: &DatabaseConnection) -> Result<Tally, DbErr> {
    let snap = crate::db::begin_snapshot(db).await?;
    let db = &snap;
    let mut t = Tally::default();
    let pending = Delta::find_by_statement(Statement::from_string(
        db.get_database_backend(),
        format!("SELECT {DELTA_COLUMNS} FROM counter_delta"),
    ))
    .all(db)
    .await?;
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
    snap.commit().await?;
    for d in pending {
        // One naming nothing known is left out, as the fold drops it.
        let _ = t.add_delta(d);
    }
    t.statuses.retain(|_, n| *n != 0);
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
    counter_delta::Entity::delete_many().exec(&txn).await?;
    let tally = recount(&txn).await?;
    tally.write_folded(&txn).await?;
    txn.commit().await
}

/// Fills the counters from the log when they are empty but cases exist: a database
/// created before the counters, on its first start with them.
pub async fn ensure(db: &sea_orm::DatabaseConnection) -> Result<bool, DbErr> {
    if status_count::Entity::find().count(db).await? > 0
        || counter_delta::Entity::find().count(db).await? > 0
    {
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
    fn a_delta_naming_nothing_known_is_given_back_and_counts_nothing() {
        use super::{Delta, Tally};
        let d = |kind: &str, name: &str| Delta {
            kind: kind.into(),
            community_id: 1,
            programme: "low_rent".into(),
            name: name.into(),
            day: chrono::NaiveDate::from_ymd_opt(2015, 9, 1).unwrap(),
            tenths: 3,
            cases: 1,
        };
        let mut t = Tally::default();
        assert!(t.add_delta(d("reached", "no_such_stage")).is_err());
        assert!(t.add_delta(d("bogus", "submitted")).is_err());
        assert_eq!(t, Tally::default(), "nothing was counted");
        t.add_delta(d("reached", "submitted")).unwrap();
        t.add_delta(d("reached", "submitted")).unwrap();
        t.add_delta(d("duration", "submitted")).unwrap();
        t.add_delta(d("status", "eligible")).unwrap();
        assert_eq!(t.reached.values().copied().collect::<Vec<_>>(), [2]);
        assert_eq!(t.durations.keys().next().unwrap().4, 3, "tenths kept");
        assert_eq!(t.statuses.len(), 1);
    }

    #[test]
    fn a_draft_has_taken_no_tracked_action() {
        use super::super::case_table::{Status, TABLE};
        for t in TABLE {
            assert_ne!(
                t.to,
                Some(Status::Draft),
                "{:?} leads back to draft",
                t.action
            );
            if t.from.contains(&Status::Draft) && t.to.is_none() {
                assert_eq!(key_of(t.action), None, "{:?} counts from draft", t.action);
            }
        }
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
