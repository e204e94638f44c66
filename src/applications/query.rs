//! Reading many cases at once: a typed description of which cases (`CaseQuery`), in
//! which order, from which key on. The work queues, the public notice and the batch
//! pickers of other domains ask through this, so the `application` table's columns stay
//! this domain's business.

use chrono::{DateTime, Utc};
use entity::application::{self, Column as C};
use entity::enums::Programme;
use entity::member_key;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbErr, Order};

use super::Listed;
use super::repository as repo;
use crate::lifecycle::Status;

/// Whose cases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Assigned {
    To(i64),
    Nobody,
    Anyone,
}

/// Which time a listing is ordered by (then by id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    /// When the case entered its status (queues: longest waiting first).
    StatusSince,
    /// When the public notice ends (the notice list: soonest first).
    NoticeEnds,
}

/// Late for a stage: in `programme`, in its status since before `since_before`.
#[derive(Clone, Debug)]
pub struct Deadline {
    pub programme: Programme,
    pub since_before: DateTime<Utc>,
}

/// Which cases, in the caller's communities.
#[derive(Clone, Debug)]
pub struct CaseQuery {
    pub status: Status,
    pub programme: Option<Programme>,
    pub number: Option<String>,
    pub assigned: Assigned,
    pub duplicate_open: Option<bool>,
    pub has_warnings: Option<bool>,
    /// Only cases past (true) or within (false) their deadline: one of these, or a
    /// notice that ended before the time given.
    pub late: Option<(bool, Vec<Deadline>, Option<DateTime<Utc>>)>,
    /// Only cases whose notice is still open at this time.
    pub notice_open_at: Option<DateTime<Utc>>,
    /// Only cases under appeal whose answer is past due (true) or not yet (false) on
    /// this local day.
    pub appeal_late_on: Option<(bool, chrono::NaiveDate)>,
    /// Only cases that entered their status in `[from, to)`.
    pub since: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Leave out the cases a person with this keyed identity hash is a member of (a staff
    /// member's own household).
    pub without_member: Option<String>,
    pub sort: SortKey,
    pub descending: bool,
    /// Start after this (time, id) in the listing's order.
    pub after: Option<(DateTime<Utc>, i64)>,
}

impl CaseQuery {
    /// Every case in `status`, oldest in it first.
    pub fn in_status(status: Status) -> Self {
        CaseQuery {
            status,
            programme: None,
            number: None,
            assigned: Assigned::Anyone,
            duplicate_open: None,
            has_warnings: None,
            late: None,
            notice_open_at: None,
            appeal_late_on: None,
            since: None,
            without_member: None,
            sort: SortKey::StatusSince,
            descending: false,
            after: None,
        }
    }

    fn sort_column(&self) -> C {
        match self.sort {
            SortKey::StatusSince => C::StatusSince,
            SortKey::NoticeEnds => C::NoticeEndsAt,
        }
    }

