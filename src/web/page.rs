//! What every page shares: the chrome (language, the CSRF token, who is signed in) and
//! rendering a template into an answer.

use askama::Template;
use poem::Response;
use poem::http::StatusCode;

use super::session::Web;
use crate::i18n::Lang;

/// The frame around every page.
pub struct Chrome {
    pub lang: Lang,
    pub csrf: String,
    pub signed_in: bool,
    /// The signed-in account's role when it is staff (reviewer, supervisor, bureau):
    /// the menu shows the desk instead of "my applications".
    pub staff_role: Option<crate::access::Role>,
    /// The signed-in account is the admin (the dashboard is theirs to read too).
    pub admin: bool,
    pub path: String,
    pub title: String,
}

impl Chrome {
    pub fn of(web: &Web, zh: &str, en: &str) -> Chrome {
        Chrome {
            lang: web.lang,
            csrf: web.csrf_token(),
            signed_in: web.principal.is_some(),
            staff_role: web
                .principal
                .as_ref()
                .map(|p| p.role)
                .filter(|r| crate::access::scope_kind(*r).is_some()),
            admin: web
                .principal
                .as_ref()
                .is_some_and(|p| p.role == crate::access::Role::Admin),
            path: web.path.clone(),
            title: web.t(zh, en).to_string(),
        }
    }

    pub fn t<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        match self.lang {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    pub fn is_staff(&self) -> bool {
        self.staff_role.is_some()
    }

    pub fn is_admin(&self) -> bool {
        self.admin
    }

    pub fn is_reviewer(&self) -> bool {
        self.staff_role == Some(crate::access::Role::Reviewer)
    }

    pub fn is_bureau(&self) -> bool {
        self.staff_role == Some(crate::access::Role::Bureau)
    }

    /// Supervisors and the bureau work batches.
    pub fn works_batches(&self) -> bool {
        matches!(
            self.staff_role,
            Some(crate::access::Role::Supervisor | crate::access::Role::Bureau)
        )
    }

    pub fn is_en(&self) -> bool {
        self.lang == Lang::En
    }

    pub fn html_lang(&self) -> &'static str {
        match self.lang {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }
}

/// Renders a page; a template that fails to render is a bug, answered 500.
pub fn render(web: &Web, status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => web.html(status, html),
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            web.html(
                StatusCode::INTERNAL_SERVER_ERROR,
                "<!doctype html><title>500</title><p>Internal error</p>".into(),
            )
        }
    }
}

/// A page with a heading and a paragraph: not found, forbidden, expired forms.
#[derive(Template)]
#[template(path = "message.html", config = "src/web/askama.toml")]
pub struct MessagePage {
    pub c: Chrome,
    pub heading: String,
    pub body: String,
    pub link: Option<(String, String)>,
}

pub fn message(
    web: &Web,
    status: StatusCode,
    heading: (&str, &str),
    body: (&str, &str),
) -> Response {
    let page = MessagePage {
        c: Chrome::of(web, heading.0, heading.1),
        heading: web.t(heading.0, heading.1).to_string(),
        body: web.t(body.0, body.1).to_string(),
        link: Some(("/".into(), web.t("返回首页", "Back to the start").into())),
    };
    render(web, status, &page)
}

pub fn not_found(web: &Web) -> Response {
    message(
        web,
        StatusCode::NOT_FOUND,
        ("找不到该页面", "Page not found"),
        (
            "该页面不存在，或您无权查看。",
            "This page does not exist, or it is not yours to see.",
        ),
    )
}

pub fn expired_form(web: &Web) -> Response {
    message(
        web,
        StatusCode::FORBIDDEN,
        ("表单已过期", "This form has expired"),
        (
            "为保护您的账户，请返回上一页，刷新后重新提交。",
            "To protect your account, go back, reload the page and send the form again.",
        ),
    )
}

pub fn unavailable(web: &Web) -> Response {
    message(
        web,
        StatusCode::SERVICE_UNAVAILABLE,
        ("暂时无法办理", "Service temporarily unavailable"),
        (
            "系统暂时无法保存，请几分钟后再试。",
            "The system cannot save right now; please try again in a few minutes.",
        ),
    )
}

/// The 404 for a path no page has: the same page, without looking up who is asking.
pub fn bare_not_found(lang: Lang, path: &str) -> Response {
    let t = |zh: &'static str, en: &'static str| if lang == Lang::En { en } else { zh };
    let page = MessagePage {
        c: Chrome {
            lang,
            csrf: String::new(),
            signed_in: false,
            staff_role: None,
            admin: false,
            path: path.to_string(),
            title: t("找不到该页面", "Page not found").into(),
        },
        heading: t("找不到该页面", "Page not found").into(),
        body: t(
            "该页面不存在，或您无权查看。",
            "This page does not exist, or it is not yours to see.",
        )
        .into(),
        link: Some(("/".into(), t("返回首页", "Back to the start").into())),
    };
    let html = page.render().unwrap_or_default();
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .content_type("text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .body(html)
}
