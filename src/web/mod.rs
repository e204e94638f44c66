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
mod staff;
mod start;
mod widgets;

use poem::http::StatusCode;
use poem::web::{Path, Query};
use poem::{Endpoint, EndpointExt, IntoResponse, Response, Route, get, handler};

use session::{LANG_COOKIE, Web};

const STYLESHEET: &str = include_str!("static/anju.css");
const STAFF_SCRIPT: &str = include_str!("static/staff.js");

/// The queue's keyboard shortcuts (the pages work without it).
#[handler]
fn staff_script() -> Response {
    Response::builder()
        .content_type("text/javascript; charset=utf-8")
        .header("cache-control", "public, max-age=3600")
        .body(STAFF_SCRIPT)
}

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

/// The staff and admin pages.
fn staff_routes(r: Route) -> Route {
    r.at("/staff", get(staff::desk::queue_page))
        .at("/staff/bulk", poem::post(staff::desk::bulk))
        .at("/staff/notices", get(staff_notices))
        .at("/staff/cases/:id", get(staff::case::detail))
        .at("/staff/cases/:id/act", poem::post(staff::case::act))
        .at("/staff/cases/:id/claim", poem::post(staff::case::claim))
        .at("/staff/cases/:id/compare/:other", get(staff::case::compare))
        .at(
            "/staff/batches",
            get(staff::batches::list).post(staff::batches::create),
        )
        .at("/staff/batches/:id", get(staff::batches::detail))
        .at(
            "/staff/batches/:id/decide",
            poem::post(staff::batches::decide),
        )
        .at(
            "/staff/batches/:id/roster",
            get(staff::batches::roster_file),
        )
        .at(
            "/staff/batches/:id/manifest",
            get(staff::batches::manifest_file),
        )
        .at(
            "/staff/batches/:id/:step",
            poem::post(staff::batches::change),
        )
        .at(
            "/admin/policies",
            get(staff::admin::policies).post(staff::admin::policy_upload),
        )
        .at(
            "/admin/policies/:version/toml",
            get(staff::admin::policy_file),
        )
        .at("/admin/outbox", get(staff::admin::outbox))
        .at(
            "/admin/users",
            get(staff::admin::users).post(staff::admin::user_create),
        )
        .at(
            "/admin/users/:id/disable",
            poem::post(staff::admin::user_disable),
        )
        .at("/admin/places", get(staff::admin::places))
        .at(
            "/admin/places/:code",
            poem::post(staff::admin::place_rename),
        )
        .at(
            "/admin/outbox/:id/retry",
            poem::post(staff::admin::outbox_retry),
        )
        .at("/staff/units", get(staff::allocation::units))
        .at("/staff/units/import", poem::post(staff::allocation::import))
        .at(
            "/staff/units/:id",
            get(staff::allocation::unit_view).post(staff::allocation::unit_edit),
        )
        .at(
            "/staff/rounds",
            get(staff::allocation::rounds_list).post(staff::allocation::round_create),
        )
        .at("/staff/rounds/:id", get(staff::allocation::round))
        .at(
            "/staff/rounds/:id/:step",
            get(staff::allocation::roster).post(staff::allocation::round_step),
        )
        .at("/rounds/:id", get(staff::allocation::public))
        .at("/staff/dashboard", get(staff::dashboard::page))
        .at("/staff/dashboard/:name", get(staff::dashboard::file))
}

/// Notices in progress are the queue of cases on notice (each case page lists its
/// objections and decides them).
#[handler]
fn staff_notices(web: Web) -> Response {
    web.redirect("/staff?status=passed_review")
}

/// Every page, with unknown paths answered by an HTML 404 in the visitor's language.
pub fn routes() -> impl Endpoint + use<> {
    staff_routes(Route::new())
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
            "/applications/:id/intent",
            poem::post(cases::register_intent),
        )
        .at("/applications/:id/offer", poem::post(cases::answer_offer))
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
        .at("/static/staff.js", get(staff_script))
        .at("/lang/:code", get(switch_lang))
        .around(|next, req| async move {
            let lang = session::lang_of(&req);
            let path = req.uri().path().to_string();
            match crate::http::context::with_lang(lang, next.call(req)).await {
                Ok(resp) => Ok(resp.into_response()),
                Err(err) if err.status() == StatusCode::NOT_FOUND => {
                    Ok(page::bare_not_found(lang, &path))
                }
                Err(err) => Err(err),
            }
        })
}
