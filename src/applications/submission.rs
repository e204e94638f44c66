//! Submission and resubmission: exactly once per idempotency key, every problem with the
//! form answered at once, then in the same transaction the number, the duplicate flags
//! and the eligibility decision. Both status changes (submit, then the eligibility
//! result) go through the case writer.

use chrono::{DateTime, NaiveDate, Utc};
use entity::{application, duplicate_flag, idempotency_record};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr};
use serde::{Deserialize, Serialize};

use super::domain::{self, Warning};
use super::filing::{Became, Filing, Filings, StoredCase};
use super::repository as repo;
use super::service::{
    ApplicationError, CaseDetail, Viewer, form_columns, in_group, lock_visible, resolve_community,
};
use crate::access::Principal;
use crate::clock::local_date;
use crate::eligibility::{
    self,
    engine::{Decision, Facts, Outcome},
};
use crate::i18n::{Lang, Msg};
use crate::lifecycle::case_table::{self, Refusal};
use crate::lifecycle::case_writer::{self, Change, Locked};
use crate::lifecycle::{Action, Status};
use crate::notifications::templates::Facts as MessageFacts;
use crate::places::{self, Place};
use crate::state::AppState;

/// What a submission answers, stored so a retry with the same key gets it again.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Receipt {
    pub application_id: i64,
    pub number: String,
    pub status: String,
    pub submitted_at: DateTime<Utc>,
    pub community_code: String,
    pub warnings: Vec<Warning>,
}

/// A submission's `Idempotency-Key` and the hash of the request it came with.
#[derive(Clone)]
pub struct IdempotencyKey {
    pub key: String,
    pub request_hash: String,
}

/// The result of a submission: fresh, or the stored answer to an earlier identical one.
pub enum Submitted {
    Fresh(Receipt),
    Replayed(Receipt),
}

/// Submits a draft, or resubmits a corrected case: exactly once per idempotency key.
pub async fn submit(
    state: &AppState,
    caller: &Principal,
    id: i64,
    version: Option<i32>,
    key: IdempotencyKey,
) -> Result<Submitted, ApplicationError> {
    let viewer = Viewer::of(state, caller).await?;
    match submit_once(state, &viewer, id, version, &key).await {
        Ok(out) => Ok(out),
        // Lost a race with an identical request (same key): answer with its receipt.
        Err(
            err @ (ApplicationError::Stale(_)
            | ApplicationError::WrongStatus(_)
            | ApplicationError::Db(_)),
        ) => match replay(&state.db, viewer.user_id, &key).await? {
            Some(out) => Ok(out),
            None => Err(err),
        },
        Err(err) => Err(err),
    }
}

async fn replay(
    db: &impl ConnectionTrait,
    user_id: i64,
    key: &IdempotencyKey,
) -> Result<Option<Submitted>, ApplicationError> {
    let Some(record) = repo::find_idempotency(db, user_id, &key.key).await? else {
        return Ok(None);
    };
    if record.request_hash != key.request_hash {
        return Err(ApplicationError::KeyReused);
    }
    let receipt: Receipt =
        serde_json::from_value(record.response).map_err(|e| DbErr::Json(e.to_string()))?;
    Ok(Some(Submitted::Replayed(receipt)))
}

/// Files a complete form in one request (one-shot submission): checked here, then
/// stored by the group writer with the filings queued beside it, born submitted and
/// decided, so a form that does not pass leaves no draft behind.
/// Exactly once per idempotency key; the case (fresh or replayed) and whether it was
/// replayed. A case stored with its group is answered from the rows written, unless the
/// filer is staff (their view of it is on record, as every staff view is); any other is
/// read back.
pub async fn create_and_submit(
    state: &AppState,
    caller: &Principal,
    form: super::form::Form,
    key: IdempotencyKey,
) -> Result<(CaseDetail, bool), ApplicationError> {
    let viewer = Viewer::of(state, caller).await?;
    let (id, replayed) = match file_once(state, &viewer, form, key).await? {
        Became::Stored(c) if !viewer.is_staff() => {
            let StoredCase {
                case,
                events,
                decision,
            } = *c;
            return Ok((
                super::service::fresh_detail(state, case, events, decision).await?,
                false,
            ));
        }
        Became::Stored(c) => (c.case.id, false),
        Became::Id(id, replayed) => (id, replayed),
    };
    Ok((super::service::get(state, caller, id).await?, replayed))
}

