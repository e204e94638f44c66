//! The public notice (公示): the masked list, paged and searchable by case number, with
//! each window's dates, and the objection form (limited as the API is: the same service).

use askama::Template;
use poem::http::StatusCode;
use poem::web::{Form, Path, Query};
use poem::{Response, handler};

use super::account::FormPage;
use super::labels::Label;
use super::page::{Chrome, expired_form, render, unavailable};
use super::session::Web;
use super::widgets::{Field, Kind, Problems};
use crate::review::ReviewError;
use crate::review::notice::{self, NewObjection, NoticeQuery};

pub struct Line {
    pub number: String,
    pub name: String,
    pub id_number: String,
    pub community: String,
    pub programme: String,
    pub household: i32,
    pub ends: String,
}

#[derive(Template)]
#[template(path = "notices.html", config = "src/web/askama.toml")]
struct NoticesPage {
    c: Chrome,
    lines: Vec<Line>,
    total: u64,
    number: String,
    next: Option<String>,
    problem: Option<String>,
}

#[derive(serde::Deserialize, Default)]
pub struct NoticeParams {
    number: Option<String>,
    cursor: Option<String>,
}

fn day(t: chrono::DateTime<chrono::Utc>) -> String {
    crate::clock::local_date(t).to_string()
}

#[handler]
pub async fn list(web: Web, Query(q): Query<NoticeParams>) -> Response {
    let number = q
        .number
        .clone()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    let query = NoticeQuery {
        community_code: None,
        number: number.clone(),
        cursor: q.cursor.clone().filter(|c| !c.is_empty()),
        limit: 20,
    };
    let lang = web.lang;
    let (page, problem) = match notice::notices(&web.state, query).await {
        Ok(p) => (Some(p), None),
        Err(ReviewError::Invalid(fields)) => {
            (None, fields.first().map(|f| f.msg.get(lang).to_string()))
        }
        Err(_) => return unavailable(&web),
    };
    let (lines, total, next) = match page {
        Some(p) => (
            p.entries
                .into_iter()
                .map(|e| Line {
                    number: e.number,
                    name: e.applicant_name_masked,
                    id_number: e.applicant_id_masked,
                    community: e.community.map(|c| c.name).unwrap_or_default(),
                    programme: e
                        .programme
                        .map(|p| p.label(lang).to_string())
                        .unwrap_or_default(),
                    household: e.household_size,
                    ends: day(e.notice_ends_at),
                })
                .collect(),
            p.total,
            p.next_cursor,
        ),
        None => (vec![], 0, None),
    };
    let page = NoticesPage {
        c: Chrome::of(&web, "公示", "Public notice"),
        lines,
        total,
        number: number.unwrap_or_default(),
        next,
        problem,
    };
    render(&web, StatusCode::OK, &page)
}

#[derive(serde::Deserialize, Default)]
pub struct ObjectionInput {
    #[serde(default)]
    name: String,
    #[serde(default)]
    contact: String,
    #[serde(default)]
    content: String,
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

fn number_ok(n: &str) -> bool {
    !n.is_empty() && n.len() <= 40 && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn objection_page(web: &Web, number: &str, input: &ObjectionInput) -> FormPage {
    let mut page = FormPage::new(
        web,
        ("对公示提出异议", "Object to a notice"),
        &format!("/notices/{number}/objection"),
        ("提交异议", "Send the objection"),
    );
    page.heading = format!("{} {number}", web.t("对公示提出异议：", "Object to notice"));
    page.intro = vec![web
        .t(
            "如您认为该家庭不符合条件，请实名提出异议并说明理由。街道会在规定时限内核查并答复；您的姓名和联系方式不会公开。",
            "If you believe this household does not qualify, say why, under your own name. The sub-district checks and answers within the set time; your name and contact are not made public.",
        )
        .into()];
    page.fields = vec![
        Field::new("name", web.t("您的姓名", "Your name"), Kind::Text)
            .value(input.name.clone())
            .autocomplete("name")
            .required(),
        Field::new("contact", web.t("联系电话", "Phone number"), Kind::Tel)
            .value(input.contact.clone())
            .hint(web.t(
                "手机或 0371 开头的固定电话",
                "A mobile, or a landline starting 0371",
            ))
            .autocomplete("tel")
            .required(),
        Field::new(
            "content",
            web.t("异议内容和理由", "What is wrong, and why"),
            Kind::TextArea,
        )
        .value(input.content.clone())
        .required(),
    ];
    page.links = vec![(
        "/notices".into(),
        web.t("返回公示", "Back to the notice").into(),
    )];
    page
}

#[handler]
pub async fn objection_form(web: Web, Path(number): Path<String>) -> Response {
    if !number_ok(&number) {
        return super::page::not_found(&web);
    }
    render(
        &web,
        StatusCode::OK,
        &objection_page(&web, &number, &ObjectionInput::default()),
    )
}

#[handler]
pub async fn objection_submit(
    web: Web,
    Path(number): Path<String>,
    Form(input): Form<ObjectionInput>,
) -> Response {
    if !web.csrf_ok(Some(&input.csrf)) {
        return expired_form(&web);
    }
    if !number_ok(&number) {
        return super::page::not_found(&web);
    }
    let client = crate::http::context::client_key();
    let new = NewObjection {
        name: input.name.clone(),
        contact: input.contact.clone(),
        content: input.content.clone(),
    };
    let problems = match notice::file_objection(&web.state, &number, new, &client).await {
        Ok(_) => {
            return super::page::message(
                &web,
                StatusCode::OK,
                ("异议已收到", "Objection received"),
                (
                    "街道将在规定时限内核查并答复您。",
                    "The sub-district will check it and answer you within the set time.",
                ),
            );
        }
        Err(ReviewError::Invalid(fields)) => {
            Problems::from_fields(&fields, web.lang, |_| String::new())
        }
        Err(ReviewError::RateLimited) => Problems::from_fields(
            &[crate::error::FieldError::new(
                "contact",
                "rate_limited",
                crate::i18n::Msg::new(
                    "提交过于频繁，请一小时后再试",
                    "Too many objections from here; try again in an hour",
                ),
            )],
            web.lang,
            |_| String::new(),
        ),
        Err(ReviewError::NotFound) => {
            return super::page::message(
                &web,
                StatusCode::NOT_FOUND,
                ("该申请不在公示期内", "This case is not on notice"),
                (
                    "公示已结束或编号有误。",
                    "Its notice has ended, or the number is wrong.",
                ),
            );
        }
        Err(_) => return unavailable(&web),
    };
    let page = objection_page(&web, &number, &input).with_problems(problems);
    render(&web, StatusCode::UNPROCESSABLE_ENTITY, &page)
}
