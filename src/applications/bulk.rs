//! Bulk intake for large synthetic populations (`anju demo --households N`): the same
//! checks (`domain::validate`), the same eligibility engine and the same case writer as a
//! submission, written a thousand cases per transaction through the writer's bulk path
//! (`case_writer::create_many`). What it leaves out, on purpose: duplicate look-ups
//! against other cases (the generator makes every identity number unique), idempotency
//! records and messages (nobody is e-mailed about synthetic households).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, DbErr};

use super::domain;
use super::form::Form;
use super::repository as repo;
use super::service::form_columns;
use crate::clock::local_date;
use crate::eligibility::engine::{self, Facts};
use crate::lifecycle::Action;
use crate::lifecycle::case_writer::{self, Actor, NewCase};
use crate::places::Place;
use crate::state::AppState;

/// One household to take in.
pub struct Incoming {
    pub form: Form,
    pub community: Place,
    pub subdistrict_code: String,
    pub submitted_at: DateTime<Utc>,
}

/// What bulk intake did.
#[derive(Default, Debug)]
pub struct Imported {
    pub eligible: u64,
    pub ineligible: u64,
    /// Forms that failed the checks (not imported).
    pub invalid: u64,
}

/// Takes in a chunk of households in one write transaction.
pub async fn import(state: &AppState, chunk: Vec<Incoming>) -> Result<Imported, DbErr> {
    let mut out = Imported::default();
    let txn = crate::db::begin_write(&state.db).await?;
    let mut checked = Vec::with_capacity(chunk.len());
    for inc in chunk {
        let day = local_date(inc.submitted_at);
        match domain::validate(&inc.form, day) {
            Ok((household, warnings)) => checked.push((inc, household, warnings)),
            Err(_) => out.invalid += 1,
        }
    }
    let mut numbers = numbering(&txn, &checked).await?;
    let mut policies = HashMap::new();
    let mut cases = Vec::with_capacity(checked.len());
    let mut decided = Vec::with_capacity(checked.len());
    for (inc, household, warnings) in &checked {
        let day = local_date(inc.submitted_at);
        if let std::collections::hash_map::Entry::Vacant(e) = policies.entry(household.programme) {
            let p = crate::eligibility::service::policy_in_force(&txn, household.programme, day)
                .await?;
            e.insert(p);
        }
        let Some(Some(policy)) = policies.get(&household.programme) else {
            out.invalid += 1;
            continue;
        };
        let decision = engine::decide(
            &household.eligibility_input(),
            policy,
            day,
            &Facts::default(),
        );
        let tally = if decision.eligible {
            &mut out.eligible
        } else {
            &mut out.ineligible
        };
        *tally += 1;
        let key = (inc.subdistrict_code.clone(), chrono::Datelike::year(&day));
        let seq = numbers.get_mut(&key).map_or(0, |next| {
            *next += 1;
            *next - 1
        });
        let mut row = form_columns(&household.to_form(), Some(&inc.community), inc.submitted_at)
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        row.number = Set(Some(format!("{}-{}-{seq:06}", key.0, key.1)));
        row.source = Set(entity::enums::Source::Counter);
        row.warnings = Set(serde_json::to_value(warnings).map_err(|e| DbErr::Json(e.to_string()))?);
        row.warnings_open = Set(warnings.len() as i32);
        row.created_at = Set(inc.submitted_at);
        row.submitted_at = Set(Some(inc.submitted_at));
        row.policy_version = Set(Some(decision.policy_version.clone()));
        let result = if decision.eligible {
            Action::PassEligibility
        } else {
            Action::FailEligibility
        };
        cases.push(NewCase {
            row,
            actor: Actor::Operator,
            notify: Vec::new(),
            steps: vec![
                (Action::Submit, None),
                (result, Some(decision.policy_version.clone())),
            ],
            at: inc.submitted_at,
        });
        let hashes: Vec<String> = household
            .members
            .iter()
            .map(|m| m.id_number.keyed_hash(&state.id_hash_key))
            .collect();
        decided.push((decision, hashes, inc.submitted_at));
    }
    let created = case_writer::create_many(&txn, cases)
        .await
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    let mut keys = Vec::new();
    let mut decisions = Vec::with_capacity(created.len());
    for (c, (decision, hashes, at)) in created.iter().zip(&decided) {
        keys.extend(repo::key_rows(c.case.id, hashes));
        // The decision belongs to the second step: the eligibility result.
        decisions.push((c.case.id, c.events[1].id, decision, *at));
    }
    repo::insert_keys(&txn, keys).await?;
    crate::eligibility::service::record_many(&txn, &decisions).await?;
    txn.commit().await?;
    Ok(out)
}

/// The first number of each sub-district and year for the chunk: one reservation each.
async fn numbering(
    db: &crate::db::WriteTxn,
    checked: &[(Incoming, domain::Household, Vec<domain::Warning>)],
) -> Result<HashMap<(String, i32), i64>, DbErr> {
    let mut wanted: HashMap<(String, i32), i64> = HashMap::new();
    for (inc, _, _) in checked {
        let year = chrono::Datelike::year(&local_date(inc.submitted_at));
        *wanted
            .entry((inc.subdistrict_code.clone(), year))
            .or_default() += 1;
    }
    let mut first = HashMap::new();
    for ((sub, year), n) in wanted {
        let last =
            crate::db::reserve_in_sequence(db, &format!("application:{sub}:{year}"), n).await?;
        first.insert((sub, year), last - n + 1);
    }
    Ok(first)
}
