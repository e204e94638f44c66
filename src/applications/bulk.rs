//! Bulk intake for large synthetic populations (`anju demo --households N`): the same
//! checks (`domain::validate`) and the same eligibility engine as a submission, written
//! a thousand cases per transaction. What it leaves out, on purpose: duplicate look-ups
//! against other cases (the generator makes every identity number unique), idempotency
//! records and outbox messages (nobody is e-mailed about synthetic households). The
//! report counters are kept in step as for any event, one upsert per key per chunk.

use chrono::{DateTime, Utc};
use entity::{application, application_event, eligibility_decision, member_key};
use sea_orm::{ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, QueryFilter};

use super::domain;
use super::form::Form;
use super::lifecycle::{Action, Status};
use super::repository as repo;
use crate::clock::local_date;
use crate::eligibility::engine::{self, Facts};
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
    let mut policies = std::collections::HashMap::new();
    let mut checked = Vec::with_capacity(chunk.len());
    for inc in chunk {
        let day = local_date(inc.submitted_at);
        match domain::validate(&inc.form, day) {
            Ok((household, warnings)) => checked.push((inc, household, warnings, day)),
            Err(_) => out.invalid += 1,
        }
    }
    if checked.is_empty() {
        txn.commit().await?;
        return Ok(out);
    }
    // Numbers: one reservation per sub-district and year for the whole chunk.
    let mut numbering: std::collections::HashMap<(String, i32), i64> = Default::default();
    for (inc, _, _, day) in &checked {
        *numbering
            .entry((inc.subdistrict_code.clone(), chrono::Datelike::year(day)))
            .or_default() += 1;
    }
    let mut next: std::collections::HashMap<(String, i32), i64> = Default::default();
    for ((sub, year), n) in &numbering {
        let last =
            repo::reserve_in_sequence(&txn, &format!("application:{sub}:{year}"), *n).await?;
        next.insert((sub.clone(), *year), last - n + 1);
    }
    let mut rows = Vec::with_capacity(checked.len());
    let mut decided = Vec::with_capacity(checked.len());
    let mut counted = Vec::with_capacity(checked.len());
    for (inc, household, warnings, day) in &checked {
        let key = (inc.subdistrict_code.clone(), chrono::Datelike::year(day));
        let seq = next.get_mut(&key).map(|v| {
            *v += 1;
            *v - 1
        });
        let number = format!("{}-{}-{:06}", key.0, key.1, seq.unwrap_or_default());
        let policy = match policies.get(&household.programme) {
            Some(p) => p,
            None => {
                let p =
                    crate::eligibility::service::policy_in_force(&txn, household.programme, *day)
                        .await?;
                policies.entry(household.programme).or_insert(p)
            }
        };
        let Some(policy) = policy else {
            out.invalid += 1;
            continue;
        };
        let decision = engine::decide(household, policy, *day, &Facts::default());
        let status = if decision.eligible {
            Status::Eligible
        } else {
            Status::Ineligible
        };
        if decision.eligible {
            out.eligible += 1;
        } else {
            out.ineligible += 1;
        }
        let form =
            serde_json::to_value(household.to_form()).map_err(|e| DbErr::Custom(e.to_string()))?;
        rows.push(application::ActiveModel {
            number: Set(Some(number)),
            source: Set(entity::enums::Source::Counter),
            programme: Set(Some(household.programme)),
            applicant_class: Set(Some(household.applicant_class)),
            community_id: Set(Some(inc.community.id)),
            status: Set(status),
            form: Set(form),
            warnings: Set(serde_json::to_value(warnings).map_err(|e| DbErr::Custom(e.to_string()))?),
            household_size: Set(household.members.len() as i32),
            contact_email: Set(household.contact_email.as_ref().map(|e| e.as_str().to_string())),
            language: Set(household.language),
            version: Set(2),
            created_at: Set(inc.submitted_at),
            updated_at: Set(inc.submitted_at),
            submitted_at: Set(Some(inc.submitted_at)),
            status_since: Set(inc.submitted_at),
            warnings_open: Set(warnings.len() as i32),
            policy_version: Set(Some(decision.policy_version.clone())),
            ..Default::default()
        });
        counted.push((inc.community.id, household.programme.as_str()));
        decided.push((
            decision,
            household
                .members
                .iter()
                .map(|m| m.id_number.keyed_hash(&state.id_hash_key))
                .collect::<Vec<_>>(),
            inc.submitted_at,
        ));
    }
    let first_id = {
        // Inserted ids are consecutive within one write transaction; read them back by number order.
        let numbers: Vec<String> = rows
            .iter()
            .filter_map(|r| r.number.clone().unwrap())
            .collect();
        application::Entity::insert_many(rows).exec(&txn).await?;
        let inserted = application::Entity::find()
            .filter(application::Column::Number.is_in(numbers.clone()))
            .all(&txn)
            .await?;
        let mut by_number: std::collections::HashMap<String, i64> = inserted
            .into_iter()
            .filter_map(|a| a.number.map(|n| (n, a.id)))
            .collect();
        numbers
            .into_iter()
            .map(|n| by_number.remove(&n).unwrap_or_default())
            .collect::<Vec<i64>>()
    };
    let mut events = Vec::new();
    let mut keys = Vec::new();
    let mut tally = crate::reports::counters::Tally::default();
    for ((id, (decision, hashes, submitted_at)), (community, programme)) in
        first_id.iter().zip(&decided).zip(&counted)
    {
        let action = if decision.eligible {
            Action::PassEligibility
        } else {
            Action::FailEligibility
        };
        let to = if decision.eligible {
            Status::Eligible
        } else {
            Status::Ineligible
        };
        tally.add_case(
            *community,
            programme,
            to.as_str(),
            *submitted_at,
            &[
                (Action::Submit.as_str().to_string(), *submitted_at),
                (action.as_str().to_string(), *submitted_at),
            ],
        );
        for (a, from, t, pv) in [
            (Action::Submit, Some(Status::Draft), Status::Submitted, None),
            (
                action,
                Some(Status::Submitted),
                to,
                Some(decision.policy_version.clone()),
            ),
        ] {
            events.push(application_event::ActiveModel {
                application_id: Set(*id),
                actor_id: Set(None),
                action: Set(a),
                from_status: Set(from),
                to_status: Set(t),
                policy_version: Set(pv),
                created_at: Set(*submitted_at),
                ..Default::default()
            });
        }
        for (i, h) in hashes.iter().enumerate() {
            keys.push(member_key::ActiveModel {
                application_id: Set(*id),
                member_index: Set(i as i32),
                id_hash: Set(h.clone()),
            });
        }
    }
    let event_rows = events.len();
    for chunk in events.chunks(2000) {
        application_event::Entity::insert_many(chunk.to_vec())
            .exec(&txn)
            .await?;
    }
    tally.flush(&txn).await?;
    for chunk in keys.chunks(2000) {
        member_key::Entity::insert_many(chunk.to_vec())
            .exec(&txn)
            .await?;
    }
    // Decisions reference the eligibility event: the second event of each case.
    let ids: Vec<i64> = first_id.clone();
    let evs = application_event::Entity::find()
        .filter(application_event::Column::ApplicationId.is_in(ids))
        .filter(application_event::Column::Action.is_in(["pass_eligibility", "fail_eligibility"]))
        .all(&txn)
        .await?;
    debug_assert!(evs.len() * 2 == event_rows);
    let mut decisions = Vec::new();
    for (id, (decision, _, submitted_at)) in first_id.iter().zip(&decided) {
        let event_id = evs
            .iter()
            .find(|e| e.application_id == *id)
            .map_or(0, |e| e.id);
        decisions.push(eligibility_decision::ActiveModel {
            application_id: Set(*id),
            event_id: Set(event_id),
            policy_version: Set(decision.policy_version.clone()),
            eligible: Set(decision.eligible),
            flagged: Set(decision.flagged),
            decision: Set(serde_json::to_value(decision).map_err(|e| DbErr::Custom(e.to_string()))?),
            evaluated_at: Set(*submitted_at),
            ..Default::default()
        });
    }
    for chunk in decisions.chunks(1000) {
        eligibility_decision::Entity::insert_many(chunk.to_vec())
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(out)
}
