//! After the decision, for the household: asking for 复核 of a refusal or an exit, and
//! the annual re-verification (年审) declaration. The same service calls as the API.

use poem::http::StatusCode;
use poem::web::{Form, Path};
use poem::{Response, handler};
use serde::Deserialize;

use super::account::FormPage;
use super::page::{expired_form, message, not_found, render, unavailable};
use super::session::Web;
use super::widgets::{Field, Kind, Problems};
use crate::applications::ApplicationError;
use crate::applications::service::CaseDetail;
use crate::error::FieldError;
use crate::lifecycle::Status;
use crate::review::ReviewError;

/// The signed-in caller and their own case (404 for anyone else's), as the case page reads it.
async fn own_case(web: &Web, id: i64) -> Result<(crate::access::Principal, CaseDetail), Response> {
    let p = super::cases::signed_in(web)?;
    Ok((p, super::cases::own_case(web, id).await?))
}

/// Whether the household may ask for 复核 now (the service has the final word).
pub fn may_appeal(s: Status) -> bool {
    matches!(s, Status::Ineligible | Status::Rejected | Status::Exited)
}

fn appeal_page(web: &Web, d: &CaseDetail, reasons: &str, corrected: &str) -> FormPage {
    let id = d.case.id;
    let mut page = FormPage::new(
        web,
        ("申请复核", "Ask for reconsideration"),
        &format!("/applications/{id}/appeal"),
        ("提交复核申请", "Ask for reconsideration"),
    );
    page.intro = vec![
        web.t(
            "对不予受理、未获批准或退出的决定有异议的，可申请复核一次。请写明理由；如有申报信息需要更正，请一并说明。街道（或区民政局）将在 15 个工作日内书面答复。",
            "If you think the refusal or the exit is wrong you may ask once for it to be reconsidered. Say why, and what was wrong in what you declared if anything. The answer comes in writing within 15 working days.",
        )
        .to_string(),
    ];
    page.hidden = vec![("version".into(), d.case.version.to_string())];
    page.fields = vec![
        Field::new(
            "reasons",
            web.t("复核理由", "Why the decision is wrong"),
            Kind::TextArea,
        )
        .value(reasons)
        .required(),
        Field::new(
            "corrected_facts",
            web.t("需要更正的信息（选填）", "Facts to correct (optional)"),
            Kind::TextArea,
        )
        .hint(web.t(
            "例如：年收入应为 30,000 元",
            "For example: the annual income is 30,000 yuan",
        ))
        .value(corrected),
    ];
    page.links = vec![(
        format!("/applications/{id}"),
        web.t("返回申请详情", "Back to the application").to_string(),
    )];
    page
}

#[handler]
pub async fn appeal_form(web: Web, Path(id): Path<i64>) -> Response {
    match own_case(&web, id).await {
        Ok((_, d)) if may_appeal(d.case.status) => {
            render(&web, StatusCode::OK, &appeal_page(&web, &d, "", ""))
        }
        Ok(_) => not_possible(&web),
        Err(r) => r,
    }
}

fn not_possible(web: &Web) -> Response {
    message(
        web,
        StatusCode::CONFLICT,
        ("现在不能办理", "Not possible now"),
        (
            "该申请现在的状态不能办理此事项，请返回查看最新状态。",
            "The application is not in a state that allows this; go back and see where it stands.",
        ),
    )
}

