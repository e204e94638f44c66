//! Policy simulation: what a draft policy would change for the current cases, without
//! writing anything. It lives with the cases (this domain owns them) and calls the
//! eligibility engine.
//!
//! Cases are read in pages of 1,000 by id, so memory stays flat however many there are;
//! each is re-evaluated on its own submission date, so only the policy differs from the
//! stored decision it is compared with.

use std::collections::{BTreeMap, HashMap};

use entity::{application, member_key};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::domain;
use super::form::Form;
use super::lifecycle::Status;
use super::service::ApplicationError;
use crate::auth::{Principal, Role};
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
    let holders = application::Entity::find()
        .filter(application::Column::Status.is_in([
            "approved",
            "waitlisted",
            "offered",
            "allocated",
        ]))
        .all(&state.db)
        .await?;
    if holders.is_empty() {
        return Ok(HashMap::new());
    }
    let numbers: HashMap<i64, String> = holders
        .iter()
        .map(|a| (a.id, a.number.clone().unwrap_or_else(|| a.id.to_string())))
        .collect();
    let keys = member_key::Entity::find()
        .filter(member_key::Column::ApplicationId.is_in(numbers.keys().copied()))
        .all(&state.db)
        .await?;
    Ok(keys
        .into_iter()
        .filter_map(|k| {
            numbers
                .get(&k.application_id)
                .map(|n| (k.id_hash, n.clone()))
        })
        .collect())
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
    let holders = benefit_holders(state).await?;
    let communities: Vec<Place> = places::service::all(&state.db).await?;
    let mut out = Simulation::default();
    let mut per: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    let mut after = 0i64;
    loop {
        let mut q = application::Entity::find()
            .filter(application::Column::Id.gt(after))
            .filter(application::Column::Programme.eq(draft.programme.as_str()))
            .filter(
                application::Column::Status
                    .is_not_in([Status::Draft.as_str(), Status::Withdrawn.as_str()]),
            );
        if let Some(ids) = &scope {
            q = q.filter(application::Column::CommunityId.is_in(ids.iter().copied()));
        }
        let page = q
            .order_by_asc(application::Column::Id)
            .limit(PAGE)
            .all(&state.db)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        let ids: Vec<i64> = page.iter().map(|a| a.id).collect();
        let outcomes: HashMap<i64, bool> = eligibility::service::latest_outcomes(&state.db, &ids)
            .await?
            .into_iter()
            .collect();
        for case in &page {
            let (Some(&was), Some(submitted)) = (outcomes.get(&case.id), case.submitted_at) else {
                continue;
            };
            let day = local_date(submitted);
            let Ok(form) = serde_json::from_value::<Form>(case.form.clone()) else {
                continue;
            };
            let Ok((household, _)) = domain::validate(&form, day) else {
                continue;
            };
            let facts = Facts {
                other_benefits: household
                    .members
                    .iter()
                    .filter_map(|m| holders.get(&m.id_number.keyed_hash(&state.id_hash_key)))
                    .filter(|n| Some(*n) != case.number.as_ref())
                    .cloned()
                    .collect(),
            };
            let now = engine::evaluate(&household, draft, day, &facts).eligible;
            out.evaluated += 1;
            if now == was {
                out.unchanged += 1;
                continue;
            }
            let entry = per
                .entry(case.community_id.unwrap_or_default())
                .or_default();
            if now {
                out.became_eligible += 1;
                entry.0 += 1;
            } else {
                out.became_ineligible += 1;
                entry.1 += 1;
            }
            if out.changes.len() < MAX_LISTED {
                out.changes.push(CaseChange {
                    application_id: case.id,
                    number: case.number.clone(),
                    community_code: communities
                        .iter()
                        .find(|c| Some(c.id) == case.community_id)
                        .map(|c| c.code.clone())
                        .unwrap_or_default(),
                    was_eligible: was,
                });
            } else {
                out.truncated = true;
            }
        }
    }
    out.by_community = per
        .into_iter()
        .map(|(id, (up, down))| {
            let place = communities.iter().find(|c| c.id == id);
            CommunityChange {
                code: place.map(|p| p.code.clone()).unwrap_or_default(),
                name: place.map(|p| p.name.clone()).unwrap_or_default(),
                became_eligible: up,
                became_ineligible: down,
            }
        })
        .collect();
    Ok(out)
}
