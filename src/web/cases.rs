//! "My applications": the list, each case's status and history from the event log, the
//! eligibility decision rule by rule, what to correct, withdrawal with a confirmation,
//! the waiting-list number, and the printable receipt (受理回执).

use askama::Template;
use poem::http::StatusCode;
use poem::web::{Form, Path};
use poem::{Response, handler};

use super::labels::Label;
use super::page::{Chrome, expired_form, not_found, render, unavailable};
use super::session::Web;
use super::staff::local;
use super::start::{RuleLine, lines_of};
use crate::allocation::service::{OfferStatus, describe};
use crate::allocation::{offers, rounds};
use crate::applications::ApplicationError;
use crate::applications::service::{self, CaseDetail};
use crate::i18n::Lang;
use crate::lifecycle::case_table::next_step;
use crate::lifecycle::{Action, Status};

pub struct Row {
    pub id: i64,
    pub number: String,
    pub programme: String,
    pub status: String,
    pub updated: String,
    pub draft: bool,
}

#[derive(Template)]
#[template(path = "cases.html", config = "src/web/askama.toml")]
struct ListPage {
    c: Chrome,
    rows: Vec<Row>,
}

pub(super) fn signed_in(web: &Web) -> Result<crate::access::Principal, Response> {
    match &web.principal {
        Some(p) => Ok(p.clone()),
        None => Err(web.redirect(&format!("/login?next={}", web.path))),
    }
}

fn answer_for(web: &Web, e: ApplicationError) -> Response {
    match e {
        ApplicationError::NotFound | ApplicationError::Forbidden => not_found(web),
        _ => unavailable(web),
    }
}

/// Staff work from the desk: their "applications" are the queue. The admin, who works
/// no cases, lands on the dashboard.
fn staff_home(web: &Web, to: &str) -> Option<Response> {
    match web.principal.as_ref().map(|p| p.role) {
        Some(crate::access::Role::Admin) => Some(web.redirect("/staff/dashboard")),
        Some(r) if crate::access::scope_kind(r).is_some() => Some(web.redirect(to)),
        _ => None,
    }
}

#[handler]
pub async fn list(web: Web) -> Response {
    let p = match signed_in(&web) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Some(r) = staff_home(&web, "/staff") {
        return r;
    }
    let lang = web.lang;
    match service::list(&web.state, &p, None, 100).await {
        Ok(items) => {
            let rows = items
                .into_iter()
                .map(|s| Row {
                    id: s.case.id,
                    number: s.case.number.clone().unwrap_or_default(),
                    programme: s
                        .form
                        .programme
                        .map(|p| p.label(lang).to_string())
                        .unwrap_or_default(),
                    status: s.case.status.label(lang).into(),
                    updated: local(s.case.updated_at),
                    draft: matches!(s.case.status, Status::Draft),
                })
                .collect();
            render(
                &web,
                StatusCode::OK,
                &ListPage {
                    c: Chrome::of(&web, "我的申请", "My applications"),
                    rows,
                },
            )
        }
        Err(e) => answer_for(&web, e),
    }
}

pub struct Entry {
    pub when: String,
    pub what: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "case.html", config = "src/web/askama.toml")]
struct CasePage {
    c: Chrome,
    id: i64,
    number: String,
    status: String,
    next: String,
    community: String,
    programme: String,
    submitted: String,
    waitlist: Option<i64>,
    editable: bool,
    correction: Vec<String>,
    withdrawable: bool,
    /// May ask for 复核 now.
    appealable: bool,
    /// While a 复核 is open: the day its answer is due.
    appeal_due: String,
    /// While waitlisted or housed: the day the next 年审 is due.
    reverify_due: String,
    eligible: Option<bool>,
    policy_version: String,
    lines: Vec<RuleLine>,
    history: Vec<Entry>,
    /// Unusual values a reviewer will confirm (they did not block submission).
    warnings: Vec<String>,
    sections: Vec<super::apply::Section>,
    /// Allocation rounds the household may register in now.
    rounds: Vec<RoundChoice>,
    /// The unit offered and waiting for an answer.
    offer: Option<String>,
    /// The unit let to the household.
    lease: String,
}

pub struct RoundChoice {
    pub id: i64,
    pub name: String,
    pub until: String,
    pub registered: bool,
}

/// A stored reason code's text, or nothing.
pub(super) fn reason_text(code: &Option<String>, lang: Lang) -> String {
    code.as_deref()
        .and_then(crate::lifecycle::reasons::label)
        .map(|m| m.get(lang).to_string())
        .unwrap_or_default()
}

/// The latest eligibility decision: eligible or not, its policy version, rule by rule.
pub(super) fn decision_of(d: &CaseDetail, lang: Lang) -> (Option<bool>, String, Vec<RuleLine>) {
    match &d.decision {
        Some(dec) => (
            Some(dec.eligible),
            dec.policy_version.clone(),
            lines_of(dec, lang),
        ),
        None => (None, String::new(), vec![]),
    }
}