#[derive(Deserialize, Default)]
pub struct AppealInput {
    #[serde(default)]
    version: String,
    #[serde(default)]
    reasons: String,
    #[serde(default)]
    corrected_facts: String,
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

#[handler]
pub async fn appeal(web: Web, Path(id): Path<i64>, Form(input): Form<AppealInput>) -> Response {
    if !web.csrf_ok(Some(&input.csrf)) {
        return expired_form(&web);
    }
    let (p, d) = match own_case(&web, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let again = |fields: Vec<FieldError>| {
        let page = appeal_page(&web, &d, &input.reasons, &input.corrected_facts)
            .with_problems(Problems::from_fields(&fields, web.lang, |_| String::new()));
        render(&web, StatusCode::UNPROCESSABLE_ENTITY, &page)
    };
    let reasons = input.reasons.trim();
    if reasons.is_empty() {
        return again(vec![FieldError::required("reasons")]);
    }
    let checked = crate::values::text("reasons", reasons, 2000).and_then(|r| {
        let c = input.corrected_facts.trim();
        let c = (!c.is_empty())
            .then(|| crate::values::text("corrected_facts", c, 2000))
            .transpose()?;
        Ok((r, c))
    });
    let (reasons, corrected) = match checked {
        Ok(x) => x,
        Err(e) => return again(vec![e]),
    };
    let version = input.version.parse().unwrap_or(-1);
    match crate::review::appeals::file(&web.state, &p, id, version, reasons, corrected).await {
        Ok(_) => web.redirect(&format!("/applications/{id}")),
        Err(ReviewError::Invalid(fields)) => again(fields),
        Err(ReviewError::AppealRefused(_, msg)) => message(
            &web,
            StatusCode::CONFLICT,
            ("不能申请复核", "Reconsideration cannot be asked"),
            (
                msg.get(crate::i18n::Lang::Zh),
                msg.get(crate::i18n::Lang::En),
            ),
        ),
        Err(ReviewError::Stale(_) | ReviewError::WrongStatus(_)) => not_possible(&web),
        Err(ReviewError::NotFound | ReviewError::Forbidden) => not_found(&web),
        Err(_) => unavailable(&web),
    }
}

/// Yuan as typed ("30000", "30,000.5") to fen; `None` when it is not a number.
fn fen(yuan: &str) -> Option<i64> {
    let t: String = yuan
        .trim()
        .chars()
        .filter(|c| *c != ',' && *c != '，')
        .collect();
    let v: f64 = t.parse().ok()?;
    (v.is_finite()).then(|| (v * 100.0).round() as i64)
}

fn declaration_page(web: &Web, d: &CaseDetail, typed: &[(String, String)]) -> FormPage {
    let id = d.case.id;
    let mut page = FormPage::new(
        web,
        ("年审申报", "Annual re-verification"),
        &format!("/applications/{id}/reverification"),
        ("提交年审申报", "Send the declaration"),
    );
    let due = d
        .case
        .reverify_due_on
        .map(|d| d.to_string())
        .unwrap_or_default();
    page.intro = vec![
        web.t(
            "请按家庭现在的情况申报每位成员的年收入和现住房面积，并确认属实。系统将按现行政策重新审核：符合条件的继续保障，不符合的退出（可申请复核）。",
            "Declare each member's annual income and your housing as they are now, and confirm it is true. It is re-checked under the policy in force: a household that still qualifies continues; one that does not leaves the programme (and may ask for reconsideration).",
        )
        .to_string(),
        format!("{}{due}", web.t("本次年审截止日期：", "Due by: ")),
    ];
    page.hidden = vec![("version".into(), d.case.version.to_string())];
    let value = |name: &str, stored: String| {
        typed
            .iter()
            .find(|(k, _)| k == name)
            .map_or(stored, |(_, v)| v.clone())
    };
    for (i, m) in d.form.members.iter().flatten().enumerate() {
        let name = format!("members[{i}].annual_income_fen");
        let stored = m
            .annual_income_fen
            .map(|f| format!("{:.2}", f as f64 / 100.0))
            .unwrap_or_default();
        let who = m.name.clone().unwrap_or_default();
        page.fields.push(
            Field::new(
                name.clone(),
                format!("{who} {}", web.t("年收入（元）", "annual income (yuan)")),
                Kind::Text,
            )
            .inputmode("decimal")
            .value(value(&name, stored))
            .required(),
        );
    }
    for (j, h) in d.form.housing.iter().flatten().enumerate() {
        let name = format!("housing[{j}].area_m2");
        let stored = h.area_m2.map(|a| a.to_string()).unwrap_or_default();
        let at = h.address.clone().unwrap_or_default();
        page.fields.push(
            Field::new(
                name.clone(),
                format!("{at} {}", web.t("建筑面积（平方米）", "floor area (m²)")),
                Kind::Text,
            )
            .inputmode("decimal")
            .value(value(&name, stored)),
        );
    }
    let checked = value("declaration_truthful", String::new());
    page.fields.push(
        Field::new(
            "declaration_truthful",
            web.t("我承诺以上申报属实", "I declare this is true"),
            Kind::Check,
        )
        .value(if checked.is_empty() { "" } else { "true" })
        .required(),
    );
    page.links = vec![(
        format!("/applications/{id}"),
        web.t("返回申请详情", "Back to the application").to_string(),
    )];
    page
}

#[handler]
pub async fn declaration_form(web: Web, Path(id): Path<i64>) -> Response {
    match own_case(&web, id).await {
        Ok((_, d)) if d.case.reverify_due_on.is_some() => {
            render(&web, StatusCode::OK, &declaration_page(&web, &d, &[]))
        }
        Ok(_) => not_possible(&web),
        Err(r) => r,
    }
}

#[handler]
pub async fn declare(
    web: Web,
    Path(id): Path<i64>,
    Form(input): Form<Vec<(String, String)>>,
) -> Response {
    let get = |k: &str| input.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if !web.csrf_ok(get("_csrf")) {
        return expired_form(&web);
    }
    let (p, d) = match own_case(&web, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut form = d.form.clone();
    let mut problems = Vec::new();
    for (i, m) in form.members.iter_mut().flatten().enumerate() {
        let name = format!("members[{i}].annual_income_fen");
        match get(&name).map(fen) {
            Some(Some(f)) => m.annual_income_fen = Some(f),
            _ => problems.push(FieldError::required(name)),
        }
    }
    for (j, h) in form.housing.iter_mut().flatten().enumerate() {
        let name = format!("housing[{j}].area_m2");
        match get(&name).map(str::trim) {
            Some(t) if !t.is_empty() => match t.parse::<f64>() {
                Ok(a) => h.area_m2 = Some(a),
                Err(_) => problems.push(FieldError::required(name)),
            },
            _ => {}
        }
    }
    let truthful = get("declaration_truthful").is_some_and(|v| !v.is_empty());
    if !truthful {
        problems.push(FieldError::required("declaration_truthful"));
    }
    let again = |fields: Vec<FieldError>| {
        let page = declaration_page(&web, &d, &input).with_problems(Problems::from_fields(
            &fields,
            web.lang,
            |_| String::new(),
        ));
        render(&web, StatusCode::UNPROCESSABLE_ENTITY, &page)
    };
    if !problems.is_empty() {
        return again(problems);
    }
    form.declaration_truthful = Some(true);
    let version = get("version").and_then(|v| v.parse().ok()).unwrap_or(-1);
    match crate::applications::reverification::declare(&web.state, &p, id, version, form).await {
        Ok(_) => web.redirect(&format!("/applications/{id}")),
        Err(ApplicationError::Invalid(fields)) => again(fields),
        Err(ApplicationError::Stale(_) | ApplicationError::WrongStatus(_)) => not_possible(&web),
        Err(ApplicationError::NotFound | ApplicationError::Forbidden) => not_found(&web),
        Err(_) => unavailable(&web),
    }
}
