//! The bureau's allocation pages (配租): the housing stock with its import and one unit's
//! history and edit, the rounds with their creation form, and a round's page that walks
//! it through publication, the close of registration (the officials' secrets shown once),
//! the draw, offers in rank order and answers recorded at the choosing desk. The public
//! ranking (排序公示) is at `/rounds/{id}` for anyone. Each calls the same service as its
//! API endpoint.

use askama::Template;
use chrono::NaiveDate;
use poem::http::{StatusCode, header};
use poem::web::{Form, Multipart, Path, Query};
use poem::{Response, handler};

use super::{local, posted_by, refusal, staff};
use crate::access::Role;
use crate::allocation::offers::{self, Answer};
use crate::allocation::rounds::{self, NewRound, RoundDetail};
use crate::allocation::service::{
    self as stock, Availability, FileFormat, OfferStatus, RankingMethod, RoundStatus, UnitEdit,
};
use crate::applications::form::Programme;
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::web::labels::Label;
use crate::web::page::{Chrome, expired_form, not_found, render};
use crate::web::session::{CSRF_FIELD, Web};
use crate::web::widgets::{Problem, Problems};

const BUREAU: &[Role] = &[Role::Bureau];
/// The largest stock file taken (497 units are about 40 KB of CSV).
const MAX_STOCK_BYTES: usize = 4 * 1024 * 1024;

/// A refusal's message and every field it names, as an error summary.
fn problems(err: ApiError) -> Problems {
    let body = err.body();
    if body.fields.is_empty() {
        return Problems(vec![Problem {
            path: String::new(),
            message: body.message.clone(),
            href: "#main".into(),
        }]);
    }
    Problems(
        body.fields
            .iter()
            .map(|f| Problem {
                href: format!("#{}", crate::web::widgets::field_id(&f.field)),
                path: f.field.clone(),
                message: format!("{}：{}", f.field, f.message),
            })
            .collect(),
    )
}

fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

fn area(centi: i32) -> String {
    format!("{}.{:02}", centi / 100, centi % 100)
}

pub struct UnitRow {
    pub id: i64,
    pub project: String,
    pub building: String,
    pub unit_no: String,
    pub programme: String,
    pub area: String,
    pub rooms: i32,
    pub floor: i32,
    pub rent: String,
    pub accessible: bool,
    pub status: String,
}

fn unit_row(u: &stock::Unit, lang: Lang) -> UnitRow {
    UnitRow {
        id: u.id,
        project: u.project.clone(),
        building: u.building.clone(),
        unit_no: u.unit_no.clone(),
        programme: u.programme.label(lang).into(),
        area: area(u.area_centi),
        rooms: u.rooms,
        floor: u.floor,
        rent: yuan(u.rent_fen),
        accessible: u.accessible,
        status: u.status.label(lang).into(),
    }
}

#[derive(Template)]
#[template(path = "staff_units.html", config = "src/web/askama.toml")]
struct UnitsPage {
    c: Chrome,
    problems: Problems,
    banner: Option<String>,
    counts: Vec<(String, i64)>,
    projects: Vec<String>,
    project: String,
    rows: Vec<UnitRow>,
    total: u64,
    next: Option<u64>,
}

#[derive(serde::Deserialize, Default)]
pub struct UnitsQuery {
    project: Option<String>,
    offset: Option<u64>,
    imported: Option<usize>,
}

const PAGE: u64 = 100;

async fn units_page(web: &Web, q: &UnitsQuery, problems: Problems) -> Response {
    let p = match staff(web, BUREAU) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let project = q.project.clone().filter(|s| !s.is_empty());
    let offset = q.offset.unwrap_or(0);
    let page = match stock::list_units(&web.state, &p, project.as_deref(), None, offset, PAGE).await
    {
        Ok(page) => page,
        Err(e) => return refusal(web, e),
    };
    let lang = web.lang;
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = UnitsPage {
        c: Chrome::of(web, "房源", "Housing stock"),
        problems,
        banner: q.imported.map(|n| {
            format!(
                "{}{n}{}",
                web.t("已导入 ", "Imported "),
                web.t(" 套房源。", " units.")
            )
        }),
        counts: page
            .by_status
            .iter()
            .map(|(s, n)| (s.label(lang).to_string(), *n))
            .collect(),
        projects: page.projects,
        project: project.unwrap_or_default(),
        rows: page.units.iter().map(|u| unit_row(u, lang)).collect(),
        total: page.total,
        next: (offset + PAGE < page.total).then_some(offset + PAGE),
    };
    render(web, status, &page)
}

