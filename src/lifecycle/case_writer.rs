//! The case writer: the only way a case changes status, and the only code that writes a
//! case event. A change is (case, action, actor, details). The writer takes the case
//! locked ([`lock`]), finds the row of the lifecycle table, checks the actor's role,
//! the version the actor saw and the comment and reason the row requires, then in the
//! caller's transaction writes the status and version, the event, the report counters
//! and the messages the row names. A withdrawal also takes the case out of its open
//! batch, through the batch writer, in the same transaction.
//!
//! Lock order, everywhere: a case's open batch before the case. Batch operations lock
//! their batch and then each case they move; [`lock`] therefore locks the case's open
//! batch (if any) before the case, so the two never wait on each other in a circle.

use chrono::{DateTime, Utc};
use entity::{application, application_event};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr};

use super::case_table::{self, Action, Refusal, Status, Transition};
use super::counters::{self, CaseFacts, Tally};
use super::error::LifecycleError;
use super::{batch_writer, reasons, repository as repo, unit_writer};
use crate::access::Role;
use crate::clock::local_date;
use crate::error::FieldError;
use crate::i18n::Lang;
use crate::notifications::{self, NewMessage, templates::Facts};

/// Who takes an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// The service itself: the eligibility engine, the notice clock, a batch.
    System,
    /// A signed-in person in a role.
    Person { user_id: i64, role: Role },
    /// Whoever runs `anju` on the command line for bulk intake: takes the transitions a
    /// counter clerk may take, and is recorded as no account.
    Operator,
}

impl Actor {
    fn id(self) -> Option<i64> {
        match self {
            Actor::Person { user_id, .. } => Some(user_id),
            Actor::System | Actor::Operator => None,
        }
    }

    fn rule(self, from: Status, action: Action) -> Result<&'static Transition, Refusal> {
        match self {
            Actor::System => case_table::system_transition(from, action),
            Actor::Person { role, .. } => case_table::transition(from, action, role),
            Actor::Operator => case_table::transition(from, action, Role::Reviewer),
        }
    }
}

/// One change to a case.
pub struct Change {
    pub action: Action,
    pub actor: Actor,
    /// The version the actor saw; `None` where nobody looked (system actions).
    pub version: Option<i32>,
    pub reason_code: Option<String>,
    pub comment: Option<String>,
    /// Other columns the change sets (status, version and times are the writer's).
    pub columns: application::ActiveModel,
    /// What the messages say beyond the name, number, dates and reason.
    pub facts: Facts,
}

impl Change {
    pub fn new(action: Action, actor: Actor) -> Self {
        Change {
            action,
            actor,
            version: None,
            reason_code: None,
            comment: None,
            columns: Default::default(),
            facts: Facts::default(),
        }
    }

    pub fn version(mut self, v: Option<i32>) -> Self {
        self.version = v;
        self
    }

    pub fn comment(mut self, c: Option<String>) -> Self {
        self.comment = c;
        self
    }

    pub fn reason(mut self, r: Option<String>) -> Self {
        self.reason_code = r;
        self
    }

    pub fn columns(mut self, c: application::ActiveModel) -> Self {
        self.columns = c;
        self
    }

    pub fn facts(mut self, f: Facts) -> Self {
        self.facts = f;
        self
    }
}

/// A case locked for the rest of the transaction; only [`lock`] makes one.
pub struct Locked(application::Model);

impl Locked {
    /// A case inserted in the caller's transaction: no other transaction sees it before
    /// the commit, and a new case is in no batch, so its insert is its lock.
    pub fn inserted(case: application::Model) -> Self {
        debug_assert_eq!(case.status, Status::Draft);
        Locked(case)
    }

    pub fn case(&self) -> &application::Model {
        &self.0
    }

    pub fn into_case(self) -> application::Model {
        self.0
    }
}

/// What a change (or a run of changes) did.
pub struct Applied {
    /// The case after the change, still locked.
    pub case: Locked,
    /// The event of the last change.
    pub event_id: i64,
    /// The events of all the changes, in order.
    pub event_ids: Vec<i64>,
    pub from: Status,
    pub to: Status,
}

