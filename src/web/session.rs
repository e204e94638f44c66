//! The browser's side of a request: the session cookie (the same session tokens the API
//! hands out, so the same accounts, lockout and limits), the language cookie, and CSRF.
//!
//! - `anju_session`: the bearer token of a signed-in user, `HttpOnly`, `SameSite=Lax`,
//!   `Secure` when `public_url` is https. A browser cannot send a bearer header; this is
//!   how it sends the token.
//! - `anju_csrf`: a random value set on the first page; every form carries
//!   HMAC(key, value ‖ session) in `_csrf` (a signed double-submit token), checked on
//!   every POST before anything else. A page from another site can neither read the
//!   cookie nor compute the token.
//! - `anju_lang`: `zh` (default) or `en`, set by the language switch and remembered.
//!
//! (poem's own `CookieSession` and `Csrf` middleware would keep a second session beside
//! the API's; one kind of session is simpler to reason about and to revoke.)

use hmac::{Hmac, Mac};
use poem::http::{HeaderValue, StatusCode, header};
use poem::{FromRequest, Request, RequestBody, Response};
use rand::RngCore;
use sha2::Sha256;

use crate::access::{Principal, Role};
use crate::i18n::Lang;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "anju_session";
pub const CSRF_COOKIE: &str = "anju_csrf";
pub const LANG_COOKIE: &str = "anju_lang";
pub const CSRF_FIELD: &str = "_csrf";

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The language a page is shown in: the remembered choice, else Chinese.
pub fn lang_of(req: &Request) -> Lang {
    match cookie(req, LANG_COOKIE) {
        Some("en") => Lang::En,
        _ => Lang::Zh,
    }
}

/// Everything a page handler knows about the browser it is answering.
pub struct Web {
    pub state: AppState,
    pub lang: Lang,
    pub principal: Option<Principal>,
    /// The request path (for "come back here" after signing in).
    pub path: String,
    session_token: Option<String>,
    csrf_seed: String,
    new_seed: bool,
    secure: bool,
}

impl<'a> FromRequest<'a> for Web {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let state = req
            .data::<AppState>()
            .cloned()
            .ok_or_else(|| poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR))?;
        let token = cookie(req, SESSION_COOKIE)
            .filter(|t| !t.is_empty() && t.len() <= 128)
            .map(str::to_string);
        let principal = match &token {
            Some(t) => crate::auth::service::authenticate(&state, t)
                .await
                .map_err(crate::error::ApiError::from)?,
            None => None,
        };
        if let Some(p) = &principal {
            tracing::Span::current().record("user_id", p.user_id);
        }
        let (csrf_seed, new_seed) = match cookie(req, CSRF_COOKIE)
            .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            Some(v) => (v.to_string(), false),
            None => (random_hex(16), true),
        };
        let secure = state.settings.public_url.starts_with("https://");
        Ok(Web {
            lang: lang_of(req),
            principal,
            path: req.uri().path().to_string(),
            session_token: token,
            csrf_seed,
            new_seed,
            secure,
            state,
        })
    }
}

pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

impl Web {
    /// The token every form of this page carries.
    pub fn csrf_token(&self) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.state.id_hash_key).expect("any key length");
        mac.update(b"csrf|");
        mac.update(self.csrf_seed.as_bytes());
        mac.update(b"|");
        if self.principal.is_some() {
            mac.update(self.session_token.as_deref().unwrap_or("").as_bytes());
        }
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether a submitted form carries this browser's token.
    pub fn csrf_ok(&self, submitted: Option<&str>) -> bool {
        use subtle_eq::eq;
        !self.new_seed && submitted.is_some_and(|s| eq(s.as_bytes(), self.csrf_token().as_bytes()))
    }

    pub fn t<'s>(&self, zh: &'s str, en: &'s str) -> &'s str {
        match self.lang {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// The signed-in applicant, if the caller is one.
    pub fn applicant(&self) -> Option<&Principal> {
        self.principal
            .as_ref()
            .filter(|p| p.role == Role::Applicant)
    }

    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }

    /// A page: HTML that no cache keeps, with the CSRF cookie when it is new.
    pub fn html(&self, status: StatusCode, body: String) -> Response {
        let mut resp = Response::builder()
            .status(status)
            .content_type("text/html; charset=utf-8")
            .body(body);
        self.finish(&mut resp);
        resp
    }

    /// 303 to `to` (after a POST, so that reloading does not post again).
    pub fn redirect(&self, to: &str) -> Response {
        let mut resp = Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header(header::LOCATION, to)
            .finish();
        self.finish(&mut resp);
        resp
    }

    fn finish(&self, resp: &mut Response) {
        if self.new_seed {
            self.set_cookie(resp, CSRF_COOKIE, &self.csrf_seed, None);
        }
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
        h.insert(
            "content-security-policy",
            HeaderValue::from_static(
                "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
                 form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        );
    }

    /// Adds a `Set-Cookie`; `max_age` in seconds (0 removes it), none for the browser session.
    pub fn set_cookie(&self, resp: &mut Response, name: &str, value: &str, max_age: Option<i64>) {
        let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
        if let Some(age) = max_age {
            c.push_str(&format!("; Max-Age={age}"));
        }
        if self.secure {
            c.push_str("; Secure");
        }
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
}

/// Constant-time comparison of two byte strings.
mod subtle_eq {
    pub fn eq(a: &[u8], b: &[u8]) -> bool {
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}
