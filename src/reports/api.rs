//! HTTP for reports: the funnel as JSON, or as a CSV, XLSX or SVG file.

use std::sync::Arc;

use chrono::NaiveDate;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::{Attachment, AttachmentType, Binary, Json},
};

use super::funnel::{self, Filter, Funnel};
use super::render;
use crate::access::BearerAuth;
use crate::applications::form::Programme;
use crate::error::ApiError;
use crate::i18n::{Lang, Msg};
use crate::openapi::ApiTags;
use crate::state::AppState;

/// One stage of the funnel.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct StageView {
    /// Stage code: submitted, eligible, accepted, passed_review, reported, approved, allocated.
    pub stage: String,
    /// Label in the request's language.
    pub label: String,
    /// Distinct cases that first reached the stage on a day in the period.
    pub count: u64,
    /// Percent of the previous stage.
    pub ratio_from_previous: Option<f64>,
    /// Median days cases spent in this stage before the next (to a tenth of a day), over
    /// the cases that reached the next stage in the period.
    pub median_days: Option<f64>,
}

/// A way out of the funnel.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct OutcomeView {
    /// ineligible, rejected, returned, withdrawn, appealed, appeal_upheld or appeal_overturned.
    pub outcome: String,
    /// Label in the request's language.
    pub label: String,
    /// Distinct cases.
    pub count: u64,
}

/// Stage counts for one programme or community.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GroupView {
    /// Programme code or community name.
    pub group: String,
    /// Counts in stage order.
    pub counts: Vec<u64>,
}

/// Cases past their stage's deadline now.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct OverdueView {
    /// The stage they are waiting to reach: `accepted`, `passed_review`, or
    /// `appeal_answered` (a 复核 past the working day its written answer was due).
    pub before_stage: String,
    /// How many.
    pub count: u64,
}

/// The funnel report.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct FunnelView {
    /// The place reported on.
    pub scope: String,
    /// Stages in order.
    pub stages: Vec<StageView>,
    /// Side exits.
    pub outcomes: Vec<OutcomeView>,
    /// Overdue cases.
    pub overdue: Vec<OverdueView>,
    /// Per programme.
    pub by_programme: Vec<GroupView>,
    /// Per community.
    pub by_community: Vec<GroupView>,
    /// How many seconds behind the primary database the replica these counts were read
    /// from was; absent when there is no replica (`database_read_url`).
    #[oai(skip_serializing_if_is_none)]
    pub replica_lag_seconds: Option<f64>,
    /// When the counts were read: every change committed before then is counted. A
    /// report is reused for `report_cache_secs` (2 s by default), so it can be that old.
    pub as_of: chrono::DateTime<chrono::Utc>,
}

impl From<Funnel> for FunnelView {
    fn from(f: Funnel) -> Self {
        let lang = Lang::current();
        let g = |rows: Vec<funnel::GroupRow>| {
            rows.into_iter()
                .map(|r| GroupView {
                    group: r.group,
                    counts: r.counts,
                })
                .collect()
        };
        FunnelView {
            scope: f.scope,
            stages: f
                .stages
                .into_iter()
                .map(|s| StageView {
                    stage: s.stage.into(),
                    label: Msg::new(s.label_zh, s.label_en).get(lang).into(),
                    count: s.count,
                    ratio_from_previous: s.ratio_from_previous,
                    median_days: s.median_days,
                })
                .collect(),
            outcomes: f
                .outcomes
                .into_iter()
                .map(|o| OutcomeView {
                    outcome: o.outcome.into(),
                    label: Msg::new(o.label_zh, o.label_en).get(lang).into(),
                    count: o.count,
                })
                .collect(),
            overdue: f
                .overdue
                .into_iter()
                .map(|(s, n)| OverdueView {
                    before_stage: s,
                    count: n,
                })
                .collect(),
            by_programme: g(f.by_programme),
            by_community: g(f.by_community),
            replica_lag_seconds: f.replica_lag_seconds,
            as_of: f.as_of,
        }
    }
}

#[derive(ApiResponse)]
pub enum FunnelResponse {
    /// The funnel.
    #[oai(status = 200)]
    Ok(Json<FunnelView>),
}

#[derive(ApiResponse)]
pub enum FunnelFileResponse {
    /// A CSV (UTF-8 with BOM) or XLSX file.
    #[oai(status = 200)]
    File(Attachment<Vec<u8>>),
}

#[derive(ApiResponse)]
pub enum FunnelChartResponse {
    /// An SVG funnel chart.
    #[oai(status = 200, content_type = "image/svg+xml")]
    Svg(Binary<Vec<u8>>),
}

pub struct ReportApi {
    pub state: AppState,
}

