//! The OpenAPI document: tags, the service that groups every domain's API, and the
//! spec text that `anju openapi` writes and a test compares with openapi/.

use poem_openapi::{OpenApiService, Tags};

pub mod publish;

use crate::state::AppState;

/// Groups of operations in the docs.
#[derive(Tags)]
pub enum ApiTags {
    /// Liveness and readiness probes.
    Health,
    /// Registration, login and the caller's own account.
    Auth,
    /// Staff account management (admin).
    Users,
    /// Districts, sub-districts and communities.
    Places,
    /// Households' applications: drafts, submission, case view, withdrawal.
    Applications,
    /// Eligibility policies: versions, publication, simulation.
    Policies,
    /// First review: work queues, actions, objections, audit trail.
    Review,
    /// Public notices (公示) and objections; no login.
    Public,
    /// The e-mail outbox (admin).
    Outbox,
    /// Report-up batches (上报) and the bureau's decisions.
    Batches,
    /// Reports: the funnel.
    Reports,
    /// The working-day calendar: holidays and make-up working days.
    Calendar,
    /// Allocation (配租): the housing stock, rounds, the lottery, offers.
    Allocation,
}

pub type Apis = (
    crate::health::api::HealthApi,
    crate::auth::api::AuthApi,
    crate::auth::api::UserApi,
    crate::places::api::PlaceApi,
    crate::applications::api::ApplicationApi,
    crate::eligibility::api::PolicyApi,
    crate::applications::simulation_api::SimulationApi,
    crate::review::api::ReviewApi,
    crate::review::notice_api::PublicApi,
    crate::notifications::api::OutboxApi,
    crate::batches::api::BatchApi,
    crate::reports::api::ReportApi,
    crate::calendar::api::CalendarApi,
    crate::allocation::api::AllocationApi,
);

/// Builds the OpenAPI service over every domain's API.
pub fn service(state: &AppState) -> OpenApiService<Apis, ()> {
    let apis = (
        crate::health::api::HealthApi {
            state: state.clone(),
        },
        crate::auth::api::AuthApi {
            state: state.clone(),
        },
        crate::auth::api::UserApi {
            state: state.clone(),
        },
        crate::places::api::PlaceApi {
            state: state.clone(),
        },
        crate::applications::api::ApplicationApi {
            state: state.clone(),
        },
        crate::eligibility::api::PolicyApi {
            state: state.clone(),
        },
        crate::applications::simulation_api::SimulationApi {
            state: state.clone(),
        },
        crate::review::api::ReviewApi {
            state: state.clone(),
        },
        crate::review::notice_api::PublicApi {
            state: state.clone(),
        },
        crate::notifications::api::OutboxApi {
            state: state.clone(),
        },
        crate::batches::api::BatchApi {
            state: state.clone(),
        },
        crate::reports::api::ReportApi {
            state: state.clone(),
        },
        crate::calendar::api::CalendarApi {
            state: state.clone(),
        },
        crate::allocation::api::AllocationApi {
            state: state.clone(),
        },
    );
    OpenApiService::new(apis, "anju", env!("CARGO_PKG_VERSION")).description(
        "安居 anju: public-housing applications for a Zhengzhou sub-district office \
             (廉租房 low-rent and 公租房 public-rental housing). Errors share one JSON body \
             (`code`, `message`, `fields`); messages follow Accept-Language (zh or en).",
    )
}

/// The spec as served and committed: poem-openapi's document rewritten for client
/// generators (see `publish`), as JSON and YAML, and the Swagger UI page showing it.
pub struct Published {
    pub json: String,
    pub yaml: String,
    pub docs_html: String,
}

pub fn published(svc: &OpenApiService<Apis, ()>) -> Published {
    let raw = svc.spec();
    let html = svc.swagger_ui_html();
    let rewritten = serde_json::from_str::<publish::Node>(&raw).and_then(|mut node| {
        publish::rewrite(&mut node);
        let yaml = serde_yaml::to_string(&node).map_err(serde::ser::Error::custom)?;
        Ok((serde_json::to_string_pretty(&node)?, yaml))
    });
    match rewritten {
        Ok((json, yaml)) => Published {
            // The page embeds the document verbatim; it shows the published one.
            docs_html: html.replace(&raw, &json),
            json,
            yaml,
        },
        Err(e) => {
            // Cannot happen for a document serde_json itself wrote; the spec check in
            // CI would show the unrewritten shapes if it ever did.
            tracing::error!(error = %e, "could not rewrite the spec; serving it as generated");
            Published {
                yaml: svc.spec_yaml(),
                json: raw,
                docs_html: html,
            }
        }
    }
}

/// The path templates of a published spec (its `paths` keys).
pub fn path_templates(json: &str) -> Vec<String> {
    serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|v| {
            v.get("paths")?
                .as_object()
                .map(|p| p.keys().cloned().collect())
        })
        .unwrap_or_default()
}

/// The spec as (YAML, JSON), built without a database.
pub fn spec_texts() -> (String, String) {
    let state = AppState::disconnected();
    let p = published(&service(&state));
    (p.yaml, p.json)
}
