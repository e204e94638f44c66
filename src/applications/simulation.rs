//! Policy simulation: what a draft policy would change for the current cases, without
//! writing anything. It lives with the cases (this domain owns them) and calls the
//! eligibility engine.
//!
//! Cases are read in pages of 1,000 by id, so memory stays flat however many there are;
//! each is re-evaluated on its own submission date, so only the policy differs from the
//! stored decision it is compared with.

use std::collections::{BTreeMap, HashMap};

use entity::application;
use sea_orm::DbErr;

use super::domain;
use super::repository as repo;
use super::service::ApplicationError;
use crate::access::{Principal, Role};
use crate::clock::local_date;
use crate::eligibility::{
    self,
    engine::{self, Facts},
    policy::PolicyDocument,
};
use crate::places::{self, Place};
use crate::state::AppState;

const PAGE: u64 = 1_000;
const MAX_LISTED: usize = 1_000;

/// Changes in one community.
pub struct CommunityChange {
    pub code: String,
    pub name: String,
    pub became_eligible: u64,
    pub became_ineligible: u64,
}

/// One case whose outcome would change.
pub struct CaseChange {
    pub application_id: i64,
    pub number: Option<String>,
    pub community_code: String,
    pub was_eligible: bool,
}

/// The simulation's findings.
#[derive(Default)]
pub struct Simulation {
    pub evaluated: u64,
    pub unchanged: u64,
    pub became_eligible: u64,
    pub became_ineligible: u64,
    pub by_community: Vec<CommunityChange>,
    pub changes: Vec<CaseChange>,
    pub truncated: bool,
}

/// Which person (by keyed hash) holds a benefit in which case.
async fn benefit_holders(state: &AppState) -> Result<HashMap<String, String>, DbErr> {
    let holders = repo::holding_benefit(&state.db).await?;
    if holders.is_empty() {
        return Ok(HashMap::new());
    }
    let numbers: HashMap<i64, String> = holders
        .iter()
        .map(|a| (a.id, a.number.clone().unwrap_or_else(|| a.id.to_string())))
        .collect();
    let ids: Vec<i64> = numbers.keys().copied().collect();
    Ok(repo::keys_of(&state.db, &ids)
        .await?
        .into_iter()
        .filter_map(|k| {
            numbers
                .get(&k.application_id)
                .map(|n| (k.id_hash, n.clone()))
        })
        .collect())
}

/// What the simulation needs besides the draft: who holds benefits, the places, and
/// the running tallies per community.
struct Run<'a> {
    state: &'a AppState,
    draft: &'a PolicyDocument,
    holders: HashMap<String, String>,
    communities: Vec<Place>,
    per: BTreeMap<i64, (u64, u64)>,
    out: Simulation,
}

pub async fn simulate(
    state: &AppState,
    caller: &Principal,
    draft: &PolicyDocument,
) -> Result<Simulation, ApplicationError> {
    let scope: Option<Vec<i64>> = match caller.role {
        Role::Admin => None,
        Role::Bureau => {
            Some(places::service::communities_within(&state.db, &caller.place_ids).await?)
        }
        _ => return Err(ApplicationError::Forbidden),
    };
    let mut run = Run {
        state,
        draft,
        holders: benefit_holders(state).await?,
        communities: places::service::all(&state.db).await?,
        per: BTreeMap::new(),
        out: Simulation::default(),
    };
    let mut after = 0i64;
    loop {
        let page =
            repo::decided_page(&state.db, draft.programme, scope.as_deref(), after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        let ids: Vec<i64> = page.iter().map(|a| a.id).collect();
        let outcomes: HashMap<i64, bool> = eligibility::service::latest_outcomes(&state.db, &ids)
            .await?
            .into_iter()
            .collect();
        for case in &page {
            if let (Some(&was), Some(submitted)) = (outcomes.get(&case.id), case.submitted_at) {
                run.evaluate(case, was, local_date(submitted))?;
            }
        }
    }
    Ok(run.finish())
}

impl Run<'_> {
    /// Re-evaluates one case under the draft and counts it.
    fn evaluate(
        &mut self,
        case: &application::Model,
        was: bool,
        day: chrono::NaiveDate,
    ) -> Result<(), ApplicationError> {
        let form = repo::form_of(case)?;
        // A stored form that no longer validates (a rule tightened since) is counted
        // as not evaluated rather than guessed at.
        let Ok((household, _)) = domain::validate(&form, day) else {
            return Ok(());
        };
        let facts = Facts {
            other_benefits: household
                .members
                .iter()
                .filter_map(|m| {
                    self.holders
                        .get(&m.id_number.keyed_hash(&self.state.id_hash_key))
                })
                .filter(|n| Some(*n) != case.number.as_ref())
                .cloned()
                .collect(),
        };
        let input = household.eligibility_input();
        let now = engine::evaluate(&input, self.draft, day, &facts).eligible;
        self.out.evaluated += 1;
        if now == was {
            self.out.unchanged += 1;
            return Ok(());
        }
        let entry = self
            .per
            .entry(case.community_id.unwrap_or_default())
            .or_default();
        if now {
            self.out.became_eligible += 1;
            entry.0 += 1;
        } else {
            self.out.became_ineligible += 1;
            entry.1 += 1;
        }
        if self.out.changes.len() < MAX_LISTED {
            let community_code = self
                .communities
                .iter()
                .find(|c| Some(c.id) == case.community_id)
                .map(|c| c.code.clone())
                .unwrap_or_default();
            self.out.changes.push(CaseChange {
                application_id: case.id,
                number: case.number.clone(),
                community_code,
                was_eligible: was,
            });
        } else {
            self.out.truncated = true;
        }
        Ok(())
    }

    fn finish(mut self) -> Simulation {
        self.out.by_community = self
            .per
            .into_iter()
            .map(|(id, (up, down))| {
                let place = self.communities.iter().find(|c| c.id == id);
                CommunityChange {
                    code: place.map(|p| p.code.clone()).unwrap_or_default(),
                    name: place.map(|p| p.name.clone()).unwrap_or_default(),
                    became_eligible: up,
                    became_ineligible: down,
                }
            })
            .collect();
        self.out
    }
}