    /// Everything but the keyset position.
    fn filter(&self) -> Condition {
        let mut cond = Condition::all().add(C::Status.eq(self.status));
        if let Some(p) = self.programme {
            cond = cond.add(C::Programme.eq(p));
        }
        if let Some(n) = &self.number {
            cond = cond.add(C::Number.eq(n.clone()));
        }
        cond = match self.assigned {
            Assigned::To(user) => cond.add(C::AssignedTo.eq(user)),
            Assigned::Nobody => cond.add(C::AssignedTo.is_null()),
            Assigned::Anyone => cond,
        };
        if let Some(f) = self.duplicate_open {
            cond = cond.add(C::DuplicateOpen.eq(f));
        }
        if let Some(w) = self.has_warnings {
            cond = cond.add(if w {
                C::WarningsOpen.gt(0)
            } else {
                C::WarningsOpen.eq(0)
            });
        }
        if let Some(hash) = &self.without_member {
            cond = cond.add(
                C::Id.not_in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(member_key::Column::ApplicationId)
                        .from(member_key::Entity)
                        .and_where(member_key::Column::IdHash.eq(hash.clone()))
                        .to_owned(),
                ),
            );
        }
        if let Some((from, to)) = self.since {
            cond = cond
                .add(C::StatusSince.gte(from))
                .add(C::StatusSince.lt(to));
        }
        if let Some(at) = self.notice_open_at {
            cond = cond.add(C::NoticeEndsAt.gt(at));
        }
        if let Some((late, today)) = self.appeal_late_on {
            cond = cond.add(if late {
                C::AppealDueOn.lt(today)
            } else {
                C::AppealDueOn.gte(today)
            });
        }
        if let Some((late, deadlines, notice_ended_before)) = &self.late {
            let mut any = Condition::any();
            if let Some(t) = notice_ended_before {
                any = any.add(C::NoticeEndsAt.lt(*t));
            }
            for d in deadlines {
                any = any.add(
                    Condition::all()
                        .add(C::Programme.eq(d.programme))
                        .add(C::StatusSince.lt(d.since_before)),
                );
            }
            cond = cond.add(if *late { any } else { any.not() });
        }
        cond
    }

    fn keyset(&self) -> Condition {
        let Some((t, id)) = self.after else {
            return Condition::all();
        };
        let col = self.sort_column();
        let (later, bigger) = if self.descending {
            (col.lt(t), C::Id.lt(id))
        } else {
            (col.gt(t), C::Id.gt(id))
        };
        Condition::any()
            .add(later)
            .add(Condition::all().add(col.eq(t)).add(bigger))
    }

    fn order(&self) -> Vec<(C, Order)> {
        let dir = if self.descending {
            Order::Desc
        } else {
            Order::Asc
        };
        vec![(self.sort_column(), dir.clone()), (C::Id, dir)]
    }

    /// The (time, id) a page ends at, for the next page's `after`.
    pub fn position(&self, case: &application::Model) -> Option<(DateTime<Utc>, i64)> {
        let t = match self.sort {
            SortKey::StatusSince => Some(case.status_since),
            SortKey::NoticeEnds => case.notice_ends_at,
        };
        t.map(|t| (t, case.id))
    }
}

/// Up to `limit` cases of these communities matching the query, in its order.
pub async fn find(
    db: &impl ConnectionTrait,
    communities: &[i64],
    q: &CaseQuery,
    limit: u64,
) -> Result<Vec<application::Model>, DbErr> {
    let cond = q.filter().add(q.keyset());
    repo::matching(
        db,
        repo::in_communities(communities),
        cond,
        &q.order(),
        limit,
    )
    .await
}

/// [`find`], as lists show the cases: without their forms (see [`Listed`]).
pub async fn find_listed(
    db: &impl ConnectionTrait,
    communities: &[i64],
    q: &CaseQuery,
    limit: u64,
) -> Result<Vec<Listed>, DbErr> {
    let cond = q.filter().add(q.keyset());
    repo::matching_listed(
        db,
        repo::in_communities(communities),
        cond,
        &q.order(),
        limit,
    )
    .await
}

/// How many cases of these communities match the query (ignoring its position).
pub async fn count(
    db: &impl ConnectionTrait,
    communities: &[i64],
    q: &CaseQuery,
) -> Result<u64, DbErr> {
    repo::count_matching(db, repo::in_communities(communities), q.filter()).await
}

/// Cases anywhere matching the query, for system jobs (closing notice windows).
pub async fn find_everywhere(
    db: &impl ConnectionTrait,
    q: &CaseQuery,
    limit: u64,
) -> Result<Vec<application::Model>, DbErr> {
    let cond = q.filter().add(q.keyset());
    repo::matching(db, repo::everywhere(), cond, &q.order(), limit).await
}

/// How many cases anywhere match the query (for the service's own gauges).
pub async fn count_everywhere(db: &impl ConnectionTrait, q: &CaseQuery) -> Result<u64, DbErr> {
    repo::count_matching(db, repo::everywhere(), q.filter()).await
}