fn case_page(web: &Web, d: CaseDetail) -> CasePage {
    let lang = web.lang;
    let status = d.case.status;
    let correction = if status == Status::NeedsCorrection {
        d.events
            .iter()
            .rev()
            .find(|e| e.action == Action::RequestCorrection)
            .and_then(|e| e.comment.clone())
            .map(|c| c.lines().map(str::to_string).collect())
            .unwrap_or_default()
    } else {
        vec![]
    };
    let history = d
        .events
        .iter()
        .map(|e| Entry {
            when: local(e.created_at),
            what: e.action.label(lang).into(),
            // Staff comments are for the file; the applicant sees reasons and, for a
            // correction request, the items (shown above the history).
            note: reason_text(&e.reason_code, lang),
        })
        .collect();
    let (eligible, policy_version, lines) = decision_of(&d, lang);
    let community = d.community.as_ref().map(|c| c.name.clone());
    CasePage {
        c: Chrome::of(web, "申请详情", "Your application"),
        id: d.case.id,
        number: d.case.number.clone().unwrap_or_default(),
        status: status.label(lang).into(),
        next: next_step(status).get(lang).into(),
        community: community.clone().unwrap_or_default(),
        programme: d
            .form
            .programme
            .map(|p| p.label(lang).to_string())
            .unwrap_or_default(),
        submitted: d.case.submitted_at.map(local).unwrap_or_default(),
        waitlist: d.case.waitlist_number,
        editable: matches!(status, Status::Draft | Status::NeedsCorrection),
        correction,
        withdrawable: !matches!(
            status,
            Status::Draft
                | Status::Withdrawn
                | Status::Rejected
                | Status::Ineligible
                | Status::Allocated
                | Status::Exited
        ),
        appealable: super::after::may_appeal(status),
        appeal_due: d
            .case
            .appeal_due_on
            .map(|d| d.to_string())
            .unwrap_or_default(),
        reverify_due: d
            .case
            .reverify_due_on
            .map(|d| d.to_string())
            .unwrap_or_default(),
        eligible,
        policy_version,
        lines,
        history,
        warnings: d
            .warnings
            .iter()
            .map(|w| {
                if lang == Lang::En {
                    w.en.clone()
                } else {
                    w.zh.clone()
                }
            })
            .collect(),
        sections: super::apply::sections(d.case.id, &d.form, community.as_deref(), lang),
        rounds: vec![],
        offer: None,
        lease: String::new(),
    }
}

/// The case page with what the household can do in allocation rounds.
async fn with_allocation(web: &Web, mut page: CasePage) -> CasePage {
    let Ok(p) = signed_in(web) else {
        return page;
    };
    let Ok(a) = offers::for_case(&web.state, &p, page.id).await else {
        return page;
    };
    page.rounds = a
        .open_rounds
        .iter()
        .map(|(r, registered)| RoundChoice {
            id: r.id,
            name: r.name.clone(),
            until: r.intent_closes_on.to_string(),
            registered: *registered,
        })
        .collect();
    for (o, u) in &a.offers {
        match o.status {
            OfferStatus::Open => page.offer = Some(describe(u)),
            OfferStatus::Accepted => {
                page.lease = format!(
                    "{}{}",
                    describe(u),
                    o.lease_starts_on
                        .map(|d| format!("（{d}）"))
                        .unwrap_or_default()
                )
            }
            _ => {}
        }
    }
    page
}

