//! The staff case page: the household as entered, the eligibility decision rule by rule,
//! warnings to confirm, duplicate flags with the other case, objections to the notice,
//! the history with staff comments, who has viewed it, and a form for every action the
//! lifecycle table allows this role now. An action that is stale (someone acted first)
//! or no longer allowed is refused with the case as it now stands; a missing comment,
//! reason or item brings the page back with an error summary naming each field.

use askama::Template;
use poem::http::StatusCode;
use poem::web::{Form, Path, Query};
use poem::{Response, handler};

use super::{DESK, local, posted_by, reason_choices, refusal, staff};
use crate::access::Principal;
use crate::applications::service::{self, CaseDetail};
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::lifecycle::case_table::{self, TABLE};
use crate::lifecycle::{Action, Status};
use crate::review::actions::{self, ActionInput};
use crate::web::apply::{Posted, Section, sections};
use crate::web::labels::Label;
use crate::web::page::{Chrome, render};
use crate::web::session::Web;
use crate::web::start::RuleLine;
use crate::web::widgets::{Choice, Problem, Problems};

/// Actions with a section of their own on the page (warnings, duplicates, objections),
/// and the bureau's decisions, which are taken on the batch page.
const ELSEWHERE: &[Action] = &[
    Action::ConfirmWarnings,
    Action::ResolveDuplicate,
    Action::UpholdObjection,
    Action::DismissObjection,
    Action::Approve,
    Action::Return,
    Action::BureauReject,
];

/// One action form.
pub struct ActionForm {
    pub action: String,
    pub label: String,
    pub comment_required: bool,
    pub reason: bool,
    pub items: bool,
    pub assignee: bool,
    pub danger: bool,
}

pub struct Event {
    pub when: String,
    pub what: String,
    pub who: String,
    pub reason: String,
    pub comment: String,
}

pub struct Flag {
    pub id: i64,
    pub other_id: i64,
    pub other_number: String,
    pub member: i32,
    pub other_member: i32,
    pub resolution: String,
    pub note: String,
}

pub struct ObjectionRow {
    pub id: i64,
    pub filed: String,
    pub content: String,
    pub status: String,
    pub open: bool,
    pub note: String,
}

#[derive(Template)]
#[template(path = "staff_case.html", config = "src/web/askama.toml")]
struct CasePage {
    c: Chrome,
    problems: Problems,
    banner: Option<(bool, String)>,
    id: i64,
    number: String,
    version: i32,
    status: String,
    programme: String,
    community: String,
    submitted: String,
    assigned: String,
    notice_ends: String,
    appeal_due: String,
    waitlist: Option<i64>,
    eligible: Option<bool>,
    policy_version: String,
    lines: Vec<RuleLine>,
    warnings: Vec<(String, String)>,
    may_confirm: bool,
    flags: Vec<Flag>,
    may_resolve: bool,
    objections: Vec<ObjectionRow>,
    may_decide_objection: bool,
    forms: Vec<ActionForm>,
    reasons: Vec<Choice>,
    reviewers: Vec<(i64, String)>,
    history: Vec<Event>,
    viewed: Vec<(String, String, String)>,
    sections: Vec<Section>,
    batch_hint: bool,
}

fn action_label(a: Action, lang: Lang) -> &'static str {
    let (zh, en) = match a {
        Action::Accept => ("受理", "Accept"),
        Action::Claim => ("接手", "Claim"),
        Action::Assign => ("分派", "Assign"),
        Action::RequestCorrection => ("一次性告知补正", "Ask for corrections"),
        Action::PassReview => ("通过初审，开始公示", "Pass first review"),
        Action::Reject => ("驳回", "Reject"),
        Action::Reconfirm => ("重新确认，待再次上报", "Reconfirm for reporting"),
        Action::UpholdAppeal => ("复核维持原决定", "Uphold the refusal"),
        Action::OverturnAppeal => ("复核撤销原决定", "Set the refusal aside"),
        Action::ExitForCause => ("记录退出", "Record an exit"),
        other => return other.label(lang),
    };
    if lang == Lang::En { en } else { zh }
}

