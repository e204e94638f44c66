//! Per-request context and the access log.
//!
//! Each request gets an id (the client's `X-Request-Id` when it is a short token,
//! otherwise a fresh one), echoed in the response header and the error body, and a
//! language from `Accept-Language`. Both live in a task-local for the request's
//! lifetime. The access log records method, path, status and latency only: never the
//! query string or headers, which may carry tokens or identity numbers.

use std::time::Instant;

use poem::{Endpoint, IntoResponse, Request, Response, http::HeaderValue};
use rand::RngCore;

use crate::i18n::Lang;

/// What every layer may know about the request being served.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub request_id: String,
    pub lang: Lang,
    /// The client's address, for per-client limits (see `super::client`).
    pub client: Option<std::net::IpAddr>,
}

/// The client address of the request being served, as a limiter key (`ip:…`).
pub fn client_key() -> String {
    match current().and_then(|c| c.client) {
        Some(ip) => format!("ip:{ip}"),
        None => "ip:unknown".into(),
    }
}

tokio::task_local! {
    static CONTEXT: RequestContext;
}

/// The context of the request being served, if any.
pub fn current() -> Option<RequestContext> {
    CONTEXT.try_with(|c| c.clone()).ok()
}

/// Runs `fut` with the request's language replaced (a web page's remembered choice
/// beats the browser's `Accept-Language`, so its error messages match the page).
pub async fn with_lang<F: std::future::Future>(lang: Lang, fut: F) -> F::Output {
    match current() {
        Some(ctx) => CONTEXT.scope(RequestContext { lang, ..ctx }, fut).await,
        None => fut.await,
    }
}

pub const REQUEST_ID_HEADER: &str = "x-request-id";

fn request_id_from(req: &Request) -> String {
    let supplied = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    match supplied {
        Some(id) => id.to_string(),
        None => {
            let mut bytes = [0u8; 8];
            rand::thread_rng().fill_bytes(&mut bytes);
            hex::encode(bytes)
        }
    }
}

/// A NUL in the path or the query (`%00`): PostgreSQL cannot store it, and no field of
/// this service takes one. Refused before routing.
fn nul_in(req: &Request) -> Option<&'static str> {
    let has = |s: &str| s.to_ascii_lowercase().contains("%00") || s.contains('\0');
    if has(req.uri().path()) {
        Some("path")
    } else if req.uri().query().is_some_and(has) {
        Some("query")
    } else {
        None
    }
}

/// Request heads larger than this, or with more header fields, are answered 431 here,
/// with a JSON body. (hyper refuses heads past its own, larger, buffer with a bare 431
/// before any request exists, as it does a request line it cannot parse with a bare 400:
/// nothing above it can answer those.)
const MAX_HEADER_BYTES: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;

fn head_too_large(req: &Request) -> bool {
    let headers = req.headers();
    let bytes: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum::<usize>()
        + req.uri().to_string().len();
    headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES
}