/// `GET /staff/units`: the stock, by project, with the import form.
#[handler]
pub async fn units(web: Web, Query(q): Query<UnitsQuery>) -> Response {
    units_page(&web, &q, Problems(vec![])).await
}

/// `POST /staff/units/import`: a CSV or XLSX file; every bad cell in the summary.
#[handler]
pub async fn import(web: Web, mut form: Multipart) -> Response {
    let (mut csrf, mut name, mut bytes, mut too_big) =
        (String::new(), String::new(), vec![], false);
    while let Ok(Some(field)) = form.next_field().await {
        let field_name = field.name().unwrap_or("").to_string();
        let file_name = field.file_name().unwrap_or("").to_string();
        let Ok(data) = field.bytes().await else {
            too_big = true;
            break;
        };
        match field_name.as_str() {
            CSRF_FIELD => csrf = String::from_utf8_lossy(&data).into_owned(),
            "file" if data.len() > MAX_STOCK_BYTES => too_big = true,
            "file" => {
                name = file_name;
                bytes = data;
            }
            _ => {}
        }
    }
    if !web.csrf_ok(Some(&csrf)) {
        return expired_form(&web);
    }
    let p = match staff(&web, BUREAU) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let q = UnitsQuery::default();
    if too_big || bytes.is_empty() {
        let text = web.t(
            "请选择不超过 4 MB 的 CSV 或 XLSX 文件",
            "Choose a CSV or XLSX file of at most 4 MB",
        );
        let p = Problem {
            path: "file".into(),
            message: text.into(),
            href: "#f-file".into(),
        };
        return units_page(&web, &q, Problems(vec![p])).await;
    }
    let format = FileFormat::guess(&name, &bytes);
    match stock::import_units(&web.state, &p, &bytes, format).await {
        Ok(ids) => web.redirect(&format!("/staff/units?imported={}", ids.len())),
        Err(e) => units_page(&web, &q, problems(e.into())).await,
    }
}

#[derive(Template)]
#[template(path = "staff_unit.html", config = "src/web/askama.toml")]
struct UnitPage {
    c: Chrome,
    problems: Problems,
    unit: UnitRow,
    version: i32,
    available: bool,
    /// (when, from, to, note, case id).
    history: Vec<(String, String, String, String, String)>,
}

async fn unit_page(web: &Web, id: i64, problems: Problems) -> Response {
    let p = match staff(web, BUREAU) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (u, history) = match stock::unit(&web.state, &p, id).await {
        Ok(x) => x,
        Err(e) => return refusal(web, e),
    };
    let lang = web.lang;
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = UnitPage {
        c: Chrome::of(web, "房源", "Unit"),
        problems,
        unit: unit_row(&u, lang),
        version: u.version,
        available: u.status != Availability::Unavailable,
        history: history
            .iter()
            .map(|h| {
                (
                    local(h.created_at),
                    h.from_status
                        .map(|s| s.label(lang).to_string())
                        .unwrap_or_default(),
                    h.to_status.label(lang).to_string(),
                    h.note.clone().unwrap_or_default(),
                    h.application_id.map(|a| a.to_string()).unwrap_or_default(),
                )
            })
            .collect(),
    };
    render(web, status, &page)
}

#[handler]
pub async fn unit_view(web: Web, Path(id): Path<i64>) -> Response {
    unit_page(&web, id, Problems(vec![])).await
}

/// `POST /staff/units/{id}`: rent (yuan), in or out of the stock, a note.
#[handler]
pub async fn unit_edit(
    web: Web,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (p, posted) = match posted_by(&web, pairs, BUREAU) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let version = posted
        .get("version")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let rent = posted.get("rent").unwrap_or("");
    let Some(rent_fen) = crate::allocation::stock::hundredths(rent) else {
        let p = Problem {
            path: "rent".into(),
            message: web
                .t(
                    "月租金须为金额（元），最多两位小数",
                    "Rent must be an amount in yuan",
                )
                .into(),
            href: "#f-rent".into(),
        };
        return unit_page(&web, id, Problems(vec![p])).await;
    };
    let edit = UnitEdit {
        rent_fen: Some(rent_fen),
        available: Some(posted.get("available") == Some("yes")),
        note: posted
            .get("note")
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string),
        ..Default::default()
    };
    match stock::edit_unit(&web.state, &p, id, version, edit).await {
        Ok(_) => web.redirect(&format!("/staff/units/{id}")),
        Err(e) => unit_page(&web, id, problems(e.into())).await,
    }
}