/// The forms for every action this role may take from the case's status now.
fn forms_for(status: Status, p: &Principal, lang: Lang) -> Vec<ActionForm> {
    TABLE
        .iter()
        .filter(|t| {
            !t.system
                && t.from.contains(&status)
                && t.roles.contains(&p.role)
                && !ELSEWHERE.contains(&t.action)
        })
        .map(|t| ActionForm {
            action: t.action.as_str().into(),
            label: action_label(t.action, lang).into(),
            comment_required: t.comment_required,
            reason: t.reason_required,
            items: t.action == Action::RequestCorrection,
            assignee: t.action == Action::Assign,
            danger: t.target(status) != status
                && matches!(
                    t.target(status),
                    Status::Rejected | Status::Ineligible | Status::Exited
                ),
        })
        .collect()
}

fn events_of(d: &CaseDetail, lang: Lang) -> Vec<Event> {
    d.events
        .iter()
        .map(|e| Event {
            when: local(e.created_at),
            what: e.action.label(lang).into(),
            who: e
                .actor_id
                .map(|a| format!("#{a}"))
                .unwrap_or_else(|| if lang == Lang::En { "system" } else { "系统" }.into()),
            reason: crate::web::cases::reason_text(&e.reason_code, lang),
            comment: e.comment.clone().unwrap_or_default(),
        })
        .collect()
}

/// Everything the page shows beyond the case itself.
struct Extra {
    viewed: Vec<(String, String, String)>,
    objections: Vec<ObjectionRow>,
    /// For a supervisor: the reviewers covering the case's community.
    reviewers: Vec<(i64, String)>,
}

async fn extra(web: &Web, p: &Principal, d: &CaseDetail) -> Result<Extra, ApiError> {
    let lang = web.lang;
    let id = d.case.id;
    let reviewers = match d.case.community_id {
        Some(c) if case_table::transition(d.case.status, Action::Assign, p.role).is_ok() => {
            crate::auth::service::reviewers_covering(&web.state.db, c).await?
        }
        _ => vec![],
    };
    let (_, access) = crate::review::notice::audit(&web.state, p, id).await?;
    let objections = crate::review::notice::objections_of(&web.state, p, id)
        .await?
        .into_iter()
        .map(|o| {
            let open = o.status.as_str() == "open";
            ObjectionRow {
                id: o.id,
                filed: local(o.filed_at),
                content: o.content,
                status: match (o.status.as_str(), lang) {
                    ("open", Lang::En) => "open".into(),
                    ("open", _) => "待处理".into(),
                    ("upheld", Lang::En) => "upheld".into(),
                    ("upheld", _) => "成立".into(),
                    (_, Lang::En) => "dismissed".into(),
                    _ => "不成立".into(),
                },
                open,
                note: o.note.unwrap_or_default(),
            }
        })
        .collect();
    let viewed = access
        .into_iter()
        .rev()
        .take(50)
        .map(|a| (local(a.at), format!("#{}", a.user_id), a.what))
        .collect();
    Ok(Extra {
        viewed,
        objections,
        reviewers,
    })
}