#[derive(serde::Deserialize, Default)]
pub struct IntentInput {
    #[serde(default)]
    round_id: String,
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

/// Registers the household's intent in a round, from its case page.
#[handler]
pub async fn register_intent(
    web: Web,
    Path(id): Path<i64>,
    Form(input): Form<IntentInput>,
) -> Response {
    if !web.csrf_ok(Some(&input.csrf)) {
        return expired_form(&web);
    }
    let p = match signed_in(&web) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Ok(round) = input.round_id.parse::<i64>() else {
        return not_found(&web);
    };
    match rounds::register(&web.state, &p, id, round).await {
        Ok(_) => web.redirect(&format!("/applications/{id}")),
        Err(e) => super::staff::refusal(&web, e),
    }
}

#[derive(serde::Deserialize, Default)]
pub struct OfferInput {
    #[serde(default)]
    answer: String,
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

/// Accepts or declines the unit offered, from the case page.
#[handler]
pub async fn answer_offer(
    web: Web,
    Path(id): Path<i64>,
    Form(input): Form<OfferInput>,
) -> Response {
    if !web.csrf_ok(Some(&input.csrf)) {
        return expired_form(&web);
    }
    let p = match signed_in(&web) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let accept = match input.answer.as_str() {
        "accept" => true,
        "decline" => false,
        _ => return not_found(&web),
    };
    let answer = offers::Answer {
        accept,
        lease_starts_on: None,
    };
    match offers::answer(&web.state, &p, id, answer).await {
        Ok(_) => web.redirect(&format!("/applications/{id}")),
        Err(e) => super::staff::refusal(&web, e),
    }
}

pub(super) async fn own_case(web: &Web, id: i64) -> Result<CaseDetail, Response> {
    let p = signed_in(web)?;
    service::get(&web.state, &p, id)
        .await
        .map_err(|e| answer_for(web, e))
}

#[handler]
pub async fn detail(web: Web, Path(id): Path<i64>) -> Response {
    if let Some(r) = staff_home(&web, &format!("/staff/cases/{id}")) {
        return r;
    }
    match own_case(&web, id).await {
        Ok(d) => {
            let page = with_allocation(&web, case_page(&web, d)).await;
            render(&web, StatusCode::OK, &page)
        }
        Err(r) => r,
    }
}

#[derive(Template)]
#[template(path = "receipt.html", config = "src/web/askama.toml")]
struct ReceiptPage {
    c: Chrome,
    id: i64,
    number: String,
    submitted: String,
    community: String,
    programme: String,
    applicant: String,
    status: String,
    next: String,
    /// (stage, by when).
    deadlines: Vec<(String, String)>,
}

#[handler]
pub async fn receipt(web: Web, Path(id): Path<i64>) -> Response {
    let d = match own_case(&web, id).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let Some(submitted_at) = d.case.submitted_at else {
        return web.redirect(&format!("/applications/{id}"));
    };
    let lang = web.lang;
    let day = crate::clock::local_date(submitted_at);
    let policy = match d.form.programme {
        Some(p) => crate::eligibility::service::policy_in_force_cached(&web.state, p, day)
            .await
            .ok()
            .flatten(),
        None => None,
    };
    let by = |days: i32| (day + chrono::Duration::days(i64::from(days))).to_string();
    let deadlines = policy
        .map(|p| {
            let d = &p.deadlines;
            let t = |zh: &str, en: &str| {
                if lang == Lang::En {
                    en.to_string()
                } else {
                    zh.to_string()
                }
            };
            vec![
                (
                    t("社区受理", "Accepted by the community"),
                    by(d.acceptance_days),
                ),
                (
                    t("街道初审完成", "First review finished"),
                    by(d.acceptance_days + d.first_review_days),
                ),
                (
                    t(
                        "公示结束（如通过初审）",
                        "Public notice ends (if it passes)",
                    ),
                    by(d.acceptance_days + d.first_review_days + d.notice_days),
                ),
            ]
        })
        .unwrap_or_default();
    let page = ReceiptPage {
        c: Chrome::of(&web, "受理回执", "Receipt"),
        id,
        number: d.case.number.clone().unwrap_or_default(),
        submitted: local(submitted_at),
        community: d
            .community
            .as_ref()
            .map(|c| c.name.clone())
            .unwrap_or_default(),
        programme: d
            .form
            .programme
            .map(|p| p.label(lang).to_string())
            .unwrap_or_default(),
        applicant: d.form.applicant_masked().0.unwrap_or_default(),
        status: d.case.status.label(lang).into(),
        next: next_step(d.case.status).get(lang).into(),
        deadlines,
    };
    render(&web, StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "withdraw.html", config = "src/web/askama.toml")]
struct WithdrawPage {
    c: Chrome,
    id: i64,
    number: String,
    version: i32,
}

#[handler]
pub async fn withdraw_form(web: Web, Path(id): Path<i64>) -> Response {
    match own_case(&web, id).await {
        Ok(d) => render(
            &web,
            StatusCode::OK,
            &WithdrawPage {
                c: Chrome::of(&web, "撤回申请", "Withdraw the application"),
                id,
                number: d.case.number.clone().unwrap_or_default(),
                version: d.case.version,
            },
        ),
        Err(r) => r,
    }
}

#[derive(serde::Deserialize, Default)]
pub struct WithdrawInput {
    #[serde(default)]
    version: String,
    #[serde(default)]
    reason: String,
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

#[handler]
pub async fn withdraw(web: Web, Path(id): Path<i64>, Form(input): Form<WithdrawInput>) -> Response {
    if !web.csrf_ok(Some(&input.csrf)) {
        return expired_form(&web);
    }
    let p = match signed_in(&web) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let version = input.version.parse().ok();
    let reason = Some(input.reason.clone()).filter(|r| !r.trim().is_empty());
    match service::withdraw(&web.state, &p, id, version, reason).await {
        Ok(_) => web.redirect(&format!("/applications/{id}")),
        Err(ApplicationError::Stale(_) | ApplicationError::WrongStatus(_)) => super::page::message(
            &web,
            StatusCode::CONFLICT,
            ("未能撤回", "Could not withdraw"),
            (
                "该申请刚刚有了变化，请返回查看最新状态后再决定。",
                "The application has just changed; go back, see where it stands, and decide again.",
            ),
        ),
        Err(e) => answer_for(&web, e),
    }
}
