//! Eligibility use cases: load the shipped policies, publish and read versions, decide
//! a household under the version in force, record decisions.

use chrono::{DateTime, NaiveDate, Utc};
use entity::{eligibility_decision, policy};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, SqlErr};

use super::engine::{self, Decision, Facts};
use super::input::Household;
use super::policy::{DEFAULT_POLICIES, PolicyDocument, from_toml};
use super::repository as repo;
use crate::access::{Principal, Role};
use crate::error::FieldError;
use crate::i18n::Msg;
use crate::state::AppState;
use entity::enums::Programme;

#[derive(Debug, thiserror::Error)]
pub enum EligibilityError {
    #[error("invalid policy")]
    Invalid(Vec<FieldError>),
    #[error("a policy with this version exists")]
    VersionTaken,
    #[error("no such policy")]
    NotFound,
    #[error("the caller's role may not do this")]
    Forbidden,
    #[error(transparent)]
    Db(#[from] DbErr),
}

fn document_of(row: &policy::Model) -> Result<PolicyDocument, DbErr> {
    serde_json::from_value(row.document.clone())
        .map_err(|e| DbErr::Custom(format!("policy {} is unreadable: {e}", row.version)))
}

fn row_for(
    doc: &PolicyDocument,
    now: DateTime<Utc>,
    by: Option<i64>,
) -> Result<policy::ActiveModel, DbErr> {
    Ok(policy::ActiveModel {
        programme: Set(doc.programme),
        version: Set(doc.version.clone()),
        title: Set(doc.title.clone()),
        effective_from: Set(doc.effective_from),
        document: Set(serde_json::to_value(doc).map_err(|e| DbErr::Custom(e.to_string()))?),
        published_at: Set(now),
        published_by: Set(by),
        ..Default::default()
    })
}

/// Loads the shipped Zhengzhou policies for each programme that has none yet.
pub async fn ensure_default_policies(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    for (name, text) in DEFAULT_POLICIES {
        let doc = from_toml(text).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let problems = doc.check();
        if !problems.is_empty() {
            anyhow::bail!("{name} is invalid: {problems:?}");
        }
        if repo::count_for(db, doc.programme.as_str()).await? == 0 {
            match repo::insert(db, row_for(&doc, now, None)?).await {
                Ok(_) => {
                    tracing::info!(version = %doc.version, "loaded the default policy from {name}")
                }
                // Another instance starting at the same moment loaded it first.
                Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// A published version and who may see it (everyone: policies are public).
pub struct Published {
    pub row: policy::Model,
    pub document: PolicyDocument,
}

pub async fn list(state: &AppState) -> Result<Vec<Published>, EligibilityError> {
    repo::all(&state.db)
        .await?
        .into_iter()
        .map(|row| {
            Ok(Published {
                document: document_of(&row)?,
                row,
            })
        })
        .collect()
}

pub async fn get(state: &AppState, version: &str) -> Result<Published, EligibilityError> {
    let row = repo::by_version(&state.db, version)
        .await?
        .ok_or(EligibilityError::NotFound)?;
    Ok(Published {
        document: document_of(&row)?,
        row,
    })
}

/// Publishes a new version (admin). It must be valid, new, and take effect today or
/// later: a version never changes what was decided before it.
pub async fn publish(
    state: &AppState,
    caller: &Principal,
    doc: PolicyDocument,
) -> Result<Published, EligibilityError> {
    if !caller.is(&[Role::Admin]) {
        return Err(EligibilityError::Forbidden);
    }
    let mut problems = doc.check();
    let today = crate::clock::local_date(state.clock.now());
    if doc.effective_from < today {
        problems.push(FieldError::new(
            "effective_from",
            "in_the_past",
            Msg::new("生效日期不能早于今天", "must be today or later"),
        ));
    }
    if !problems.is_empty() {
        return Err(EligibilityError::Invalid(problems));
    }
    let row = repo::insert(
        &state.db,
        row_for(&doc, state.clock.now(), Some(caller.user_id))?,
    )
    .await
    .map_err(|e| match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => EligibilityError::VersionTaken,
        _ => EligibilityError::Db(e),
    })?;
    state.cache::<PolicyCache>().invalidate();
    Ok(Published { row, document: doc })
}

/// Checks that a draft policy is valid (for simulation); bureau and admin only.
pub fn check_draft(caller: &Principal, doc: &PolicyDocument) -> Result<(), EligibilityError> {
    if !caller.is(&[Role::Bureau, Role::Admin]) {
        return Err(EligibilityError::Forbidden);
    }
    let problems = doc.check();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(EligibilityError::Invalid(problems))
    }
}

/// The version in force for `programme` on `day`.
pub async fn policy_in_force(
    db: &impl ConnectionTrait,
    programme: Programme,
    day: NaiveDate,
) -> Result<Option<PolicyDocument>, DbErr> {
    repo::in_force(db, programme.as_str(), day)
        .await?
        .map(|row| document_of(&row))
        .transpose()
}

/// The versions in force, kept in memory for the read paths that only show deadlines
/// (queues, overdue counts): a version is never edited, publishing here drops the copy,
/// and a copy is dropped after a minute so another process's publication shows within
/// one. Decisions on submission always read the database.
#[derive(Clone, Default)]
pub struct PolicyCache(PolicyMap);

type PolicyMap = std::sync::Arc<
    std::sync::RwLock<
        std::collections::HashMap<
            (Programme, NaiveDate),
            (std::time::Instant, Option<std::sync::Arc<PolicyDocument>>),
        >,
    >,
>;

impl PolicyCache {
    pub fn invalidate(&self) {
        self.0.write().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// [`policy_in_force`], from the cache.
pub async fn policy_in_force_cached(
    state: &AppState,
    programme: Programme,
    day: NaiveDate,
) -> Result<Option<std::sync::Arc<PolicyDocument>>, DbErr> {
    const TTL: std::time::Duration = std::time::Duration::from_secs(60);
    let cache = state.cache::<PolicyCache>();
    if let Some((at, doc)) = cache
        .0
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(&(programme, day))
        && at.elapsed() < TTL
    {
        return Ok(doc.clone());
    }
    let doc = policy_in_force(&state.db, programme, day)
        .await?
        .map(std::sync::Arc::new);
    cache
        .0
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .insert((programme, day), (std::time::Instant::now(), doc.clone()));
    Ok(doc)
}

/// Decides a household under the version in force on `day`; `None` when no version is.
pub async fn decide(
    db: &impl ConnectionTrait,
    household: &Household,
    day: NaiveDate,
    facts: &Facts,
) -> Result<Option<Decision>, DbErr> {
    Ok(policy_in_force(db, household.programme, day)
        .await?
        .map(|policy| engine::decide(household, &policy, day, facts)))
}

fn decision_row(
    application_id: i64,
    event_id: i64,
    decision: &Decision,
    at: DateTime<Utc>,
) -> Result<eligibility_decision::ActiveModel, DbErr> {
    Ok(eligibility_decision::ActiveModel {
        application_id: Set(application_id),
        event_id: Set(event_id),
        policy_version: Set(decision.policy_version.clone()),
        eligible: Set(decision.eligible),
        flagged: Set(decision.flagged),
        decision: Set(serde_json::to_value(decision).map_err(|e| DbErr::Json(e.to_string()))?),
        evaluated_at: Set(at),
        ..Default::default()
    })
}

/// Stores a decision against the event that recorded it.
pub async fn record(
    db: &impl ConnectionTrait,
    application_id: i64,
    event_id: i64,
    decision: &Decision,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    repo::insert_decisions(
        db,
        vec![decision_row(application_id, event_id, decision, now)?],
    )
    .await
}

/// Stores many decisions in few statements (bulk intake): (case, event, decision, time).
pub async fn record_many(
    db: &impl ConnectionTrait,
    decisions: &[(i64, i64, &Decision, DateTime<Utc>)],
) -> Result<(), DbErr> {
    let rows = decisions
        .iter()
        .map(|(a, e, d, at)| decision_row(*a, *e, d, *at))
        .collect::<Result<Vec<_>, _>>()?;
    repo::insert_decisions(db, rows).await
}

/// The latest decision of a case (the caller has already checked they may see it).
pub async fn latest(
    db: &impl ConnectionTrait,
    application_id: i64,
) -> Result<Option<Decision>, DbErr> {
    repo::latest_decision(db, application_id)
        .await?
        .map(|row| serde_json::from_value(row.decision).map_err(|e| DbErr::Custom(e.to_string())))
        .transpose()
}

/// Whether each of these cases' latest decision was eligible.
pub async fn latest_outcomes(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<Vec<(i64, bool)>, DbErr> {
    Ok(repo::latest_decisions(db, ids)
        .await?
        .into_iter()
        .map(|r| (r.application_id, r.eligible))
        .collect())
}

/// The versions in force today for each programme, for the start page and the quick
/// check (from the cache: these pages only read).
pub async fn in_force_today(
    state: &AppState,
) -> Result<Vec<std::sync::Arc<PolicyDocument>>, DbErr> {
    let today = crate::clock::local_date(state.clock.now());
    let mut out = Vec::new();
    for &p in Programme::ALL {
        if let Some(doc) = policy_in_force_cached(state, p, today).await? {
            out.push(doc);
        }
    }
    Ok(out)
}
