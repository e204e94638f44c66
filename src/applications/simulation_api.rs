//! HTTP for policy simulation: what a draft policy would change for the current cases.
//! It is published under the policies tag but lives here, with the cases it reads; the
//! eligibility domain stays free of the cases.

use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};

use super::service::{Simulation, simulate};
use crate::access::BearerAuth;
use crate::eligibility::policy::PolicyDocument;
use crate::eligibility::service as policies;
use crate::error::ApiError;
use crate::http::body::JsonBody;
use crate::openapi::ApiTags;
use crate::state::AppState;

/// How a change of outcome counts in one community.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CommunityChangeView {
    /// Community code.
    pub community_code: String,
    /// Community name.
    pub community_name: String,
    /// Cases that would become eligible.
    pub became_eligible: u64,
    /// Cases that would become ineligible.
    pub became_ineligible: u64,
}

/// One case whose outcome would change.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CaseChangeView {
    /// Case id.
    pub application_id: i64,
    /// Application number.
    pub number: Option<String>,
    /// Community code.
    pub community_code: String,
    /// `eligible` or `ineligible` now.
    pub from: String,
    /// `eligible` or `ineligible` under the draft policy.
    pub to: String,
}

/// What a draft policy would change. Nothing is written.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct SimulationView {
    /// Cases evaluated (those of the programme, in the caller's scope, with a decision).
    pub evaluated: u64,
    /// Cases whose outcome would stay the same.
    pub unchanged: u64,
    /// Cases that would become eligible.
    pub became_eligible: u64,
    /// Cases that would become ineligible.
    pub became_ineligible: u64,
    /// Per community.
    pub by_community: Vec<CommunityChangeView>,
    /// The changed cases (at most 1,000; see `changes_truncated`).
    pub changes: Vec<CaseChangeView>,
    /// More cases changed than are listed.
    pub changes_truncated: bool,
}

impl From<Simulation> for SimulationView {
    fn from(s: Simulation) -> Self {
        let word = |e: bool| if e { "eligible" } else { "ineligible" }.to_string();
        SimulationView {
            evaluated: s.evaluated,
            unchanged: s.unchanged,
            became_eligible: s.became_eligible,
            became_ineligible: s.became_ineligible,
            by_community: s
                .by_community
                .into_iter()
                .map(|c| CommunityChangeView {
                    community_code: c.code,
                    community_name: c.name,
                    became_eligible: c.became_eligible,
                    became_ineligible: c.became_ineligible,
                })
                .collect(),
            changes: s
                .changes
                .into_iter()
                .map(|c| CaseChangeView {
                    application_id: c.application_id,
                    number: c.number,
                    community_code: c.community_code,
                    from: word(c.was_eligible),
                    to: word(!c.was_eligible),
                })
                .collect(),
            changes_truncated: s.truncated,
        }
    }
}

#[derive(ApiResponse)]
pub enum SimulationResponse {
    /// What the draft would change.
    #[oai(status = 200)]
    Ok(Json<SimulationView>),
}

pub struct SimulationApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Policies")]
impl SimulationApi {
    /// Simulate a draft policy (bureau, admin)
    ///
    /// Re-evaluates the current cases of the draft's programme in the caller's scope as
    /// if the draft applied, and reports which would change outcome, in which direction,
    /// per community. Nothing is written.
    #[oai(
        path = "/api/v1/policies/simulate",
        method = "post",
        operation_id = "policies_simulate"
    )]
    async fn simulate(
        &self,
        auth: BearerAuth,
        body: JsonBody<PolicyDocument>,
    ) -> Result<SimulationResponse, ApiError> {
        policies::check_draft(&auth.0, &body.0)?;
        let s = simulate(&self.state, &auth.0, &body.0).await?;
        Ok(SimulationResponse::Ok(Json(s.into())))
    }
}
