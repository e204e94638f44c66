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
}

tokio::task_local! {
    static CONTEXT: RequestContext;
}

/// The context of the request being served, if any.
pub fn current() -> Option<RequestContext> {
    CONTEXT.try_with(|c| c.clone()).ok()
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

/// Outermost middleware: sets up the context, renders any error as JSON, stamps the
/// request id on the response and writes one access-log line.
pub async fn around<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let started = Instant::now();
    let ctx = RequestContext {
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
    let mut resp = CONTEXT
        .scope(ctx, async move {
            match next.call(req).await {
                Ok(resp) => resp.into_response(),
                Err(err) => crate::error::render_poem_error(err),
            }
        })
        .await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    tracing::info!(
        request_id = %request_id,
        method = %method,
        path = %path,
        status = resp.status().as_u16(),
        latency_ms = format!("{:.1}", started.elapsed().as_secs_f64() * 1000.0),
        "request"
    );
    Ok(resp)
}