/// [`create_and_submit`] up to the commit: what the filing became.
async fn file_once(
    state: &AppState,
    viewer: &Viewer,
    form: super::form::Form,
    key: IdempotencyKey,
) -> Result<Became, ApplicationError> {
    let replayed = |out: Option<Submitted>| match out {
        Some(Submitted::Fresh(r) | Submitted::Replayed(r)) => Some(r.application_id),
        None => None,
    };
    let attempt = async {
        let row = super::service::draft_row(state, viewer, &form, false).await?;
        // A form that cannot pass is answered here, without taking the writer's time.
        let (household, warnings, community) =
            checked_form(state, viewer, form, state.clock.now()).await?;
        let filing = Filing {
            hashes: member_hashes(state, &household),
            prefix: number_prefix(state, &community).await?,
            viewer: viewer.clone(),
            key: key.clone(),
            row,
            household,
            warnings,
            community,
        };
        // Stored with the other filings queued beside it (see `filing`).
        state
            .cache::<crate::db::group::GroupCommit>()
            .run_batch(
                &state.db,
                state.settings.group_limits(),
                &std::sync::Arc::new(Filings(state.clone())),
                filing,
            )
            .await
    };
    match attempt.await {
        Ok(out) => Ok(out),
        // Lost a race with an identical request: its case is the answer.
        Err(err @ ApplicationError::Db(_)) => {
            match replayed(replay(&state.db, viewer.user_id, &key).await?) {
                Some(id) => Ok(Became::Id(id, true)),
                None => Err(err),
            }
        }
        Err(err) => Err(err),
    }
}

async fn submit_once(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    version: Option<i32>,
    key: &IdempotencyKey,
) -> Result<Submitted, ApplicationError> {
    let (st, viewer, key) = (state.clone(), viewer.clone(), key.clone());
    in_group(state, move |txn| {
        Box::pin(async move {
            if let Some(out) = replay(txn, viewer.user_id, &key).await? {
                return Ok(out);
            }
            let case = lock_visible(txn, &viewer, id).await?;
            let receipt = submit_in(&st, txn, &viewer, case, version, &key).await?;
            Ok(Submitted::Fresh(receipt))
        })
    })
    .await
}

/// Submits a locked case in the caller's transaction and records the idempotency key
/// with the receipt; the caller commits. The statements, in order: the member keys
/// and their matches, the policy in force, then the application number, and after it
/// only the writes that carry it (the case row once, its events, counter deltas,
/// messages and decision each with one statement, the idempotency record): the number
/// row, which every submission of the sub-district and year takes, is held for as few
/// statements as can be.
pub(super) async fn submit_in(
    state: &AppState,
    txn: &impl ConnectionTrait,
    viewer: &Viewer,
    case: Locked,
    version: Option<i32>,
    key: &IdempotencyKey,
) -> Result<Receipt, ApplicationError> {
    if !viewer.may_submit(case.case()) {
        return Err(ApplicationError::Forbidden);
    }
    let (id, from) = (case.case().id, case.case().status);
    let action = if from == Status::NeedsCorrection {
        Action::Resubmit
    } else {
        Action::Submit
    };
    // Refuse a case that cannot be submitted before listing what is wrong with its form.
    case_table::transition(from, action, viewer.role).map_err(|r| match r {
        Refusal::WrongStatus => ApplicationError::WrongStatus(from),
        Refusal::WrongRole => ApplicationError::Forbidden,
    })?;
    let now = state.clock.now();
    let (household, warnings, community) = checked(state, viewer, case.case(), now).await?;
    let submitted_at = case.case().submitted_at.unwrap_or(now);
    // A draft has never been submitted, so it has no member keys to replace.
    let facts = flag_duplicates(state, txn, id, &household, from != Status::Draft, now).await?;
    let day = local_date(submitted_at);
    let decision =
        eligibility::service::decide(txn, &household.eligibility_input(), day, &facts).await?;
    let number = match &case.case().number {
        Some(n) => n.clone(),
        None => assign_number(state, txn, &community, local_date(now)).await?,
    };
    let columns = submission_columns(
        &household,
        &warnings,
        &community,
        &number,
        submitted_at,
        now,
    )?;
    let mut changes = vec![
        Change::new(action, viewer.actor())
            .version(version)
            .columns(columns)
            .facts(MessageFacts {
                community: community.name.clone(),
                ..Default::default()
            }),
    ];
    match &decision {
        Some(d) => changes.push(eligibility_change(
            d,
            &warnings,
            Lang::from(household.language),
        )?),
        None => tracing::warn!(
            application_id = id,
            "no policy in force; the case waits in submitted"
        ),
    }
    let done = case_writer::apply_steps(txn, case, changes, now).await?;
    if let Some(d) = &decision {
        eligibility::service::record(txn, id, done.event_id, d, now).await?;
    }
    let receipt = Receipt {
        application_id: id,
        number,
        status: done.to.as_str().to_string(),
        submitted_at: now,
        community_code: community.code.clone(),
        warnings,
    };
    repo::insert_idempotency(
        txn,
        idempotency_record::Model {
            user_id: viewer.user_id,
            key: key.key.clone(),
            request_hash: key.request_hash.clone(),
            application_id: id,
            status_code: 201,
            response: json(&receipt)?,
            created_at: now,
        },
    )
    .await?;
    Ok(receipt)
}