fn page_of(
    web: &Web,
    p: &Principal,
    d: CaseDetail,
    x: Extra,
    banner: Option<(bool, String)>,
    problems: Problems,
) -> CasePage {
    let lang = web.lang;
    let status = d.case.status;
    let community = d.community.as_ref().map(|c| c.name.clone());
    let (eligible, policy_version, lines) = crate::web::cases::decision_of(&d, lang);
    let may = |a: Action| case_table::transition(status, a, p.role).is_ok();
    CasePage {
        c: Chrome::of(web, "案件办理", "Case"),
        problems,
        banner,
        id: d.case.id,
        number: d.case.number.clone().unwrap_or_default(),
        version: d.case.version,
        status: status.label(lang).into(),
        programme: d
            .form
            .programme
            .map(|p| p.label(lang).to_string())
            .unwrap_or_default(),
        community: community.clone().unwrap_or_default(),
        submitted: d.case.submitted_at.map(local).unwrap_or_default(),
        assigned: match d.case.assigned_to {
            Some(a) if a == p.user_id => web.t("我", "me").into(),
            Some(a) => format!("#{a}"),
            None => "—".into(),
        },
        notice_ends: d.case.notice_ends_at.map(local).unwrap_or_default(),
        appeal_due: d
            .case
            .appeal_due_on
            .map(|d| d.to_string())
            .unwrap_or_default(),
        waitlist: d.case.waitlist_number,
        eligible,
        policy_version,
        lines,
        warnings: d
            .warnings
            .iter()
            .map(|w| {
                let text = if lang == Lang::En { &w.en } else { &w.zh };
                let state = match w.resolution.as_deref() {
                    Some("confirmed") => web.t("已核实", "confirmed"),
                    Some("overruled") => web.t("已否定", "overruled"),
                    _ => web.t("待核实", "to confirm"),
                };
                (text.clone(), state.to_string())
            })
            .collect(),
        may_confirm: d.case.warnings_open > 0 && may(Action::ConfirmWarnings),
        flags: d
            .duplicates
            .iter()
            .map(|(f, other)| Flag {
                id: f.id,
                other_id: f.other_application_id,
                other_number: other
                    .clone()
                    .unwrap_or_else(|| format!("#{}", f.other_application_id)),
                member: f.member_index + 1,
                other_member: f.other_member_index + 1,
                resolution: match f.resolution.as_deref() {
                    Some("duplicate") => web.t("确认重复", "duplicate").into(),
                    Some(_) => web.t("不是重复", "not a duplicate").into(),
                    None => String::new(),
                },
                note: f.note.clone().unwrap_or_default(),
            })
            .collect(),
        may_resolve: may(Action::ResolveDuplicate),
        may_decide_objection: may(Action::DismissObjection),
        objections: x.objections,
        forms: forms_for(status, p, lang),
        reasons: reason_choices(lang, ""),
        reviewers: x.reviewers,
        history: events_of(&d, lang),
        viewed: x.viewed,
        sections: sections(d.case.id, &d.form, community.as_deref(), lang),
        batch_hint: status == Status::Reported && p.role == crate::access::Role::Bureau,
    }
}

/// The page for `id` as it stands now, with an optional banner and problems.
async fn show(
    web: &Web,
    p: &Principal,
    id: i64,
    status: StatusCode,
    banner: Option<(bool, String)>,
    problems: Problems,
) -> Response {
    let d = match service::get(&web.state, p, id).await {
        Ok(d) => d,
        Err(e) => return refusal(web, e),
    };
    let x = match extra(web, p, &d).await {
        Ok(x) => x,
        Err(e) => return refusal(web, e),
    };
    render(web, status, &page_of(web, p, d, x, banner, problems))
}

#[derive(serde::Deserialize, Default)]
pub struct Done {
    done: Option<String>,
}

/// `GET /staff/cases/{id}`.
#[handler]
pub async fn detail(web: Web, Path(id): Path<i64>, Query(q): Query<Done>) -> Response {
    let p = match staff(&web, DESK) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let banner = q.done.as_deref().and_then(Action::parse).map(|a| {
        (
            true,
            format!(
                "{}{}",
                web.t("已完成：", "Done: "),
                action_label(a, web.lang)
            ),
        )
    });
    show(&web, &p, id, StatusCode::OK, banner, Problems::default()).await
}

fn input_of(posted: &Posted) -> ActionInput {
    ActionInput {
        version: posted
            .get("version")
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1),
        comment: posted.text("comment"),
        reason_code: posted.text("reason_code"),
        items: posted
            .get("items")
            .unwrap_or("")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        assignee_id: posted
            .get("assignee_id")
            .and_then(|v| v.trim().parse().ok()),
        warning_codes: vec![],
        resolution: posted.text("resolution"),
        flag_id: posted.get("flag_id").and_then(|v| v.parse().ok()),
        objection_id: posted.get("objection_id").and_then(|v| v.parse().ok()),
    }
}

