//! Registering, signing in and out, and resetting a forgotten password: the same
//! accounts, lockout and limits as the API (the same service calls), with the session
//! token kept in an HttpOnly cookie.

use askama::Template;
use poem::http::StatusCode;
use poem::web::{Form, Path, Query};
use poem::{Response, handler};
use serde::Deserialize;

use super::page::{Chrome, expired_form, render, unavailable};
use super::session::{SESSION_COOKIE, Web};
use super::widgets::{Field, Kind, Problems};
use crate::auth::AuthError;
use crate::auth::service::NewAccount;
use crate::error::FieldError;
use crate::i18n::Msg;

/// A page with one form: sign-in, registration, password reset, an objection.
#[derive(Template)]
#[template(path = "form.html", config = "src/web/askama.toml")]
pub struct FormPage {
    pub c: Chrome,
    pub heading: String,
    pub intro: Vec<String>,
    pub notice: Option<String>,
    pub problems: Problems,
    pub action: String,
    pub hidden: Vec<(String, String)>,
    pub fields: Vec<Field>,
    pub submit: String,
    pub links: Vec<(String, String)>,
}

impl FormPage {
    pub fn new(web: &Web, title: (&str, &str), action: &str, submit: (&str, &str)) -> FormPage {
        FormPage {
            c: Chrome::of(web, title.0, title.1),
            heading: web.t(title.0, title.1).to_string(),
            intro: vec![],
            notice: None,
            problems: Problems::default(),
            action: action.to_string(),
            hidden: vec![],
            fields: vec![],
            submit: web.t(submit.0, submit.1).to_string(),
            links: vec![],
        }
    }

    /// Shows `problems` in the summary and beside their fields.
    pub fn with_problems(mut self, problems: Problems) -> FormPage {
        self.fields = self
            .fields
            .into_iter()
            .map(|f| f.errors_from(&problems))
            .collect();
        self.problems = problems.labelled(&self.fields);
        self
    }
}

fn problem(web: &Web, field: &str, zh: &str, en: &str) -> Problems {
    Problems::from_fields(
        &[FieldError::new(field, "invalid", Msg::new(zh, en))],
        web.lang,
        |_| String::new(),
    )
}

/// An account error as the page shows it; `None` for a storage failure (503 page).
fn problems_of(web: &Web, e: AuthError, login_field: &str) -> Option<Problems> {
    let p = match e {
        AuthError::Invalid(fields) => Problems::from_fields(&fields, web.lang, |_| String::new()),
        AuthError::InvalidCredentials => problem(
            web,
            login_field,
            "登录名或密码错误",
            "The login name or password is wrong",
        ),
        AuthError::LockedOut(until, _) => {
            let local = until.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600)?);
            let at = local.format("%H:%M").to_string();
            problem(
                web,
                login_field,
                &format!("尝试次数过多，请于 {at} 之后再试"),
                &format!("Too many tries; try again after {at} (Beijing time)"),
            )
        }
        AuthError::TooManyRegistrations | AuthError::TooManyResets => problem(
            web,
            login_field,
            "操作过于频繁，请一小时后再试",
            "Too many tries from here; try again in an hour",
        ),
        AuthError::Busy => problem(
            web,
            login_field,
            "现在登录的人太多，请稍后再试",
            "Too many people are signing in right now; try again in a moment",
        ),
        _ => return None,
    };
    Some(p)
}