impl ReportApi {
    async fn compute(&self, auth: &BearerAuth, f: Filter) -> Result<Arc<Funnel>, ApiError> {
        funnel::funnel_cached(&self.state, &auth.0, &f)
            .await?
            .ok_or_else(ApiError::forbidden)
    }
}

fn filter(
    programme: Option<Programme>,
    community: Option<String>,
    subdistrict: Option<String>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Filter {
    Filter {
        programme,
        community_code: community,
        subdistrict_code: subdistrict,
        from,
        to,
    }
}

#[OpenApi(tag = "ApiTags::Reports")]
impl ReportApi {
    /// Funnel report
    ///
    /// Counts per stage (kept in step with the event log), with conversion ratios, median days per stage,
    /// overdue counts and breakdowns by programme and community. The bureau sees its
    /// district, a supervisor the sub-district, a reviewer their communities.
    #[oai(
        path = "/api/v1/reports/funnel",
        method = "get",
        operation_id = "reports_funnel"
    )]
    async fn funnel(
        &self,
        auth: BearerAuth,
        /// Only this programme.
        programme: Query<Option<Programme>>,
        /// Only this community (code).
        community: Query<Option<String>>,
        /// Only this sub-district (code).
        subdistrict: Query<Option<String>>,
        /// First local day (Asia/Shanghai) counted, e.g. 2015-09-01.
        from: Query<Option<NaiveDate>>,
        /// Last local day counted (inclusive).
        to: Query<Option<NaiveDate>>,
    ) -> Result<FunnelResponse, ApiError> {
        let f = self
            .compute(
                &auth,
                filter(programme.0, community.0, subdistrict.0, from.0, to.0),
            )
            .await?;
        Ok(FunnelResponse::Ok(Json(Funnel::clone(&f).into())))
    }

    /// Funnel report as a file
    ///
    /// `csv` (UTF-8 with BOM) or `xlsx` (Chinese headers, a per-community sheet with a
    /// totals row).
    #[oai(
        path = "/api/v1/reports/funnel/:format",
        method = "get",
        operation_id = "reports_funnel_file"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn funnel_file(
        &self,
        auth: BearerAuth,
        /// csv or xlsx.
        format: Path<String>,
        /// Only this programme.
        programme: Query<Option<Programme>>,
        /// Only this community (code).
        community: Query<Option<String>>,
        /// Only this sub-district (code).
        subdistrict: Query<Option<String>>,
        /// First local day (Asia/Shanghai) counted, e.g. 2015-09-01.
        from: Query<Option<NaiveDate>>,
        /// Last local day counted (inclusive).
        to: Query<Option<NaiveDate>>,
    ) -> Result<FunnelFileResponse, ApiError> {
        if !matches!(format.0.as_str(), "csv" | "xlsx") {
            return Err(ApiError::not_found());
        }
        let f = self
            .compute(
                &auth,
                filter(programme.0, community.0, subdistrict.0, from.0, to.0),
            )
            .await?;
        Ok(match format.0.as_str() {
            "csv" => FunnelFileResponse::File(
                Attachment::new(render::csv(&f))
                    .attachment_type(AttachmentType::Attachment)
                    .filename("funnel.csv"),
            ),
            _ => {
                let bytes = render::xlsx(&f).map_err(|e| ApiError::internal_logged(&e))?;
                FunnelFileResponse::File(
                    Attachment::new(bytes)
                        .attachment_type(AttachmentType::Attachment)
                        .filename("funnel.xlsx"),
                )
            }
        })
    }

    /// Funnel chart (SVG)
    ///
    /// One bar per stage with counts and percentages, coloured by programme; a browser
    /// shows it directly.
    #[oai(
        path = "/api/v1/reports/funnel-chart",
        method = "get",
        operation_id = "reports_funnel_chart"
    )]
    async fn funnel_chart(
        &self,
        auth: BearerAuth,
        /// Only this programme.
        programme: Query<Option<Programme>>,
        /// Only this community (code).
        community: Query<Option<String>>,
        /// Only this sub-district (code).
        subdistrict: Query<Option<String>>,
        /// First local day (Asia/Shanghai) counted, e.g. 2015-09-01.
        from: Query<Option<NaiveDate>>,
        /// Last local day counted (inclusive).
        to: Query<Option<NaiveDate>>,
    ) -> Result<FunnelChartResponse, ApiError> {
        let f = self
            .compute(
                &auth,
                filter(programme.0, community.0, subdistrict.0, from.0, to.0),
            )
            .await?;
        Ok(FunnelChartResponse::Svg(Binary(
            render::svg(&f).into_bytes(),
        )))
    }
}
