//! HTTP for policies (public reading, admin publishing, bureau/admin simulation) and the
//! decision view shown in a case.

use chrono::{DateTime, NaiveDate, Utc};
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json};

use super::engine::{Decision, Outcome, Quantity, RuleResult};
use super::policy::PolicyDocument;
use super::service::{self, Published};
use crate::access::BearerAuth;
use crate::error::ApiError;
use crate::http::body::JsonBody;
use crate::i18n::{Lang, Msg};
use crate::openapi::ApiTags;
use crate::state::AppState;
use entity::enums::Programme;

/// A number with its unit.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct QuantityView {
    /// The integer amount: fen for money, hundredths of a m² for area, else whole units.
    pub amount: i64,
    /// `fen`, `cm2`, `years`, `months` or `count`.
    pub unit: String,
    /// The amount for people, e.g. `2,150.00 元`.
    pub text: String,
}

fn quantity(q: Option<Quantity>, lang: Lang) -> Option<QuantityView> {
    q.map(|q| QuantityView {
        amount: q.amount,
        unit: serde_json::to_value(q.unit)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        text: Msg::new(q.zh, q.en).get(lang).to_string(),
    })
}

/// One line of an eligibility decision.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RuleResultView {
    /// Rule id from the policy, or `admits_class`.
    pub id: String,
    /// Kind of rule.
    pub kind: String,
    /// `hard` or `soft`.
    pub severity: String,
    /// `pass`, `fail` or `not_applicable`.
    pub outcome: String,
    /// The value seen, e.g. per-capita income.
    pub value: Option<QuantityView>,
    /// The limit used.
    pub limit: Option<QuantityView>,
    /// Explanation in the request's language.
    pub message: String,
    /// For an `any_of` rule, what each alternative found.
    pub alternatives: Vec<RuleResultView>,
}

fn rule_view(r: RuleResult, lang: Lang) -> RuleResultView {
    RuleResultView {
        outcome: match r.outcome {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::NotApplicable => "not_applicable",
        }
        .into(),
        value: quantity(r.value, lang),
        limit: quantity(r.limit, lang),
        message: Msg::new(r.zh, r.en).get(lang).to_string(),
        alternatives: r
            .alternatives
            .into_iter()
            .map(|a| rule_view(a, lang))
            .collect(),
        id: r.id,
        kind: r.kind,
        severity: r.severity,
    }
}

/// An eligibility decision, explained rule by rule.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct DecisionView {
    /// Policy version used.
    pub policy_version: String,
    /// The date the rules were applied for (the submission date, Zhengzhou time).
    pub evaluated_on: NaiveDate,
    /// No hard rule failed.
    pub eligible: bool,
    /// A soft rule failed: the reviewer must look.
    pub flagged: bool,
    /// Every rule, in policy order.
    pub rules: Vec<RuleResultView>,
}

impl From<Decision> for DecisionView {
    fn from(d: Decision) -> Self {
        let lang = Lang::current();
        DecisionView {
            policy_version: d.policy_version,
            evaluated_on: d.evaluated_on,
            eligible: d.eligible,
            flagged: d.flagged,
            rules: d.rules.into_iter().map(|r| rule_view(r, lang)).collect(),
        }
    }
}

/// A published policy version.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PolicyView {
    /// Version label.
    pub version: String,
    /// Programme.
    pub programme: Programme,
    /// Title.
    pub title: String,
    /// Applications submitted on or after this date use this version.
    pub effective_from: NaiveDate,
    /// When it was published.
    pub published_at: DateTime<Utc>,
    /// The admin who published it (absent for the shipped defaults).
    pub published_by: Option<i64>,
    /// The document.
    pub document: PolicyDocument,
}

impl From<Published> for PolicyView {
    fn from(p: Published) -> Self {
        PolicyView {
            version: p.row.version,
            programme: p.document.programme,
            title: p.row.title,
            effective_from: p.row.effective_from,
            published_at: p.row.published_at,
            published_by: p.row.published_by,
            document: p.document,
        }
    }
}

#[derive(ApiResponse)]
pub enum PolicyListResponse {
    /// Every published version, by programme and date.
    #[oai(status = 200)]
    Ok(Json<Vec<PolicyView>>),
}

#[derive(ApiResponse)]
pub enum PolicyResponse {
    /// The version.
    #[oai(status = 200)]
    Ok(Json<PolicyView>),
    /// The version was published.
    #[oai(status = 201)]
    Created(Json<PolicyView>),
}

pub struct PolicyApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Policies")]
impl PolicyApi {
    /// List policy versions
    ///
    /// Public: anyone may read the rules applications are judged by.
    #[oai(
        path = "/api/v1/policies",
        method = "get",
        operation_id = "policies_list"
    )]
    async fn list(&self) -> Result<PolicyListResponse, ApiError> {
        let all = service::list(&self.state).await?;
        Ok(PolicyListResponse::Ok(Json(
            all.into_iter().map(PolicyView::from).collect(),
        )))
    }

    /// Read a policy version
    #[oai(
        path = "/api/v1/policies/:version",
        method = "get",
        operation_id = "policies_get"
    )]
    async fn get(
        &self,
        /// Version label.
        version: Path<String>,
    ) -> Result<PolicyResponse, ApiError> {
        Ok(PolicyResponse::Ok(Json(
            service::get(&self.state, &version.0).await?.into(),
        )))
    }

    /// Publish a policy version (admin)
    ///
    /// Validated (unknown rule, wrong type, negative limit: 422 with the path), stored
    /// and never edited. It applies to applications submitted on or after
    /// `effective_from`, which must be today or later.
    #[oai(
        path = "/api/v1/policies",
        method = "post",
        operation_id = "policies_publish"
    )]
    async fn publish(
        &self,
        auth: BearerAuth,
        body: JsonBody<PolicyDocument>,
    ) -> Result<PolicyResponse, ApiError> {
        let p = service::publish(&self.state, &auth.0, body.0).await?;
        Ok(PolicyResponse::Created(Json(p.into())))
    }
}