pub struct RoundRow {
    pub id: i64,
    pub name: String,
    pub status: String,
    pub method: String,
    pub window: String,
}

#[derive(Template)]
#[template(path = "staff_rounds.html", config = "src/web/askama.toml")]
struct RoundsPage {
    c: Chrome,
    problems: Problems,
    rows: Vec<RoundRow>,
    projects: Vec<String>,
    today: String,
    /// What was typed, when the form comes back with problems.
    name: String,
}

async fn rounds_page(web: &Web, problems: Problems, name: &str) -> Response {
    let p = match staff(web, BUREAU) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let list = match rounds::list(&web.state, &p).await {
        Ok(l) => l,
        Err(e) => return refusal(web, e),
    };
    let projects = match stock::list_units(&web.state, &p, None, None, 0, 1).await {
        Ok(page) => page.projects,
        Err(e) => return refusal(web, e),
    };
    let lang = web.lang;
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = RoundsPage {
        c: Chrome::of(web, "配租方案", "Allocation rounds"),
        problems,
        rows: list
            .iter()
            .map(|r| RoundRow {
                id: r.id,
                name: r.name.clone(),
                status: r.status.label(lang).into(),
                method: r.method.label(lang).into(),
                window: format!("{} – {}", r.intent_opens_on, r.intent_closes_on),
            })
            .collect(),
        projects,
        today: crate::clock::local_date(web.state.clock.now()).to_string(),
        name: name.into(),
    };
    render(web, status, &page)
}

#[handler]
pub async fn rounds_list(web: Web) -> Response {
    rounds_page(&web, Problems(vec![]), "").await
}

/// `POST /staff/rounds`: a new round from the form.
#[handler]
pub async fn round_create(web: Web, Form(pairs): Form<Vec<(String, String)>>) -> Response {
    let (p, posted) = match posted_by(&web, pairs, BUREAU) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let name = posted.get("name").unwrap_or("").to_string();
    let date = |k: &str| NaiveDate::parse_from_str(posted.get(k).unwrap_or(""), "%Y-%m-%d").ok();
    let mut bad = Vec::new();
    for k in ["intent_opens_on", "intent_closes_on"] {
        if date(k).is_none() {
            bad.push(Problem {
                path: k.into(),
                message: web
                    .t("请填写日期（年-月-日）", "Enter a date (year-month-day)")
                    .into(),
                href: format!("#{}", crate::web::widgets::field_id(k)),
            });
        }
    }
    let (Some(opens), Some(closes)) = (date("intent_opens_on"), date("intent_closes_on")) else {
        return rounds_page(&web, Problems(bad), &name).await;
    };
    let groups = match posted.get("groups") {
        Some("public_rental") => vec![Programme::PublicRental],
        Some("low_rent") => vec![Programme::LowRent],
        _ => vec![Programme::LowRent, Programme::PublicRental],
    };
    let new = NewRound {
        name: name.clone(),
        method: if posted.get("method") == Some("score") {
            RankingMethod::Score
        } else {
            RankingMethod::Lottery
        },
        groups,
        intent_opens_on: opens,
        intent_closes_on: closes,
        projects: posted
            .all("projects")
            .into_iter()
            .map(str::to_string)
            .collect(),
        unit_ids: vec![],
    };
    match rounds::create(&web.state, &p, new).await {
        Ok(r) => web.redirect(&format!("/staff/rounds/{}", r.id)),
        Err(e) => rounds_page(&web, problems(e.into()), &name).await,
    }
}

pub struct EntryRow {
    pub rank: String,
    pub code: String,
    pub name: String,
    pub score: String,
    pub status: String,
    pub application_id: i64,
    pub explanation: String,
}

#[derive(Template)]
#[template(path = "staff_round.html", config = "src/web/askama.toml")]
struct RoundPage {
    c: Chrome,
    problems: Problems,
    id: i64,
    name: String,
    status: String,
    method: String,
    window: String,
    step: &'static str,
    /// Shown once, after registration closed for a lottery.
    secrets: Vec<String>,
    entrants_sha256: String,
    commitments: Vec<String>,
    /// (label, figure).
    figures: Vec<(String, usize)>,
    entries: Vec<EntryRow>,
    /// The household whose turn it is: (case id, rank, code, name).
    next: Option<(i64, String, String, String)>,
    /// Units free to offer: (id, description).
    free: Vec<(i64, String)>,
    /// Open offers: (case id, code, unit).
    open: Vec<(i64, String, String)>,
}

