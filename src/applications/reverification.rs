//! The annual re-verification (年审) of households on the waiting list or housed. The
//! ticker reminds a household `reverification_reminder_days` before its day and once more
//! after it; the household declares its household, income and housing (the same form and
//! checks as an application), and the eligibility engine re-checks it under the policy in
//! force: it continues (next due a year after this one) or exits, with the engine's
//! explanation and the right to ask for 复核. No declaration by the end of
//! `reverification_grace_days` is an exit (`no_declaration`). Every step is a row of the
//! lifecycle table.

use chrono::{DateTime, Months, NaiveDate, Utc};
use entity::application;
use sea_orm::{ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use super::form::{Form, Programme};
use super::service::{ApplicationError, CaseDetail, Viewer, detail_of, form_columns, lock_visible};
use super::submission::{checked_form, failed_rules};
use crate::access::{Principal, Role};
use crate::clock::local_date;
use crate::eligibility::{self, engine::Facts};
use crate::i18n::Lang;
use crate::lifecycle::Action;
use crate::lifecycle::case_table::HOUSED;
use crate::lifecycle::case_writer::{self, Actor, Change};
use crate::notifications::templates::Facts as MessageFacts;
use crate::state::AppState;

/// What a declaration came to.
pub struct Reverified {
    pub detail: CaseDetail,
    /// Still qualifies.
    pub continued: bool,
    /// When continued: the next re-verification's day.
    pub next_due_on: Option<NaiveDate>,
    /// When the household continues in another programme than it declared
    /// (廉租房 → 公租房): that programme.
    pub adjusted_to: Option<Programme>,
}

/// The household declares its circumstances; the engine re-checks them.
pub async fn declare(
    state: &AppState,
    caller: &Principal,
    id: i64,
    version: i32,
    form: Form,
) -> Result<Reverified, ApplicationError> {
    let viewer = Viewer::of(state, caller).await?;
    if viewer.role != Role::Applicant {
        return Err(ApplicationError::Forbidden);
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let case = lock_visible(&txn, &viewer, id).await?;
    let from = case.case().status;
    if !HOUSED.contains(&from) {
        return Err(ApplicationError::WrongStatus(from));
    }
    if case.case().version != version {
        return Err(ApplicationError::Stale(case.case().version));
    }
    let now = state.clock.now();
    let today = local_date(now);
    let (household, _warnings, community) = checked_form(state, &viewer, form, now).await?;
    let input = household.eligibility_input();
    let Some(decision) =
        eligibility::service::decide(&txn, &input, today, &Facts::default()).await?
    else {
        return Err(DbErr::Custom("no policy is in force to re-check against".into()).into());
    };
    let lang = Lang::from(household.language);
    // What the household failed in its own programme, kept for the explanation when it
    // moves to public rental.
    let failed = failed_rules(&decision, lang);
    let (decision, adjusted_to) = match adjusted(&txn, &input, &decision, today).await? {
        Some(other) => (other, Some(Programme::PublicRental)),
        None => (decision, None),
    };
    let mut form = household.to_form();
    if adjusted_to.is_some() {
        form.programme = adjusted_to;
    }
    let mut columns = form_columns(&form, Some(&community), now)?;
    columns.policy_version = Set(Some(decision.policy_version.clone()));
    columns.reverify_reminded_on = Set(None);
    let (action, next) = if decision.eligible {
        let base = case.case().reverify_due_on.unwrap_or(today).max(today);
        let next = base.checked_add_months(Months::new(12));
        match adjusted_to {
            Some(_) => (Action::AdjustReverification, next),
            None => (Action::Reverify, next),
        }
    } else {
        (Action::ExitReverification, None)
    };
    columns.reverify_due_on = Set(next);
    // Waiting households join the end of the public-rental list; a housed one keeps
    // its unit (and pays public-rental rent, which is not kept here).
    if adjusted_to.is_some() && from == crate::lifecycle::Status::Waitlisted {
        let number = crate::db::next_in_sequence(&txn, "waitlist:public_rental").await?;
        columns.waitlist_number = Set(Some(number));
    }
    let change = Change::new(action, viewer.actor())
        .version(Some(version))
        .columns(columns)
        .facts(MessageFacts {
            failed: if adjusted_to.is_some() {
                failed
            } else {
                failed_rules(&decision, lang)
            },
            until: next.map(|d| d.to_string()).unwrap_or_default(),
            ..Default::default()
        });
    let done = case_writer::apply(&txn, case, change, now).await?;
    eligibility::service::record(&txn, id, done.event_id, &decision, now).await?;
    txn.commit().await?;
    Ok(Reverified {
        detail: detail_of(state, &viewer, done.case.into_case()).await?,
        continued: decision.eligible,
        next_due_on: next,
        adjusted_to,
    })
}

/// A low-rent household that no longer qualifies is re-checked for public rental
/// housing under the policy in force there (廉租房与公租房并轨): the decision that lets it
/// continue there, if it does.
async fn adjusted(
    db: &impl sea_orm::ConnectionTrait,
    input: &eligibility::input::Household,
    decision: &eligibility::engine::Decision,
    today: NaiveDate,
) -> Result<Option<eligibility::engine::Decision>, DbErr> {
    if decision.eligible || input.programme != Programme::LowRent {
        return Ok(None);
    }
    let mut other = input.clone();
    other.programme = Programme::PublicRental;
    Ok(
        eligibility::service::decide(db, &other, today, &Facts::default())
            .await?
            .filter(|d| d.eligible),
    )
}

/// What one run of the ticker did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tick {
    pub reminded: u64,
    pub exited: u64,
}

/// Reminds households whose re-verification is near or past, and exits those past the
/// grace period. Each case in its own transaction; safe to run on several instances at
/// once (the case is locked and its reminder day re-read under the lock).
pub async fn tick(state: &AppState) -> Result<Tick, DbErr> {
    use application::Column as C;
    use sea_orm::ExprTrait;
    use sea_orm::sea_query::{Condition, Expr};
    let now = state.clock.now();
    let today = local_date(now);
    // Only the cases with something to do, whichever programme's policy is strictest:
    // within the longest reminder period and not yet reminded; past the day and not
    // reminded since; or past the shortest grace period.
    let (remind, grace) = widest_days(state, today).await?;
    let ids: Vec<i64> = application::Entity::find()
        .select_only()
        .column(C::Id)
        .filter(C::Status.is_in(HOUSED.iter().copied()))
        .filter(C::ReverifyDueOn.lte(today + chrono::Duration::days(remind)))
        .filter(
            Condition::any()
                .add(C::ReverifyRemindedOn.is_null())
                .add(
                    Condition::all()
                        .add(C::ReverifyDueOn.lt(today))
                        .add(Expr::col(C::ReverifyRemindedOn).lte(Expr::col(C::ReverifyDueOn))),
                )
                .add(C::ReverifyDueOn.lt(today - chrono::Duration::days(grace))),
        )
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut done = Tick::default();
    for id in ids {
        match step(state, id, today, now).await? {
            Some(Action::RemindReverification) => done.reminded += 1,
            Some(Action::ExitNoDeclaration) => done.exited += 1,
            _ => {}
        }
    }
    Ok(done)
}

/// The longest reminder period and the shortest grace period of the policies in force.
async fn widest_days(state: &AppState, today: NaiveDate) -> Result<(i64, i64), DbErr> {
    let (mut remind, mut grace) = (30, 30);
    for p in entity::enums::Programme::ALL {
        if let Some(policy) = eligibility::service::policy_in_force_cached(state, *p, today).await?
        {
            remind = remind.max(i64::from(policy.deadlines.reverification_reminder_days));
            grace = grace.min(i64::from(policy.deadlines.reverification_grace_days));
        }
    }
    Ok((remind, grace))
}

/// The reminder days and grace days of the policy in force for the case's programme.
async fn days(
    state: &AppState,
    m: &application::Model,
    today: NaiveDate,
) -> Result<(i64, i64), DbErr> {
    let Some(programme) = m.programme else {
        return Ok((30, 30));
    };
    Ok(
        eligibility::service::policy_in_force_cached(state, programme, today)
            .await?
            .map_or((30, 30), |p| {
                (
                    i64::from(p.deadlines.reverification_reminder_days),
                    i64::from(p.deadlines.reverification_grace_days),
                )
            }),
    )
}

async fn step(
    state: &AppState,
    id: i64,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Option<Action>, DbErr> {
    let txn = crate::db::begin_write(&state.db).await?;
    let Some(case) = case_writer::lock(&txn, id).await? else {
        return Ok(None);
    };
    let m = case.case().clone();
    let Some(due) = m.reverify_due_on.filter(|_| HOUSED.contains(&m.status)) else {
        return Ok(None);
    };
    let (remind, grace) = days(state, &m, today).await?;
    let reminded = m.reverify_reminded_on;
    // Once before the day, once after it, then out at the end of the grace period.
    let after_due = today > due && reminded.is_none_or(|r| r <= due);
    let before_due = today >= due - chrono::Duration::days(remind) && reminded.is_none();
    let action = if today > due + chrono::Duration::days(grace) {
        Action::ExitNoDeclaration
    } else if after_due || before_due {
        Action::RemindReverification
    } else {
        return Ok(None);
    };
    let change = if action == Action::ExitNoDeclaration {
        Change::new(action, Actor::System)
            .reason(Some("no_declaration".into()))
            .columns(application::ActiveModel {
                reverify_due_on: Set(None),
                ..Default::default()
            })
            .facts(MessageFacts {
                decision: "exited",
                ..Default::default()
            })
    } else {
        let until = if today > due {
            due + chrono::Duration::days(grace)
        } else {
            due
        };
        Change::new(action, Actor::System)
            .columns(application::ActiveModel {
                reverify_reminded_on: Set(Some(today)),
                ..Default::default()
            })
            .facts(MessageFacts {
                until: until.to_string(),
                ..Default::default()
            })
    };
    match case_writer::apply(&txn, case, change, now).await {
        Ok(_) => {
            txn.commit().await?;
            Ok(Some(action))
        }
        Err(e) => {
            tracing::warn!(application_id = id, error = %e, "re-verification step refused");
            Ok(None)
        }
    }
}
