//! One-shot filings stored together: the complete forms the group writer gathers (see
//! `db::group`) are written the way bulk intake writes households, one multi-row insert
//! a table for the whole group, instead of a draft and a submission each.
//!
//! For a group of filings, in the writer's transaction:
//! 1. one look-up of the idempotency keys (a key already used answers from its record;
//!    a key used twice in the group files once, the second answered after the commit
//!    from the first's record) and one of the member keys;
//! 2. a filing that shares a member with an existing case, or with an earlier filing of
//!    the group, is filed alone after the others (the full submission: its duplicate
//!    flags, in both directions, need the other case written);
//! 3. the rest: the policy in force once per programme, the engine on each, one number
//!    reservation per sub-district and year, then one insert each for the cases (born
//!    submitted and decided), their events, counter deltas and messages, the member keys,
//!    the decisions and the idempotency records.
//!
//! Each case is exactly what a draft submitted at once would be: the same columns,
//! events, actors, messages and counters (the tests file both ways and compare).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::{application, idempotency_record};
use sea_orm::{
    ActiveModelTrait, ActiveValue, DatabaseTransaction, DbErr, Iterable, TransactionTrait,
};

use super::domain::{self, Warning};
use super::repository as repo;
use super::service::{ApplicationError, Viewer};
use super::submission::{
    IdempotencyKey, Receipt, eligibility_columns, failed_rules, json, submission_columns, submit_in,
};
use crate::clock::local_date;
use crate::db::group::{Batch, BoxFuture};
use crate::eligibility::engine::{self, Decision, Facts};
use crate::i18n::Lang;
use crate::lifecycle::Action;
use crate::lifecycle::case_writer::{self, Locked, NewCase};
use crate::lifecycle::history::CaseEvent;
use crate::notifications::templates::Facts as MessageFacts;
use crate::places::Place;
use crate::state::AppState;

/// A complete form that passed its checks, waiting for the writer.
#[derive(Clone)]
pub(super) struct Filing {
    pub viewer: Viewer,
    pub key: IdempotencyKey,
    /// The row its draft would have been.
    pub row: application::ActiveModel,
    pub household: domain::Household,
    pub warnings: Vec<Warning>,
    pub community: Place,
    /// The members' keyed identity hashes, in member order.
    pub hashes: Vec<String>,
    /// The code its number starts with (the sub-district's).
    pub prefix: String,
}

/// The filings' batch: answers each with what it became.
pub(super) struct Filings(pub AppState);

/// What a filing became.
pub(super) enum Became {
    /// Stored with the group: the case as written, so its answer needs no read.
    Stored(Box<StoredCase>),
    /// Filed alone, or a replay (`true`): the case's id; its answer is read back.
    Id(i64, bool),
}

/// A case stored with its group, as the inserts returned it.
pub(super) struct StoredCase {
    pub case: application::Model,
    pub events: Vec<CaseEvent>,
    pub decision: Option<Decision>,
}

type Filed = Result<Became, ApplicationError>;

impl Batch for Filings {
    type Item = Filing;
    type Out = Became;
    type Err = ApplicationError;

    fn store<'t>(
        &'t self,
        txn: &'t DatabaseTransaction,
        items: Vec<Filing>,
    ) -> BoxFuture<'t, crate::db::group::Stored<Self>> {
        Box::pin(file_many(&self.0, txn, items))
    }
}

async fn file_many(
    state: &AppState,
    txn: &DatabaseTransaction,
    items: Vec<Filing>,
) -> Result<Vec<Filed>, DbErr> {
    let now = state.clock.now();
    let mut out: Vec<Option<Filed>> = (0..items.len()).map(|_| None).collect();
    let (together, alone) = sort_out(txn, &items, &mut out).await?;
    for (i, stored) in store_together(txn, &items, &together, now).await? {
        out[i] = Some(Ok(Became::Stored(Box::new(stored))));
    }
    for i in alone {
        out[i] = Some(file_alone(state, txn, &items[i]).await?);
    }
    Ok(out
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Err(DbErr::Custom("a filing was not answered".into()).into())))
        .collect())
}