fn step_of(s: RoundStatus) -> &'static str {
    match s {
        RoundStatus::Draft => "publish",
        RoundStatus::Registration => "close-registration",
        RoundStatus::Drawing => "draw",
        RoundStatus::Ranked => "choose",
        RoundStatus::Closed => "",
    }
}

fn figures(d: &RoundDetail, lang: Lang) -> Vec<(String, usize)> {
    let r = offers::report_of(d);
    let en = lang == Lang::En;
    let l = |zh: &str, e: &str| if en { e.to_string() } else { zh.to_string() };
    vec![
        (l("房源", "Units"), r.units),
        (l("已提供", "Offered"), r.units_offered),
        (l("已接受", "Accepted"), r.offers_accepted),
        (l("已放弃", "Declined"), r.offers_declined),
        (l("仍空置", "Still vacant"), r.units_vacant),
        (l("登记户数", "Registered"), r.registered),
        (l("审核不符合", "Failed the re-check"), r.failed_recheck),
        (l("已配租户数", "Let a unit"), r.allocated),
    ]
}

async fn round_page(web: &Web, id: i64, problems: Problems, secrets: Vec<String>) -> Response {
    let p = match staff(web, BUREAU) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let d = match rounds::detail(&web.state, &p, id).await {
        Ok(d) => d,
        Err(e) => return refusal(web, e),
    };
    let next = match offers::next_in_turn(&web.state, id).await {
        Ok(n) => n,
        Err(e) => return refusal(web, e),
    };
    let lang = web.lang;
    let code_of = |case: i64| {
        d.entries
            .iter()
            .find(|e| e.application_id == case)
            .map(|e| e.code.clone())
            .unwrap_or_default()
    };
    let unit_of = |unit: i64| {
        d.units
            .iter()
            .find(|u| u.id == unit)
            .map(stock::describe)
            .unwrap_or_default()
    };
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let r = &d.round;
    let page = RoundPage {
        c: Chrome::of(web, "配租方案", "Allocation round"),
        problems,
        id,
        name: r.name.clone(),
        status: r.status.label(lang).into(),
        method: r.method.label(lang).into(),
        window: format!("{} – {}", r.intent_opens_on, r.intent_closes_on),
        step: step_of(r.status),
        secrets,
        entrants_sha256: r.entrants_sha256.clone().unwrap_or_default(),
        commitments: rounds::commitments(r),
        figures: figures(&d, lang),
        entries: d
            .entries
            .iter()
            .map(|e| EntryRow {
                rank: e.rank.map(|r| r.to_string()).unwrap_or_default(),
                code: e.code.clone(),
                name: e.masked_name.clone(),
                score: e.score.map(|s| s.to_string()).unwrap_or_default(),
                status: e.status.label(lang).into(),
                application_id: e.application_id,
                explanation: e.explanation.clone().unwrap_or_default(),
            })
            .collect(),
        next: next.map(|e| {
            (
                e.application_id,
                e.rank.unwrap_or_default().to_string(),
                e.code,
                e.masked_name,
            )
        }),
        free: d
            .units
            .iter()
            .filter(|u| u.status == Availability::Available)
            .map(|u| (u.id, stock::describe(u)))
            .collect(),
        open: d
            .offers
            .iter()
            .filter(|o| o.status == OfferStatus::Open)
            .map(|o| {
                (
                    o.application_id,
                    code_of(o.application_id),
                    unit_of(o.unit_id),
                )
            })
            .collect(),
    };
    render(web, status, &page)
}

#[handler]
pub async fn round(web: Web, Path(id): Path<i64>) -> Response {
    round_page(&web, id, Problems(vec![]), vec![]).await
}

