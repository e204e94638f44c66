//! The web pages: what applicant families use from a phone, served by the same binary
//! at `/` on the same services as the API (no second set of rules). Server-rendered
//! from templates compiled into the binary (askama), one stylesheet of our own, nothing
//! fetched from outside, no script needed. Chinese by default, English by a remembered
//! switch; every text in both. The JSON API stays under `/api/v1`.

// A handler's early answer (a redirect to sign in, a 404 page) travels as `Err(Response)`:
// once per request, so its size does not matter.
#![allow(clippy::result_large_err)]

mod account;
mod after;
mod apply;
mod cases;
mod labels;
mod notice;
mod page;
pub mod session;
mod start;
mod widgets;

use poem::http::StatusCode;
use poem::web::{Path, Query};
use poem::{Endpoint, EndpointExt, IntoResponse, Response, Route, get, handler};

use session::{LANG_COOKIE, Web};

const STYLESHEET: &str = include_str!("static/anju.css");

#[handler]
fn stylesheet() -> Response {
    Response::builder()
        .content_type("text/css; charset=utf-8")
        .header("cache-control", "public, max-age=3600")
        .body(STYLESHEET)
}

#[derive(serde::Deserialize)]
struct Back {
    back: Option<String>,
}

/// Only a path on this site: `/…`, never `//host` or a scheme.
fn local_path(p: Option<&str>) -> &str {
    match p {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p,
        _ => "/",
    }
}

/// The language switch: remembered for a year.
#[handler]
fn switch_lang(web: Web, Path(code): Path<String>, Query(q): Query<Back>) -> Response {
    let code = if code == "en" { "en" } else { "zh" };
    let mut resp = web.redirect(local_path(q.back.as_deref()));
    web.set_cookie(&mut resp, LANG_COOKIE, code, Some(365 * 24 * 3600));
    resp
}

/// Every page, with unknown paths answered by an HTML 404 in the visitor's language.
pub fn routes() -> impl Endpoint + use<> {
    Route::new()
        .at("/", get(start::start))
        .at("/check", get(start::check_form).post(start::check_submit))
        .at(
            "/login",
            get(account::login_form).post(account::login_submit),
        )
        .at("/logout", poem::post(account::logout))
        .at(
            "/register",
            get(account::register_form).post(account::register_submit),
        )
        .at(
            "/password/forgot",
            get(account::forgot_form).post(account::forgot_submit),
        )
        .at(
            "/password/reset/:token",
            get(account::reset_form).post(account::reset_submit),
        )
        .at("/applications", get(cases::list))
        .at("/applications/:id", get(cases::detail))
        .at("/applications/:id/receipt", get(cases::receipt))
        .at(
            "/applications/:id/withdraw",
            get(cases::withdraw_form).post(cases::withdraw),
        )
        .at(
            "/applications/:id/appeal",
            get(after::appeal_form).post(after::appeal),
        )
        .at(
            "/applications/:id/reverification",
            get(after::declaration_form).post(after::declare),
        )
        .at("/notices", get(notice::list))
        .at(
            "/notices/:number/objection",
            get(notice::objection_form).post(notice::objection_submit),
        )
        .at("/apply", get(apply::new_form).post(apply::new_submit))
        .at(
            "/applications/:id/edit/:step",
            get(apply::edit_form).post(apply::edit_submit),
        )
        .at("/applications/:id/review", get(apply::review))
        .at("/applications/:id/submit", poem::post(apply::submit))
        .at("/static/anju.css", get(stylesheet))
        .at("/lang/:code", get(switch_lang))
        .around(|next, req| async move {
            let lang = session::lang_of(&req);
            let path = req.uri().path().to_string();
            match next.call(req).await {
                Ok(resp) => Ok(resp.into_response()),
                Err(err) if err.status() == StatusCode::NOT_FOUND => {
                    Ok(page::bare_not_found(lang, &path))
                }
                Err(err) => Err(err),
            }
        })
}