/// Answers the replays, and splits the rest into those stored together and those filed
/// alone after them (a member shared with another case or an earlier filing, a key used
/// earlier in the group), each in arrival order.
async fn sort_out(
    txn: &DatabaseTransaction,
    items: &[Filing],
    out: &mut [Option<Filed>],
) -> Result<(Vec<usize>, Vec<usize>), DbErr> {
    let keys: Vec<(i64, String)> = items
        .iter()
        .map(|f| (f.viewer.user_id, f.key.key.clone()))
        .collect();
    let stored = repo::find_idempotency_many(txn, &keys).await?;
    let hashes: Vec<String> = items.iter().flat_map(|f| f.hashes.clone()).collect();
    // No case has id 0: every match is another case.
    let matched: HashSet<String> = repo::keys_matching(txn, &hashes, 0)
        .await?
        .into_iter()
        .map(|k| k.id_hash)
        .collect();
    let (mut together, mut alone) = (Vec::new(), Vec::new());
    let (mut seen_keys, mut seen_members) = (HashSet::new(), HashSet::new());
    for (i, f) in items.iter().enumerate() {
        let user = f.viewer.user_id;
        if let Some(r) = stored
            .iter()
            .find(|r| r.user_id == user && r.key == f.key.key)
        {
            out[i] = Some(if r.request_hash == f.key.request_hash {
                Ok(Became::Id(r.application_id, true))
            } else {
                Err(ApplicationError::KeyReused)
            });
            continue;
        }
        let repeated = !seen_keys.insert((user, f.key.key.as_str()));
        let shares = f
            .hashes
            .iter()
            .any(|h| matched.contains(h) || seen_members.contains(h.as_str()));
        seen_members.extend(f.hashes.iter().map(String::as_str));
        if repeated || shares {
            alone.push(i);
        } else {
            together.push(i);
        }
    }
    Ok((together, alone))
}

/// Files one filing with the full submission in a savepoint of its own (its failure
/// takes back only its writes); a key already recorded fails on the key's unique index
/// and is answered from the record once the group has committed.
async fn file_alone(
    state: &AppState,
    txn: &DatabaseTransaction,
    f: &Filing,
) -> Result<Filed, DbErr> {
    let savepoint = txn.begin().await?;
    let filed = async {
        let case = Locked::inserted(repo::insert(&savepoint, f.row.clone()).await?);
        let id = case.case().id;
        submit_in(state, &savepoint, &f.viewer, case, None, &f.key).await?;
        Ok(Became::Id(id, false))
    }
    .await;
    match filed {
        Ok(done) => savepoint.commit().await.map(|_| Ok(done)),
        Err(e) => savepoint.rollback().await.map(|_| Err(e)),
    }
}

/// A filing ready to be written: its row, steps, messages' facts, decision and receipt.
struct Ready {
    case: NewCase,
    decision: Option<Decision>,
    receipt: Receipt,
}

/// Stores the filings at `picked` together; returns each one's index and case.
async fn store_together(
    txn: &DatabaseTransaction,
    items: &[Filing],
    picked: &[usize],
    now: DateTime<Utc>,
) -> Result<Vec<(usize, StoredCase)>, DbErr> {
    if picked.is_empty() {
        return Ok(Vec::new());
    }
    let day = local_date(now);
    let mut policies = HashMap::new();
    let mut wanted: HashMap<&str, i64> = HashMap::new();
    for &i in picked {
        let programme = items[i].household.programme;
        if let std::collections::hash_map::Entry::Vacant(e) = policies.entry(programme) {
            e.insert(crate::eligibility::service::policy_in_force(txn, programme, day).await?);
        }
        *wanted.entry(items[i].prefix.as_str()).or_default() += 1;
    }
    let year = chrono::Datelike::year(&day);
    let mut next = HashMap::new();
    for (prefix, n) in wanted {
        let scope = format!("application:{prefix}:{year}");
        let last = crate::db::reserve_in_sequence(txn, &scope, n).await?;
        next.insert(prefix, last - n + 1);
    }
    let mut ready = Vec::with_capacity(picked.len());
    for &i in picked {
        let f = &items[i];
        let seq = next.get_mut(f.prefix.as_str()).map_or(0, |n| {
            *n += 1;
            *n - 1
        });
        let number = format!("{}-{year}-{seq:06}", f.prefix);
        let policy = policies
            .get(&f.household.programme)
            .and_then(Option::as_ref);
        ready.push(prepare(f, policy, number, now).map_err(|e| DbErr::Custom(e.to_string()))?);
    }
    write(txn, items, picked, ready, now).await
}