/// `POST /staff/rounds/{id}/{step}`: publish, close registration, draw, offer, answer
/// an offer, close.
#[handler]
pub async fn round_step(
    web: Web,
    Path((id, step)): Path<(i64, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (p, posted) = match posted_by(&web, pairs, BUREAU) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let s = &web.state;
    let num = |k: &str| {
        posted
            .get(k)
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let done: Result<Vec<String>, crate::allocation::AllocationError> = match step.as_str() {
        "publish" => rounds::publish(s, &p, id).await.map(|_| vec![]),
        "close-registration" => rounds::close_registration(s, &p, id)
            .await
            .map(|c| c.secrets),
        "renew-secrets" => rounds::renew_secrets(s, &p, id).await.map(|c| c.secrets),
        "draw" => {
            let secrets = vec![
                posted.get("secret1").unwrap_or("").to_string(),
                posted.get("secret2").unwrap_or("").to_string(),
            ];
            let value = posted.get("public_value").unwrap_or("").to_string();
            rounds::draw(s, &p, id, secrets, value)
                .await
                .map(|_| vec![])
        }
        "offer" => offers::offer(s, &p, id, num("application_id"), num("unit_id"))
            .await
            .map(|_| vec![]),
        "answer" => {
            let answer = Answer {
                accept: posted.get("answer") == Some("accept"),
                lease_starts_on: None,
            };
            offers::answer(s, &p, num("application_id"), answer)
                .await
                .map(|_| vec![])
        }
        "close" => offers::close(s, &p, id).await.map(|_| vec![]),
        _ => return not_found(&web),
    };
    match done {
        // The secrets are shown on this page only: a reload does not show them again.
        Ok(secrets) if !secrets.is_empty() => round_page(&web, id, Problems(vec![]), secrets).await,
        Ok(_) => web.redirect(&format!("/staff/rounds/{id}")),
        Err(e) => round_page(&web, id, problems(e.into()), vec![]).await,
    }
}

#[derive(serde::Deserialize, Default)]
pub struct RosterQuery {
    full: Option<String>,
    purpose: Option<String>,
}

/// `GET /staff/rounds/{id}/roster.csv` or `.xlsx`: the ranking roster, names masked
/// unless `full=yes` with a purpose (recorded).
#[handler]
pub async fn roster(
    web: Web,
    Path((id, file)): Path<(i64, String)>,
    Query(q): Query<RosterQuery>,
) -> Response {
    let p = match staff(&web, BUREAU) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let xlsx = match file.as_str() {
        "roster.xlsx" => true,
        "roster.csv" => false,
        _ => return not_found(&web),
    };
    let req = crate::allocation::roster::Request {
        xlsx,
        full: q.full.as_deref() == Some("yes"),
        purpose: q.purpose,
    };
    match crate::allocation::roster::export(&web.state, &p, id, req).await {
        Ok((bytes, name)) => Response::builder()
            .header(
                header::CONTENT_TYPE,
                if xlsx {
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                } else {
                    "text/csv; charset=utf-8"
                },
            )
            .header(
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            )
            .body(bytes),
        // A full roster without a purpose: the round page again, naming the field.
        Err(e @ crate::allocation::AllocationError::Invalid(_)) => {
            round_page(&web, id, problems(e.into()), vec![]).await
        }
        Err(e) => refusal(&web, e),
    }
}

#[derive(Template)]
#[template(path = "round_public.html", config = "src/web/askama.toml")]
struct PublicPage {
    c: Chrome,
    id: i64,
    name: String,
    status: String,
    entrants_sha256: String,
    commitments: Vec<String>,
    public_value: String,
    seed: String,
    /// (rank, code, masked name, score).
    ranking: Vec<(i32, String, String, String)>,
    /// A score round: the score column is shown.
    scored: bool,
}

/// `GET /rounds/{id}`: the public ranking (排序公示) and what the draw was made from.
#[handler]
pub async fn public(web: Web, Path(id): Path<i64>) -> Response {
    let p = match rounds::published(&web.state, id).await {
        Ok(p) => p,
        Err(e) => return refusal(&web, e),
    };
    let lang = web.lang;
    let scored = p.round.method == RankingMethod::Score;
    let page = PublicPage {
        scored,
        c: Chrome::of(&web, "配租排序公示", "Allocation ranking"),
        id,
        name: p.round.name.clone(),
        status: p.round.status.label(lang).into(),
        entrants_sha256: p.round.entrants_sha256.clone().unwrap_or_default(),
        commitments: rounds::commitments(&p.round),
        public_value: p
            .result
            .as_ref()
            .map(|r| r.public_value.clone())
            .unwrap_or_default(),
        seed: p
            .result
            .as_ref()
            .map(|r| r.seed.clone())
            .unwrap_or_default(),
        ranking: p
            .entries
            .iter()
            .map(|e| {
                (
                    e.rank.unwrap_or_default(),
                    e.code.clone(),
                    e.masked_name.clone(),
                    e.score.map(|s| s.to_string()).unwrap_or_default(),
                )
            })
            .collect(),
    };
    render(&web, StatusCode::OK, &page)
}