/// The columns a submission sets: the checked form, the number and the warnings.
pub(super) fn submission_columns(
    household: &domain::Household,
    warnings: &[Warning],
    community: &Place,
    number: &str,
    submitted_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<application::ActiveModel, ApplicationError> {
    let mut columns = form_columns(&household.to_form(), Some(community), now)?;
    columns.number = Set(Some(number.to_string()));
    columns.warnings = Set(json(&warnings)?);
    columns.warnings_open = Set(warnings.len() as i32);
    columns.submitted_at = Set(Some(submitted_at));
    Ok(columns)
}

pub(super) fn json(v: &impl Serialize) -> Result<serde_json::Value, DbErr> {
    serde_json::to_value(v).map_err(|e| DbErr::Json(e.to_string()))
}

/// The checked household, its warnings and its community, or every problem at once.
async fn checked(
    state: &AppState,
    viewer: &Viewer,
    case: &application::Model,
    now: DateTime<Utc>,
) -> Result<(domain::Household, Vec<Warning>, Place), ApplicationError> {
    checked_form(state, viewer, repo::form_of(case)?, now).await
}

/// As [`checked`], for a form given rather than stored (a re-verification's declaration).
pub(super) async fn checked_form(
    state: &AppState,
    viewer: &Viewer,
    form: super::form::Form,
    now: DateTime<Utc>,
) -> Result<(domain::Household, Vec<Warning>, Place), ApplicationError> {
    let community = resolve_community(state, viewer, form.community_code.as_deref()).await?;
    match (domain::validate(&form, local_date(now)), community) {
        (Ok((household, warnings)), Ok(Some(place))) => Ok((household, warnings, place)),
        (result, community) => {
            let mut errors = result.err().unwrap_or_default();
            if let Err(e) = community {
                errors.push(e);
            }
            Err(ApplicationError::Invalid(errors))
        }
    }
}

/// The eligibility result as the change that follows the submission: the case writer
/// moves the case to eligible or ineligible (the event names the policy version and
/// the message explains each failed rule); the decision is stored against that event.
fn eligibility_change(
    decision: &Decision,
    warnings: &[Warning],
    lang: Lang,
) -> Result<Change, DbErr> {
    let action = if decision.eligible {
        Action::PassEligibility
    } else {
        Action::FailEligibility
    };
    Ok(
        Change::new(action, crate::lifecycle::case_writer::Actor::System)
            .columns(eligibility_columns(decision, warnings)?)
            .facts(MessageFacts {
                failed: failed_rules(decision, lang),
                ..Default::default()
            }),
    )
}

/// The columns the eligibility result sets: its policy version, and the warnings with
/// the soft rules that failed.
pub(super) fn eligibility_columns(
    decision: &Decision,
    warnings: &[Warning],
) -> Result<application::ActiveModel, DbErr> {
    let all = with_soft_rules(warnings, decision);
    Ok(application::ActiveModel {
        policy_version: Set(Some(decision.policy_version.clone())),
        warnings_open: Set(all.iter().filter(|w| w.resolution.is_none()).count() as i32),
        warnings: Set(json(&all)?),
        ..Default::default()
    })
}

/// Soft rules that failed join the warnings the reviewer must confirm or overrule.
fn with_soft_rules(warnings: &[Warning], decision: &Decision) -> Vec<Warning> {
    let mut all = warnings.to_vec();
    all.extend(
        decision
            .rules
            .iter()
            .filter(|r| r.outcome == Outcome::Fail && r.severity == "soft")
            .map(|r| Warning {
                field: format!("eligibility.{}", r.id),
                code: format!("soft_rule:{}", r.id),
                zh: r.zh.clone(),
                en: r.en.clone(),
                resolution: None,
            }),
    );
    all
}

pub fn failed_rules(decision: &Decision, lang: Lang) -> Vec<String> {
    decision
        .rules
        .iter()
        .filter(|r| r.outcome == Outcome::Fail && r.severity == "hard")
        .map(|r| Msg::new(r.zh.clone(), r.en.clone()).get(lang).to_string())
        .collect()
}

/// `410104003-2026-000123`: the community's sub-district code, the local year and a
/// gap-free sequence per sub-district and year.
async fn assign_number(
    state: &AppState,
    db: &impl ConnectionTrait,
    community: &Place,
    today: NaiveDate,
) -> Result<String, ApplicationError> {
    let prefix = number_prefix(state, community).await?;
    let year = chrono::Datelike::year(&today);
    let seq = crate::db::next_in_sequence(db, &format!("application:{prefix}:{year}")).await?;
    Ok(format!("{prefix}-{year}-{seq:06}"))
}

/// The code an application number of this community starts with: its sub-district's.
pub(super) async fn number_prefix(state: &AppState, community: &Place) -> Result<String, DbErr> {
    let parent = match community.parent_id {
        Some(pid) => places::service::by_ids_cached(state, &[pid])
            .await?
            .into_iter()
            .next(),
        None => None,
    };
    Ok(parent
        .map(|p| p.code)
        .unwrap_or_else(|| community.code.clone()))
}

/// The keyed hashes of the household's identity numbers, in member order.
pub(super) fn member_hashes(state: &AppState, household: &domain::Household) -> Vec<String> {
    household
        .members
        .iter()
        .map(|m| m.id_number.keyed_hash(&state.id_hash_key))
        .collect()
}

/// Statuses in which a case holds a housing benefit (one benefit per person).
const BENEFIT: [Status; 4] = [
    Status::Approved,
    Status::Waitlisted,
    Status::Offered,
    Status::Allocated,
];

/// Records the household's members by keyed hash and flags every active case of
/// either programme that shares a member, in both directions. Returns the facts the
/// eligibility engine needs about those other cases.
async fn flag_duplicates(
    state: &AppState,
    db: &impl ConnectionTrait,
    id: i64,
    household: &domain::Household,
    had_keys: bool,
    now: DateTime<Utc>,
) -> Result<Facts, ApplicationError> {
    let hashes = member_hashes(state, household);
    repo::replace_member_keys(db, id, &hashes, had_keys).await?;
    let matches = repo::keys_matching(db, &hashes, id).await?;
    if matches.is_empty() {
        return Ok(Facts::default());
    }
    let other_ids: Vec<i64> = matches.iter().map(|k| k.application_id).collect();
    let others = repo::by_ids(db, &other_ids).await?;
    let mut other_benefits: Vec<String> = others
        .iter()
        .filter(|o| BENEFIT.contains(&o.status))
        .map(|o| o.number.clone().unwrap_or_else(|| o.id.to_string()))
        .collect();
    other_benefits.sort();
    other_benefits.dedup();
    let existing = repo::flags_of(db, id).await?;
    for k in matches {
        let active = others
            .iter()
            .find(|o| o.id == k.application_id)
            .is_some_and(|o| case_table::is_active(o.status));
        let Some(mine) = hashes.iter().position(|h| h == &k.id_hash) else {
            continue;
        };
        let already = existing
            .iter()
            .any(|f| f.other_application_id == k.application_id && f.member_index == mine as i32);
        if !active || already {
            continue;
        }
        for (a, ai, b, bi) in [
            (id, mine as i32, k.application_id, k.member_index),
            (k.application_id, k.member_index, id, mine as i32),
        ] {
            repo::insert_flag(
                db,
                duplicate_flag::ActiveModel {
                    application_id: Set(a),
                    member_index: Set(ai),
                    other_application_id: Set(b),
                    other_member_index: Set(bi),
                    created_at: Set(now),
                    ..Default::default()
                },
            )
            .await?;
        }
    }
    let open: Vec<i64> = repo::flags_of(db, id)
        .await?
        .iter()
        .filter(|f| f.resolution.is_none())
        .map(|f| f.other_application_id)
        .collect();
    if !open.is_empty() {
        // Both cases now carry an open flag (a derived index helper, changed without an
        // event on the other case; the flag itself is the record).
        repo::set_duplicate_open(db, &[open, vec![id]].concat(), true).await?;
    }
    Ok(Facts { other_benefits })
}