/// Locks a case (and first its open batch, see the module docs); `None` if there is none.
pub async fn lock(db: &impl ConnectionTrait, id: i64) -> Result<Option<Locked>, DbErr> {
    let batch = repo::open_batch_of(db, id).await?;
    if let Some(b) = batch {
        repo::lock_batch(db, b).await?;
    }
    let Some(case) = repo::lock_case(db, id).await? else {
        return Ok(None);
    };
    // Put in a batch between the two reads: that batch was made to wait for nothing of
    // ours, so locking it now cannot close a circle with an operation on it that is still
    // filling (a batch that is only just added to cannot be deciding or reporting).
    let now_in = repo::open_batch_of(db, id).await?;
    if let Some(b) = now_in.filter(|b| Some(*b) != batch) {
        repo::lock_batch(db, b).await?;
    }
    Ok(Some(Locked(case)))
}

/// Makes one change to a locked case, in the caller's transaction.
pub async fn apply(
    db: &impl ConnectionTrait,
    locked: Locked,
    change: Change,
    now: DateTime<Utc>,
) -> Result<Applied, LifecycleError> {
    apply_steps(db, locked, vec![change], now).await
}

/// A change checked against the table, waiting to be written.
struct Planned {
    rule: &'static Transition,
    actor: Actor,
    from: Status,
    to: Status,
    comment: Option<String>,
    reason: Option<String>,
    policy_version: Option<String>,
    facts: Facts,
}

/// Makes several changes to a locked case at one instant, in order, in the caller's
/// transaction, as one write (a submission and its eligibility result): each change is
/// checked against the table from the status the one before left, and the version
/// each actor saw against the case's; then the case row is updated once (its version
/// moves by the number of changes, one per event), and the events, the counter deltas
/// and the messages are each written with one statement.
pub async fn apply_steps(
    db: &impl ConnectionTrait,
    locked: Locked,
    changes: Vec<Change>,
    now: DateTime<Utc>,
) -> Result<Applied, LifecycleError> {
    let case = locked.0;
    let start = case.status;
    let (plan, mut columns) = plan(&case, changes)?;
    let end = plan.last().map_or(start, |p| p.to);
    if end != start {
        columns.status = Set(end);
        columns.status_since = Set(now);
    }
    columns.updated_at = Set(now);
    let updated = repo::update_case(db, case.id, case.version, plan.len() as i32, columns)
        .await?
        .ok_or(LifecycleError::Stale(case.version))?;
    let before = CaseFacts {
        status_since: case.status_since,
        ..CaseFacts::of(&updated)
    };
    let steps: Vec<counters::Step> = plan
        .iter()
        .map(|p| counters::Step {
            action: p.rule.action,
            from: p.from,
            to: p.to,
        })
        .collect();
    counters::on_events(db, &before, &steps, now, counters::known_history(start)).await?;
    let rows = plan
        .iter()
        .map(|p| application_event::ActiveModel {
            application_id: Set(case.id),
            actor_id: Set(p.actor.id()),
            action: Set(p.rule.action),
            from_status: Set(Some(p.from)),
            to_status: Set(p.to),
            reason_code: Set(p.reason.clone()),
            comment: Set(p.comment.clone()),
            policy_version: Set(p.policy_version.clone()),
            created_at: Set(now),
            ..Default::default()
        })
        .collect();
    let event_ids: Vec<i64> = repo::insert_case_events(db, rows)
        .await?
        .into_iter()
        .map(|e| e.id)
        .collect();
    let mut messages = Vec::new();
    for (p, event_id) in plan.into_iter().zip(&event_ids) {
        if p.to == Status::Withdrawn {
            batch_writer::case_withdrawn(db, case.id, now).await?;
        }
        // A household that leaves gives back the unit it was offered or let.
        if matches!(p.from, Status::Offered | Status::Allocated)
            && matches!(p.to, Status::Withdrawn | Status::Exited)
        {
            unit_writer::release_for_case(db, case.id, p.actor.id(), now).await?;
        }
        let facts = Facts {
            comment: p.comment.unwrap_or_default(),
            ..p.facts
        };
        messages.extend(compose(
            p.rule,
            &updated,
            *event_id,
            p.reason.as_deref(),
            facts,
            now,
        ));
    }
    notifications::enqueue_many(db, messages, now).await?;
    Ok(Applied {
        case: Locked(updated),
        event_id: event_ids.last().copied().unwrap_or_default(),
        event_ids,
        from: start,
        to: end,
    })
}