/// The path as the log shows it: a run of 15 or more digits (an identity number, a
/// mobile with its country code) is masked like the lists mask identity numbers.
fn loggable(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 15 {
            out.push_str(&crate::values::mask_id_number(run));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in path.chars() {
        if c.is_ascii_digit() || ((c == 'X' || c == 'x') && run.len() == 17) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Headers every answer carries: no content sniffing; nothing personal kept by a cache;
/// an SVG that can run nothing.
fn harden(resp: &mut Response, path: &str) {
    let h = resp.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    if path.starts_with("/api/") {
        h.insert("cache-control", HeaderValue::from_static("no-store"));
    }
    let svg = h
        .get(poem::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("image/svg+xml"));
    if svg {
        h.insert(
            "content-security-policy",
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
        );
    }
}

/// How a request body is read: at most `limit` bytes, all of them within `timeout`.
#[derive(Clone, Copy, Debug)]
pub struct BodyRead {
    pub limit: usize,
    pub timeout: std::time::Duration,
}

/// Reads the whole body before the request is handled, up to `limit` (413 past it) and
/// within `timeout` (408 past it: a client sending one byte a minute holds nothing
/// longer), and hands it on from memory. A handler that takes no body never reads it, and
/// bytes left unread on the connection would be taken for the start of the next request
/// on it (seen: a JSON body sent to a POST that takes none made the next request fail).
async fn buffered(req: Request, rules: BodyRead) -> Result<Request, poem::Error> {
    match tokio::time::timeout(rules.timeout, read_body(req, rules.limit)).await {
        Ok(read) => read,
        Err(_) => Err(poem::Error::from_status(
            poem::http::StatusCode::REQUEST_TIMEOUT,
        )),
    }
}

async fn read_body(mut req: Request, limit: usize) -> Result<Request, poem::Error> {
    use tokio::io::AsyncReadExt;
    let declared = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared == Some(0) {
        return Ok(req);
    }
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(poem::Error::from_status(
            poem::http::StatusCode::PAYLOAD_TOO_LARGE,
        ));
    }
    let mut data = Vec::new();
    req.take_body()
        .into_async_read()
        .take(limit as u64 + 1)
        .read_to_end(&mut data)
        .await
        .map_err(|e| {
            poem::Error::from_string(e.to_string(), poem::http::StatusCode::BAD_REQUEST)
        })?;
    if data.len() > limit {
        return Err(poem::Error::from_status(
            poem::http::StatusCode::PAYLOAD_TOO_LARGE,
        ));
    }
    req.set_body(data);
    Ok(req)
}

/// Outermost middleware: sets up the context, refuses NUL in the path or query, reads
/// the body (see [`buffered`]), renders any error as JSON, stamps the request id and the
/// hardening headers on the response and writes one access-log line.
pub async fn around<E: Endpoint>(
    next: E,
    req: Request,
    trusted: &super::client::TrustedProxies,
    body: BodyRead,
    names: &super::path_names::PathNames,
) -> poem::Result<Response> {
    let started = Instant::now();
    let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let ctx = RequestContext {
        client: super::client::client_ip(peer, forwarded, trusted),
        request_id: request_id_from(&req),
        lang: Lang::from_accept_language(
            req.headers()
                .get("accept-language")
                .and_then(|v| v.to_str().ok()),
        ),
    };
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let request_id = ctx.request_id.clone();
    let path_for_errors = path.clone();
    let route = names.route(&path);
    // Every line logged while this request is served carries its id (and the caller's
    // account id, recorded once the caller is known).
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        user_id = tracing::field::Empty
    );
    let served = CONTEXT.scope(ctx, async move {
        if let Some(part) = nul_in(&req) {
            let msg =
                crate::i18n::Msg::new("不能包含空字符（NUL）", "must not contain a NUL character");
            let field = crate::error::FieldError::new(part, "nul_character", msg);
            return crate::error::ApiError::validation(vec![field]).into_response();
        }
        if head_too_large(&req) {
            return crate::error::render_poem_error(poem::Error::from_status(
                poem::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ));
        }
        let req = match buffered(req, body).await {
            Ok(req) => req,
            Err(err) => return crate::error::render_poem_error(err),
        };
        match next.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(err) => match names.field_error(&path_for_errors, &err) {
                Some(field) => crate::error::ApiError::bad_parameter(field).into_response(),
                None => crate::error::render_poem_error(err),
            },
        }
    });
    let mut resp = tracing::Instrument::instrument(served, span.clone()).await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    harden(&mut resp, &path);
    let status = resp.status().as_u16();
    let elapsed = started.elapsed();
    crate::http::metrics::request(&method, &route, status, elapsed);
    span.in_scope(|| {
        tracing::info!(
            method = %method,
            path = %loggable(&path),
            route = %route,
            status,
            latency_ms = elapsed.as_micros() as f64 / 1000.0,
            "request"
        )
    });
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::loggable;

    #[test]
    fn identity_numbers_in_a_path_are_masked_in_the_log() {
        assert_eq!(
            loggable("/api/v1/x/410104198507150037/y"),
            "/api/v1/x/4101**********0037/y"
        );
        assert_eq!(
            loggable("/api/v1/x/11010519491231002X"),
            "/api/v1/x/1101**********002X"
        );
        assert_eq!(
            loggable("/api/v1/applications/12345"),
            "/api/v1/applications/12345"
        );
    }
}
