//! The dashboard: the funnel for the caller's scope as a chart and a table, by
//! programme, community and period, with median days per stage, the ways out of the
//! funnel and what is overdue now, and the CSV / XLSX / SVG downloads. Every percentage
//! says what it is a share of. The chart is an SVG image drawn by the browser with its
//! own fonts, so the server needs none.

use askama::Template;
use chrono::NaiveDate;
use poem::http::{StatusCode, header};
use poem::web::{Path, Query};
use poem::{Response, handler};

use super::{refusal, staff};
use crate::access::{Principal, Role};
use crate::applications::form::Programme;
use crate::i18n::Lang;
use crate::reports::funnel::{self, Filter, Funnel};
use crate::reports::render;
use crate::web::labels::Label;
use crate::web::page::{Chrome, render as render_page};
use crate::web::session::Web;
use crate::web::widgets::Choice;

const VIEWERS: &[Role] = &[Role::Reviewer, Role::Supervisor, Role::Bureau, Role::Admin];

#[derive(serde::Deserialize, Default, Clone)]
pub struct Params {
    programme: Option<String>,
    community: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

impl Params {
    fn day(v: &Option<String>) -> Option<NaiveDate> {
        v.as_deref()
            .filter(|d| !d.is_empty())
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    }

    fn filter(&self) -> Filter {
        Filter {
            programme: self.programme.as_deref().and_then(Programme::parse),
            community_code: self.community.clone().filter(|c| !c.is_empty()),
            subdistrict_code: None,
            from: Self::day(&self.from),
            to: Self::day(&self.to),
        }
    }

    /// The filter as a query string, for the chart and the downloads.
    fn query(&self) -> String {
        let f = self.filter();
        let mut parts = vec![];
        if let Some(p) = f.programme {
            parts.push(format!("programme={}", p.as_str()));
        }
        if let Some(c) = f.community_code {
            let c: String = c
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            parts.push(format!("community={c}"));
        }
        if let Some(d) = f.from {
            parts.push(format!("from={d}"));
        }
        if let Some(d) = f.to {
            parts.push(format!("to={d}"));
        }
        parts.join("&")
    }

    /// Dates that could not be read, by field.
    fn bad_dates(&self) -> Vec<&'static str> {
        let bad = |v: &Option<String>| {
            v.as_deref().is_some_and(|d| !d.is_empty()) && Self::day(v).is_none()
        };
        let mut out = vec![];
        if bad(&self.from) {
            out.push("from");
        }
        if bad(&self.to) {
            out.push("to");
        }
        out
    }
}

/// A table's title and its rows: (group, counts by stage).
type Group = (String, Vec<(String, Vec<u64>)>);

pub struct StageRow {
    pub label: String,
    pub count: u64,
    pub of_previous: String,
    pub of_first: String,
    pub median: String,
}