/// Takes `action` on the case and answers with the page: after success a redirect to
/// it (so reloading does not act twice), otherwise the case as it is now with why.
async fn take(web: &Web, p: Principal, id: i64, action: Action, posted: &Posted) -> Response {
    let done = actions::act(&web.state, &p, id, action, input_of(posted)).await;
    let err = match done {
        Ok(_) => {
            let back = posted.get("back").filter(|b| b.starts_with("/staff"));
            return match back {
                Some(b) => web.redirect(super::super::local_path(Some(b))),
                None => web.redirect(&format!("/staff/cases/{id}?done={}", action.as_str())),
            };
        }
        Err(e) => ApiError::from(e),
    };
    match err.status() {
        StatusCode::UNPROCESSABLE_ENTITY => {
            let form = action.as_str();
            let problems = Problems(
                err.body()
                    .fields
                    .iter()
                    .map(|f| Problem {
                        href: format!("#{form}-{}", f.field.replace('.', "-")),
                        path: f.field.clone(),
                        message: format!("{}：{}", field_label(&f.field, web), f.message),
                    })
                    .collect(),
            );
            show(web, &p, id, err.status(), None, problems).await
        }
        StatusCode::CONFLICT | StatusCode::FORBIDDEN => {
            let text = format!(
                "{}{}",
                web.t(
                    "未能执行，案件未作任何改动。",
                    "Not done; nothing was changed. "
                ),
                super::explain(&err)
            );
            show(
                web,
                &p,
                id,
                err.status(),
                Some((false, text)),
                Problems::default(),
            )
            .await
        }
        _ => refusal(web, err),
    }
}

fn field_label(field: &str, web: &Web) -> String {
    match field {
        "comment" => web.t("意见", "Opinion"),
        "reason_code" => web.t("原因", "Reason"),
        "items" => web.t("补正事项", "Items to correct"),
        "assignee_id" => web.t("审核人员", "Reviewer"),
        "resolution" => web.t("结论", "Conclusion"),
        other => other,
    }
    .to_string()
}

/// `POST /staff/cases/{id}/act`: the action named in the form.
#[handler]
pub async fn act(
    web: Web,
    Path(id): Path<i64>,
    Form(posted): Form<Vec<(String, String)>>,
) -> Response {
    let (p, posted) = match posted_by(&web, posted, DESK) {
        Ok(x) => x,
        Err(r) => return r,
    };
    match posted.get("action").and_then(Action::parse) {
        Some(action) => take(&web, p, id, action, &posted).await,
        None => refusal(
            &web,
            ApiError::validation(vec![crate::error::FieldError::required("action")]),
        ),
    }
}

/// `POST /staff/cases/{id}/claim`: from the queue, back to the queue.
#[handler]
pub async fn claim(
    web: Web,
    Path(id): Path<i64>,
    Form(posted): Form<Vec<(String, String)>>,
) -> Response {
    let (p, posted) = match posted_by(&web, posted, DESK) {
        Ok(x) => x,
        Err(r) => return r,
    };
    take(&web, p, id, Action::Claim, &posted).await
}

#[derive(Template)]
#[template(path = "staff_compare.html", config = "src/web/askama.toml")]
struct ComparePage {
    c: Chrome,
    /// (case id, number, status, sections) for each side.
    sides: Vec<(i64, String, String, Vec<Section>)>,
}

/// `GET /staff/cases/{id}/compare/{other}`: two cases side by side (a duplicate flag's
/// pair); both must be in the caller's scope, or the page is not found.
#[handler]
pub async fn compare(web: Web, Path((id, other)): Path<(i64, i64)>) -> Response {
    let p = match staff(&web, DESK) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let lang = web.lang;
    let mut sides = Vec::with_capacity(2);
    for case in [id, other] {
        let d = match service::get(&web.state, &p, case).await {
            Ok(d) => d,
            Err(e) => return refusal(&web, e),
        };
        let community = d.community.as_ref().map(|c| c.name.clone());
        sides.push((
            d.case.id,
            d.case.number.clone().unwrap_or_default(),
            d.case.status.label(lang).to_string(),
            sections(d.case.id, &d.form, community.as_deref(), lang),
        ));
    }
    let page = ComparePage {
        c: Chrome::of(&web, "并排比较", "Side by side"),
        sides,
    };
    render(&web, StatusCode::OK, &page)
}