/// Checks each change in order and gathers the columns they set (a later change's
/// value wins); refuses the lot if any one cannot be taken.
fn plan(
    case: &application::Model,
    changes: Vec<Change>,
) -> Result<(Vec<Planned>, application::ActiveModel), LifecycleError> {
    use sea_orm::{ActiveModelTrait, ActiveValue, Iterable};
    let mut status = case.status;
    let mut policy_version = case.policy_version.clone();
    let mut columns = <application::ActiveModel as Default>::default();
    let mut plan = Vec::with_capacity(changes.len());
    for change in changes {
        let rule = change
            .actor
            .rule(status, change.action)
            .map_err(|r| match r {
                Refusal::WrongStatus => LifecycleError::WrongStatus(status),
                Refusal::WrongRole => LifecycleError::Forbidden,
            })?;
        if change.version.is_some_and(|v| v != case.version) {
            return Err(LifecycleError::Stale(case.version));
        }
        let (comment, reason) = required_text(rule, change.comment, change.reason_code)?;
        for c in application::Column::iter() {
            if let ActiveValue::Set(v) = change.columns.get(c) {
                columns.set(c, v);
            }
        }
        if let ActiveValue::Set(v) = &columns.policy_version {
            policy_version = v.clone();
        }
        let to = rule.target(status);
        plan.push(Planned {
            rule,
            actor: change.actor,
            from: status,
            to,
            comment,
            reason,
            policy_version: policy_version.clone(),
            facts: change.facts,
        });
        status = to;
    }
    Ok((plan, columns))
}

/// The comment and reason code, trimmed, present where the row requires them, and the
/// reason on the maintained list.
fn required_text(
    rule: &Transition,
    comment: Option<String>,
    reason: Option<String>,
) -> Result<(Option<String>, Option<String>), LifecycleError> {
    let trimmed = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let (comment, reason) = (trimmed(comment), trimmed(reason));
    let mut errors = Vec::new();
    if rule.reason_required && reason.is_none() {
        errors.push(FieldError::required("reason_code"));
    }
    if reason
        .as_deref()
        .is_some_and(|r| reasons::label(r).is_none())
    {
        errors.push(FieldError::new(
            "reason_code",
            "unknown_reason",
            crate::i18n::Msg::new("不在原因代码清单中", "is not on the list of reason codes"),
        ));
    }
    if rule.comment_required && comment.is_none() {
        errors.push(FieldError::required("comment"));
    }
    if errors.is_empty() {
        Ok((comment, reason))
    } else {
        Err(LifecycleError::Invalid(errors))
    }
}

/// The messages the row names, to the address on the case after the change.
fn compose(
    rule: &Transition,
    case: &application::Model,
    event_id: i64,
    reason: Option<&str>,
    facts: Facts,
    now: DateTime<Utc>,
) -> Vec<NewMessage> {
    if rule.messages.is_empty() {
        return Vec::new();
    }
    let lang = Lang::from(case.language);
    let facts = Facts {
        name: case.applicant_name.clone().unwrap_or_default(),
        number: case.number.clone().unwrap_or_else(|| "-".into()),
        date: local_date(now).to_string(),
        until: match (&facts.until, case.notice_ends_at) {
            (given, _) if !given.is_empty() => given.clone(),
            (_, Some(t)) => local_date(t).to_string(),
            _ => String::new(),
        },
        reason: reason
            .and_then(reasons::label)
            .map(|m| m.get(lang).to_string())
            .unwrap_or_default(),
        decision: match rule.action {
            Action::Approve => "approved",
            Action::Return => "returned",
            Action::OverturnAppeal => "overturned",
            Action::UpholdAppeal => "upheld",
            Action::Reverify => "continued",
            Action::AdjustReverification => "adjusted",
            _ => "rejected",
        },
        eligible: rule.action == Action::PassEligibility,
        waitlist_number: case.waitlist_number.unwrap_or_default(),
        ..facts
    };
    rule.messages
        .iter()
        .map(|template| NewMessage {
            application_id: Some(case.id),
            event_id: Some(event_id),
            kind: template.kind(),
            recipient: case.contact_email.clone(),
            language: case.language,
            rendered: template.render(lang, &facts),
        })
        .collect()
}

