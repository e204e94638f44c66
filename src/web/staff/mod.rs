//! The staff pages: a reviewer's desk (the work queue, the case page with its actions,
//! bulk actions), the supervisor's notices and batches, the bureau's inbox, and the
//! dashboard. Same foundation as the applicant pages: server-rendered, cookie session
//! with CSRF, zh/en, no script needed. Every page calls the same services as the API,
//! so roles and scopes are enforced there: a case outside the caller's communities
//! answers 404 exactly as `GET /api/v1/applications/{id}` does, and a role the page is
//! not for answers 403.

pub mod admin;
pub mod allocation;
pub mod batches;
pub mod case;
pub mod dashboard;
pub mod desk;

use poem::Response;
use poem::http::StatusCode;

use super::page::{message, not_found, unavailable};
use super::session::Web;
use crate::access::{Principal, Role};
use crate::error::ApiError;

/// Who may use a staff page.
pub const DESK: &[Role] = &[Role::Reviewer, Role::Supervisor, Role::Bureau];

/// The signed-in staff member, if their role is one of `roles`: otherwise a redirect to
/// sign in, or 403 naming what the page is for.
pub fn staff(web: &Web, roles: &[Role]) -> Result<Principal, Response> {
    match &web.principal {
        None => Err(web.redirect(&format!("/login?next={}", web.path))),
        Some(p) if p.is(roles) => Ok(p.clone()),
        Some(_) => Err(message(
            web,
            StatusCode::FORBIDDEN,
            ("此页面供工作人员使用", "This page is for staff"),
            (
                "您的账号没有使用此页面的权限。",
                "Your account may not use this page.",
            ),
        )),
    }
}

/// Checks a posted form's token first, then the caller's role: the caller and the form.
pub fn posted_by(
    web: &Web,
    pairs: Vec<(String, String)>,
    roles: &[Role],
) -> Result<(Principal, crate::web::apply::Posted), Response> {
    let posted = crate::web::apply::Posted::new(pairs);
    if !web.csrf_ok(posted.get(crate::web::session::CSRF_FIELD)) {
        return Err(crate::web::page::expired_form(web));
    }
    Ok((staff(web, roles)?, posted))
}

/// A refusal from a service as a page: 404 as the API's 404, 503 when the database is
/// unavailable, otherwise the API's own explanation in the page's language.
pub fn refusal(web: &Web, err: impl Into<ApiError>) -> Response {
    let err = err.into();
    match err.status() {
        StatusCode::NOT_FOUND => not_found(web),
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::INTERNAL_SERVER_ERROR => unavailable(web),
        status => {
            let text = explain(&err);
            message(
                web,
                status,
                ("未能完成操作", "That could not be done"),
                (&text, &text),
            )
        }
    }
}

/// An error's message with every field it names.
pub fn explain(err: &ApiError) -> String {
    let body = err.body();
    let mut text = body.message.clone();
    for f in &body.fields {
        text.push_str(&format!("；{}：{}", f.field, f.message));
    }
    text
}

/// A moment as a local (UTC+8) date and time.
pub fn local(t: chrono::DateTime<chrono::Utc>) -> String {
    let offset = chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    t.with_timezone(&offset)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// The reason codes as choices for a select.
pub fn reason_choices(lang: crate::i18n::Lang, selected: &str) -> Vec<super::widgets::Choice> {
    crate::lifecycle::reasons::REASON_CODES
        .iter()
        .map(|(code, zh, en)| super::widgets::Choice {
            value: (*code).into(),
            label: if lang == crate::i18n::Lang::En {
                (*en).into()
            } else {
                (*zh).into()
            },
            selected: *code == selected,
        })
        .collect()
}