#[derive(Deserialize, Default)]
pub struct Next {
    next: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct LoginInput {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

fn login_page(web: &Web, login: &str, next: &str) -> FormPage {
    let mut page = FormPage::new(web, ("登录", "Sign in"), "/login", ("登录", "Sign in"));
    page.hidden = vec![("next".into(), super::local_path(Some(next)).to_string())];
    page.fields = vec![
        Field::new(
            "login",
            web.t("手机号码或电子邮箱", "Mobile number or e-mail"),
            Kind::Text,
        )
        .value(login)
        .autocomplete("username")
        .required(),
        Field::new("password", web.t("密码", "Password"), Kind::Password)
            .autocomplete("current-password")
            .required(),
    ];
    page.links = vec![
        (
            "/password/forgot".into(),
            web.t("忘记密码？", "Forgotten your password?").into(),
        ),
        (
            "/register".into(),
            web.t("还没有账号？注册", "No account yet? Register").into(),
        ),
    ];
    page
}

#[handler]
pub async fn login_form(web: Web, Query(q): Query<Next>) -> Response {
    let page = login_page(&web, "", q.next.as_deref().unwrap_or("/applications"));
    render(&web, StatusCode::OK, &page)
}

#[handler]
pub async fn login_submit(web: Web, Form(input): Form<LoginInput>) -> Response {
    if !web.csrf_ok(Some(&input.csrf)) {
        return expired_form(&web);
    }
    let client = crate::http::context::client_key();
    match crate::auth::login::login(&web.state, &input.login, &input.password, &client).await {
        Ok(out) => {
            let mut resp = web.redirect(super::local_path(Some(&input.next)));
            let age = (out.expires_at - web.state.clock.now())
                .num_seconds()
                .max(0);
            web.set_cookie(&mut resp, SESSION_COOKIE, &out.token, Some(age));
            resp
        }
        Err(e) => match problems_of(&web, e, "login") {
            Some(p) => {
                let page = login_page(&web, &input.login, &input.next).with_problems(p);
                render(&web, StatusCode::UNPROCESSABLE_ENTITY, &page)
            }
            None => unavailable(&web),
        },
    }
}

#[derive(Deserialize, Default)]
pub struct CsrfOnly {
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

#[handler]
pub async fn logout(web: Web, Form(input): Form<CsrfOnly>) -> Response {
    if !web.csrf_ok(Some(&input.csrf)) {
        return expired_form(&web);
    }
    if let Some(p) = &web.principal {
        let _ = crate::auth::service::logout(&web.state, p).await;
    }
    let mut resp = web.redirect("/");
    web.set_cookie(&mut resp, SESSION_COOKIE, "", Some(0));
    resp
}

#[derive(Deserialize, Default)]
pub struct RegisterInput {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    mobile: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

fn register_page(web: &Web, input: &RegisterInput) -> FormPage {
    let mut page = FormPage::new(
        web,
        ("注册账号", "Create an account"),
        "/register",
        ("注册", "Register"),
    );
    page.intro = vec![web
        .t(
            "注册后即可在线申请并查看办理进度。手机号码和电子邮箱至少填一项；填写邮箱可以收到办理通知，也可以在忘记密码时重置。",
            "With an account you can apply online and follow your case. Give a mobile number, an e-mail address or both; with an e-mail you get notices and can reset a forgotten password.",
        )
        .into()];
    page.fields = vec![
        Field::new("display_name", web.t("姓名", "Your name"), Kind::Text)
            .value(input.display_name.clone())
            .autocomplete("name")
            .required(),
        Field::new("mobile", web.t("手机号码", "Mobile number"), Kind::Tel)
            .value(input.mobile.clone())
            .autocomplete("tel")
            .inputmode("numeric"),
        Field::new("email", web.t("电子邮箱", "E-mail"), Kind::Email)
            .value(input.email.clone())
            .autocomplete("email"),
        Field::new("password", web.t("密码", "Password"), Kind::Password)
            .hint(web.t("至少 8 个字符", "At least 8 characters"))
            .autocomplete("new-password")
            .required(),
    ];
    page.links = vec![(
        "/login".into(),
        web.t("已有账号？登录", "Have an account? Sign in").into(),
    )];
    page
}

#[handler]
pub async fn register_form(web: Web) -> Response {
    render(
        &web,
        StatusCode::OK,
        &register_page(&web, &RegisterInput::default()),
    )
}

#[handler]
pub async fn register_submit(web: Web, Form(input): Form<RegisterInput>) -> Response {
    if !web.csrf_ok(Some(&input.csrf)) {
        return expired_form(&web);
    }
    let blank = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
    let account = NewAccount {
        role: crate::access::Role::Applicant,
        display_name: input.display_name.clone(),
        mobile: blank(&input.mobile),
        email: blank(&input.email),
        password: input.password.clone(),
        place_codes: vec![],
        id_number: None,
    };
    let client = crate::http::context::client_key();
    match crate::auth::service::register(&web.state, account, &client).await {
        Ok(_) => {
            let mut page = login_page(&web, input.mobile.trim(), "/applications");
            page.notice = Some(
                web.t(
                    "注册成功，请登录。（如果该号码或邮箱已注册过，请直接用原密码登录。）",
                    "Done: sign in now. (If this number or e-mail was registered before, sign in with its password.)",
                )
                .into(),
            );
            if page.fields[0].value.is_empty() {
                page.fields[0].value = input.email.trim().to_string();
            }
            render(&web, StatusCode::OK, &page)
        }
        Err(e) => match problems_of(&web, e, "mobile") {
            Some(p) => {
                let page = register_page(&web, &input).with_problems(p);
                render(&web, StatusCode::UNPROCESSABLE_ENTITY, &page)
            }
            None => unavailable(&web),
        },
    }
}

#[derive(Deserialize, Default)]
pub struct ForgotInput {
    #[serde(default)]
    login: String,
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

fn forgot_page(web: &Web, login: &str) -> FormPage {
    let mut page = FormPage::new(
        web,
        ("忘记密码", "Forgotten password"),
        "/password/forgot",
        ("发送重置链接", "Send me a link"),
    );
    page.intro = vec![web
        .t(
            "填写注册时用的手机号码或邮箱。如果账号留有电子邮箱，我们会把重置链接发到该邮箱，30 分钟内有效。没有邮箱的账号请到社区窗口办理。",
            "Give the mobile number or e-mail you registered with. If the account has an e-mail address, we send a link to it, good for 30 minutes. For an account without e-mail, ask at your community office.",
        )
        .into()];
    page.fields = vec![
        Field::new(
            "login",
            web.t("手机号码或电子邮箱", "Mobile number or e-mail"),
            Kind::Text,
        )
        .value(login)
        .autocomplete("username")
        .required(),
    ];
    page
}

#[handler]
pub async fn forgot_form(web: Web) -> Response {
    render(&web, StatusCode::OK, &forgot_page(&web, ""))
}

#[handler]
pub async fn forgot_submit(web: Web, Form(input): Form<ForgotInput>) -> Response {
    if !web.csrf_ok(Some(&input.csrf)) {
        return expired_form(&web);
    }
    let client = crate::http::context::client_key();
    match crate::auth::reset::request(&web.state, &input.login, web.lang, &client).await {
        Ok(()) => {
            let mut page = forgot_page(&web, "");
            page.notice = Some(
                web.t(
                    "如果该账号存在并留有电子邮箱，重置链接已发出，请查收邮件。",
                    "If that account exists and has an e-mail address, a link is on its way.",
                )
                .into(),
            );
            render(&web, StatusCode::OK, &page)
        }
        Err(e) => match problems_of(&web, e, "login") {
            Some(p) => {
                let page = forgot_page(&web, &input.login).with_problems(p);
                render(&web, StatusCode::UNPROCESSABLE_ENTITY, &page)
            }
            None => unavailable(&web),
        },
    }
}

#[derive(Deserialize, Default)]
pub struct ResetInput {
    #[serde(default)]
    password: String,
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

fn reset_page(web: &Web, token: &str) -> FormPage {
    let mut page = FormPage::new(
        web,
        ("设置新密码", "Set a new password"),
        &format!("/password/reset/{token}"),
        ("保存新密码", "Save the new password"),
    );
    page.fields = vec![
        Field::new("password", web.t("新密码", "New password"), Kind::Password)
            .hint(web.t(
                "至少 8 个字符。保存后，所有设备上的登录都会退出。",
                "At least 8 characters. Saving signs you out everywhere.",
            ))
            .autocomplete("new-password")
            .required(),
    ];
    page
}

fn dead_link(web: &Web) -> Response {
    super::page::message(
        web,
        StatusCode::NOT_FOUND,
        ("链接已失效", "This link no longer works"),
        (
            "该链接无效、已使用或已超过 30 分钟。请重新申请重置密码。",
            "The link is not valid, was used already or is more than 30 minutes old. Ask for a new one.",
        ),
    )
}

fn token_ok(token: &str) -> bool {
    token.len() <= 128
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[handler]
pub async fn reset_form(web: Web, Path(token): Path<String>) -> Response {
    if !token_ok(&token) {
        return dead_link(&web);
    }
    match crate::auth::reset::is_live(&web.state, &token).await {
        Ok(true) => render(&web, StatusCode::OK, &reset_page(&web, &token)),
        Ok(false) => dead_link(&web),
        Err(_) => unavailable(&web),
    }
}

#[handler]
pub async fn reset_submit(
    web: Web,
    Path(token): Path<String>,
    Form(input): Form<ResetInput>,
) -> Response {
    if !web.csrf_ok(Some(&input.csrf)) {
        return expired_form(&web);
    }
    if !token_ok(&token) {
        return dead_link(&web);
    }
    match crate::auth::reset::complete(&web.state, &token, &input.password).await {
        Ok(()) => {
            let mut page = login_page(&web, "", "/applications");
            page.notice = Some(
                web.t(
                    "密码已更新，请用新密码登录。",
                    "Your password is changed: sign in with the new one.",
                )
                .into(),
            );
            let mut resp = render(&web, StatusCode::OK, &page);
            web.set_cookie(&mut resp, SESSION_COOKIE, "", Some(0));
            resp
        }
        Err(AuthError::Invalid(fields)) if fields.iter().any(|f| f.field == "token") => {
            dead_link(&web)
        }
        Err(e) => match problems_of(&web, e, "password") {
            Some(p) => {
                let page = reset_page(&web, &token).with_problems(p);
                render(&web, StatusCode::UNPROCESSABLE_ENTITY, &page)
            }
            None => unavailable(&web),
        },
    }
}