/// A case born whole: its row as a draft would be, who files it, and the transitions it
/// takes at once (e.g. submit, then the eligibility result), each with its policy version.
pub struct NewCase {
    pub row: application::ActiveModel,
    pub actor: Actor,
    pub steps: Vec<(Action, Option<String>)>,
    /// The facts of each step's messages, in step order, for a household that is told
    /// (a filing); empty: no message is queued (bulk intake: nobody is e-mailed).
    pub notify: Vec<Facts>,
    pub at: DateTime<Utc>,
}

/// A case written by [`create_many`], with its events in step order.
pub struct Created {
    pub case: application::Model,
    pub events: Vec<application_event::Model>,
}

/// One step of a case born whole, checked against the table.
struct Born {
    rule: &'static Transition,
    actor: Actor,
    from: Status,
    to: Status,
    policy: Option<String>,
}

/// Writes many new cases with their transitions in few statements (bulk intake, a group
/// of filings): each step is checked against the table from `draft` (the eligibility
/// result is the system's), then one insert each for the cases, their events, the
/// counter deltas of them all and their messages.
pub async fn create_many(
    db: &impl ConnectionTrait,
    cases: Vec<NewCase>,
) -> Result<Vec<Created>, LifecycleError> {
    let mut rows = Vec::with_capacity(cases.len());
    let mut paths = Vec::with_capacity(cases.len());
    for c in cases {
        let path = born(c.actor, c.steps)?;
        let mut row = c.row;
        row.status = Set(path.last().map_or(Status::Draft, |b| b.to));
        row.status_since = Set(c.at);
        row.version = Set(1 + path.len() as i32);
        rows.push(row);
        paths.push((path, c.notify, c.at));
    }
    let inserted = repo::insert_cases(db, rows).await?;
    let mut events = Vec::new();
    let mut tally = Tally::default();
    for (case, (path, _, at)) in inserted.iter().zip(&paths) {
        if let (Some(community), Some(programme)) = (case.community_id, case.programme) {
            let acts: Vec<(Action, DateTime<Utc>)> =
                path.iter().map(|b| (b.rule.action, *at)).collect();
            tally.add_case(community, programme, case.status, *at, &acts);
        }
        events.extend(path.iter().map(|b| application_event::ActiveModel {
            application_id: Set(case.id),
            actor_id: Set(b.actor.id()),
            action: Set(b.rule.action),
            from_status: Set(Some(b.from)),
            to_status: Set(b.to),
            policy_version: Set(b.policy.clone()),
            created_at: Set(*at),
            ..Default::default()
        }));
    }
    let mut written = repo::insert_case_events(db, events).await?.into_iter();
    tally.append(db).await?;
    let mut created = Vec::with_capacity(inserted.len());
    let (mut messages, mut latest) = (Vec::new(), None);
    for (case, (path, notify, at)) in inserted.into_iter().zip(paths) {
        let events: Vec<application_event::Model> = written.by_ref().take(path.len()).collect();
        for ((b, facts), event) in path.iter().zip(notify).zip(&events) {
            messages.extend(compose(b.rule, &case, event.id, None, facts, at));
            latest = latest.max(Some(at));
        }
        created.push(Created { case, events });
    }
    if let Some(at) = latest {
        notifications::enqueue_many(db, messages, at).await?;
    }
    Ok(created)
}

/// The steps of a case born whole, each checked from the status the one before left.
fn born(actor: Actor, steps: Vec<(Action, Option<String>)>) -> Result<Vec<Born>, LifecycleError> {
    let mut status = Status::Draft;
    let mut path = Vec::with_capacity(steps.len());
    for (action, policy) in steps {
        // A step the service takes (the eligibility result) is the system's.
        let (rule, by) = match case_table::system_transition(status, action) {
            Ok(rule) => (rule, Actor::System),
            Err(_) => (
                actor
                    .rule(status, action)
                    .map_err(|_| LifecycleError::WrongStatus(status))?,
                actor,
            ),
        };
        let to = rule.target(status);
        path.push(Born {
            rule,
            actor: by,
            from: status,
            to,
            policy,
        });
        status = to;
    }
    Ok(path)
}