#[derive(Template)]
#[template(path = "staff_dashboard.html", config = "src/web/askama.toml")]
struct DashboardPage {
    c: Chrome,
    problems: crate::web::widgets::Problems,
    scope: String,
    /// When the counts were read, local time.
    as_of: String,
    first: String,
    stages: Vec<StageRow>,
    outcomes: Vec<(String, u64)>,
    overdue: Vec<(String, u64)>,
    headers: Vec<String>,
    /// (title, rows of (group, counts by stage)): by programme, then by community.
    groups: Vec<Group>,
    programmes: Vec<Choice>,
    communities: Vec<Choice>,
    from: String,
    to: String,
    query: String,
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        "—".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

fn overdue_label(stage: &str, lang: Lang) -> String {
    let (zh, en) = match stage {
        "accepted" => ("待受理超期", "waiting to be accepted, overdue"),
        "passed_review" => ("初审超期", "in first review, overdue"),
        "appeal_answered" => ("复核答复超期", "reconsideration answers overdue"),
        other => return other.to_string(),
    };
    if lang == Lang::En { en } else { zh }.to_string()
}

async fn computed(web: &Web, p: &Principal, q: &Params) -> Result<Option<Funnel>, Response> {
    match funnel::funnel_cached(&web.state, p, &q.filter()).await {
        Ok(f) => Ok(f.map(|f| Funnel::clone(&f))),
        Err(e) => Err(refusal(web, e)),
    }
}

fn stage_rows(f: &Funnel, lang: Lang) -> Vec<StageRow> {
    let first_count = f.stages.first().map_or(0, |s| s.count);
    let mut previous = None;
    f.stages
        .iter()
        .map(|s| {
            let row = StageRow {
                label: if lang == Lang::En {
                    s.label_en
                } else {
                    s.label_zh
                }
                .into(),
                count: s.count,
                of_previous: previous.map_or("—".into(), |p| pct(s.count, p)),
                of_first: pct(s.count, first_count),
                median: s
                    .median_days
                    .map(|d| format!("{d:.1}"))
                    .unwrap_or_else(|| "—".into()),
            };
            previous = Some(s.count);
            row
        })
        .collect()
}

/// The communities the caller's reports cover (every one for the admin).
async fn community_choices(
    web: &Web,
    p: &Principal,
    selected: Option<&str>,
) -> Result<Vec<Choice>, Response> {
    let ids = crate::places::service::communities_within_cached(&web.state, &p.place_ids)
        .await
        .map_err(|e| refusal(web, e))?;
    let all = crate::places::service::list(&web.state)
        .await
        .map_err(|e| refusal(web, e))?;
    Ok(all
        .into_iter()
        .filter(|pl| {
            ids.contains(&pl.id)
                || (p.role == Role::Admin && pl.kind == crate::places::PlaceKind::Community)
        })
        .map(|pl| Choice {
            selected: Some(pl.code.as_str()) == selected,
            value: pl.code,
            label: pl.name,
        })
        .collect())
}

/// The stage counts by programme, then by community.
fn groups(f: &Funnel, lang: Lang) -> Vec<Group> {
    let t = |zh: &str, en: &str| if lang == Lang::En { en } else { zh }.to_string();
    vec![
        (
            t("按住房类别", "By programme"),
            f.by_programme
                .iter()
                .map(|g| {
                    let name = Programme::parse(&g.group)
                        .map(|p| p.label(lang).to_string())
                        .unwrap_or_else(|| g.group.clone());
                    (name, g.counts.clone())
                })
                .collect(),
        ),
        (
            t("按社区", "By community"),
            f.by_community
                .iter()
                .map(|g| (g.group.clone(), g.counts.clone()))
                .collect(),
        ),
    ]
}

/// `GET /staff/dashboard`.
#[handler]
pub async fn page(web: Web, Query(q): Query<Params>) -> Response {
    let p = match staff(&web, VIEWERS) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let lang = web.lang;
    let problems = crate::web::widgets::Problems(
        q.bad_dates()
            .into_iter()
            .map(|f| crate::web::widgets::Problem {
                path: f.into(),
                href: format!("#f-{f}"),
                message: web
                    .t("日期格式应为 2015-09-01", "Dates look like 2015-09-01")
                    .into(),
            })
            .collect(),
    );
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let f = match computed(&web, &p, &q).await {
        Ok(Some(f)) => f,
        Ok(None) => return crate::web::page::not_found(&web),
        Err(r) => return r,
    };
    let label = |zh: &'static str, en: &'static str| if lang == Lang::En { en } else { zh };
    let stages = stage_rows(&f, lang);
    let communities = match community_choices(&web, &p, q.community.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let selected = q.filter().programme;
    let page = DashboardPage {
        c: Chrome::of(&web, "统计", "Dashboard"),
        problems,
        scope: f.scope.clone(),
        as_of: crate::clock::local_time(f.as_of),
        first: f
            .stages
            .first()
            .map(|s| label(s.label_zh, s.label_en).to_string())
            .unwrap_or_default(),
        stages,
        outcomes: f
            .outcomes
            .iter()
            .map(|o| (label(o.label_zh, o.label_en).to_string(), o.count))
            .collect(),
        overdue: f
            .overdue
            .iter()
            .map(|(s, n)| (overdue_label(s, lang), *n))
            .collect(),
        headers: f
            .stages
            .iter()
            .map(|s| label(s.label_zh, s.label_en).to_string())
            .collect(),
        groups: groups(&f, lang),
        programmes: Programme::ALL
            .iter()
            .map(|pr| Choice {
                value: pr.as_str().into(),
                label: pr.label(lang).into(),
                selected: Some(*pr) == selected,
            })
            .collect(),
        communities,
        from: q.from.clone().unwrap_or_default(),
        to: q.to.clone().unwrap_or_default(),
        query: q.query(),
    };
    render_page(&web, status, &page)
}

/// `GET /staff/dashboard/funnel.{csv,xlsx,svg}`: the same figures as files.
#[handler]
pub async fn file(web: Web, Path(name): Path<String>, Query(q): Query<Params>) -> Response {
    let p = match staff(&web, VIEWERS) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let kind = match name.as_str() {
        "funnel.csv" | "funnel.xlsx" | "funnel.svg" => name.as_str(),
        _ => return crate::web::page::not_found(&web),
    };
    let f = match computed(&web, &p, &q).await {
        Ok(Some(f)) => f,
        Ok(None) => return crate::web::page::not_found(&web),
        Err(r) => return r,
    };
    let (bytes, mime, inline) = match kind {
        "funnel.csv" => (render::csv(&f), "text/csv; charset=utf-8", false),
        "funnel.xlsx" => match render::xlsx(&f) {
            Ok(b) => (
                b,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                false,
            ),
            Err(e) => {
                tracing::error!(error = %e, "the funnel workbook failed to render");
                return crate::web::page::unavailable(&web);
            }
        },
        _ => (render::svg(&f).into_bytes(), "image/svg+xml", true),
    };
    let disposition = if inline {
        "inline".to_string()
    } else {
        format!("attachment; filename=\"{kind}\"")
    };
    Response::builder()
        .content_type(mime)
        .header(header::CONTENT_DISPOSITION, disposition)
        .header(header::CACHE_CONTROL, "no-store")
        .header("x-content-type-options", "nosniff")
        .body(bytes)
}