/// The case a filing becomes: born submitted and, with a policy in force, decided.
fn prepare(
    f: &Filing,
    policy: Option<&crate::eligibility::policy::PolicyDocument>,
    number: String,
    now: DateTime<Utc>,
) -> Result<Ready, ApplicationError> {
    let day = local_date(now);
    let decision =
        policy.map(|p| engine::decide(&f.household.eligibility_input(), p, day, &Facts::default()));
    let mut row = f.row.clone();
    overlay(
        &mut row,
        submission_columns(&f.household, &f.warnings, &f.community, &number, now, now)?,
    );
    let mut steps = vec![(Action::Submit, None)];
    let mut notify = vec![MessageFacts {
        community: f.community.name.clone(),
        ..Default::default()
    }];
    match &decision {
        Some(d) => {
            overlay(&mut row, eligibility_columns(d, &f.warnings)?);
            let action = if d.eligible {
                Action::PassEligibility
            } else {
                Action::FailEligibility
            };
            steps.push((action, Some(d.policy_version.clone())));
            notify.push(MessageFacts {
                failed: failed_rules(d, Lang::from(f.household.language)),
                ..Default::default()
            });
        }
        None => tracing::warn!("no policy in force; a filed case waits in submitted"),
    }
    // The id and the status are the stored case's (see `write`).
    let receipt = Receipt {
        application_id: 0,
        number,
        status: String::new(),
        submitted_at: now,
        community_code: f.community.code.clone(),
        warnings: f.warnings.clone(),
    };
    let case = NewCase {
        row,
        actor: f.viewer.actor(),
        steps,
        notify,
        at: now,
    };
    Ok(Ready {
        case,
        decision,
        receipt,
    })
}

/// Sets on `row` every column `columns` sets.
fn overlay(row: &mut application::ActiveModel, columns: application::ActiveModel) {
    for c in application::Column::iter() {
        if let ActiveValue::Set(v) = columns.get(c) {
            row.set(c, v);
        }
    }
}

/// One insert each for the cases (with their events, deltas and messages, through the
/// case writer), member keys, decisions and idempotency records.
async fn write(
    txn: &DatabaseTransaction,
    items: &[Filing],
    picked: &[usize],
    ready: Vec<Ready>,
    now: DateTime<Utc>,
) -> Result<Vec<(usize, StoredCase)>, DbErr> {
    let (cases, rest): (Vec<NewCase>, Vec<(Option<Decision>, Receipt)>) = ready
        .into_iter()
        .map(|r| (r.case, (r.decision, r.receipt)))
        .unzip();
    let created = case_writer::create_many(txn, cases)
        .await
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    let mut keys = Vec::new();
    let mut decisions = Vec::new();
    let mut records = Vec::with_capacity(created.len());
    for ((c, (decision, receipt)), &i) in created.iter().zip(&rest).zip(picked) {
        let f = &items[i];
        let mut receipt = receipt.clone();
        keys.extend(repo::key_rows(c.case.id, &f.hashes));
        if let (Some(d), Some(event)) = (decision, c.events.last()) {
            decisions.push((c.case.id, event.id, d, now));
        }
        receipt.application_id = c.case.id;
        receipt.status = c.case.status.as_str().to_string();
        records.push(idempotency_record::Model {
            user_id: f.viewer.user_id,
            key: f.key.key.clone(),
            request_hash: f.key.request_hash.clone(),
            application_id: c.case.id,
            status_code: 201,
            response: json(&receipt)?,
            created_at: now,
        });
    }
    repo::insert_keys(txn, keys).await?;
    crate::eligibility::service::record_many(txn, &decisions).await?;
    repo::insert_idempotency_many(txn, records).await?;
    Ok(picked
        .iter()
        .zip(created.into_iter().zip(rest))
        .map(|(&i, (c, (decision, _)))| {
            let stored = StoredCase {
                case: c.case,
                events: c.events,
                decision,
            };
            (i, stored)
        })
        .collect())
}
