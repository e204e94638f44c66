//! `JsonBody<T>`: a JSON request body parsed with serde instead of poem-openapi.
//!
//! poem-openapi's own `Json<T>` answers a wrong type or a failed `#[oai(validator)]`
//! with a plain-text 400 that names only the first problem, and its `String` accepts
//! numbers and booleans. `JsonBody<T>` keeps `T`'s OpenAPI schema (so the spec still
//! shows every limit declared with `#[oai(validator(...))]`) but parses with serde,
//! which is strict about types and reports the exact path of a bad field
//! (`members[2].annual_income_fen`). Before that, every limit the schema declares is
//! checked on the JSON (`super::limits`), all failing fields at once in one 422, and
//! trailing bytes after the JSON value are refused; the domain's `parse` then checks
//! what a schema cannot say.

use poem::{Request, RequestBody};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    payload::{ParsePayload, Payload},
    registry::{MetaMediaType, MetaRequest, MetaSchemaRef, Registry},
    types::Type,
};
use serde::de::DeserializeOwned;

use crate::error::{BodyError, FieldError};
use crate::i18n::Msg;

/// A JSON request body of type `T` (see the module docs).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: Type> Payload for JsonBody<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn check_content_type(content_type: &str) -> bool {
        matches!(content_type.parse::<mime::Mime>(), Ok(m)
            if m.type_() == "application" && (m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json")))
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// Turns a serde error into a 400 (not JSON) or a 422 naming the field it is about.
fn body_error(err: serde_path_to_error::Error<serde_json::Error>) -> BodyError {
    let path = err.path().to_string();
    let inner = err.into_inner();
    let detail = inner.to_string();
    match inner.classify() {
        serde_json::error::Category::Data => {
            let field = if path == "." { String::new() } else { path };
            let msg = Msg::new(
                format!("类型或取值不正确：{detail}"),
                format!("wrong type or value: {detail}"),
            );
            BodyError::Invalid(vec![FieldError::new(field, "invalid_type", msg)])
        }
        _ => BodyError::Malformed(detail),
    }
}

/// The largest body `JsonBody` reads, installed as request data by `startup`.
///
/// Enforced while reading rather than by poem's `SizeLimit`, which refuses every
/// request without a `Content-Length` header (chunked uploads included).
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

fn too_large() -> poem::Error {
    poem::Error::from_status(poem::http::StatusCode::PAYLOAD_TOO_LARGE)
}

/// Reads the body, refusing it as soon as it is known to exceed the limit.
async fn read_limited(request: &Request, body: &mut RequestBody) -> poem::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let limit = request.data::<BodyLimit>().map_or(1024 * 1024, |l| l.0);
    let declared = request
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut data = Vec::new();
    body.take()?
        .into_async_read()
        .take(limit as u64 + 1)
        .read_to_end(&mut data)
        .await
        .map_err(|e| {
            poem::Error::from_string(e.to_string(), poem::http::StatusCode::BAD_REQUEST)
        })?;
    if data.len() > limit {
        return Err(too_large());
    }
    Ok(data)
}

impl<T: Type + DeserializeOwned + Send + 'static> ParsePayload for JsonBody<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let data = read_limited(request, body).await?;
        // `from_slice` reads to the end: anything after the value is malformed.
        let json: serde_json::Value = serde_json::from_slice(&data)
            .map_err(|e| poem::Error::from(BodyError::Malformed(e.to_string())))?;
        // The schema's limits first, every one at once (with a wrong type, if there is
        // one, beside them); the domain's own checks follow only for a body within them.
        let mut broken = super::limits::violations::<T>(&json);
        match serde_path_to_error::deserialize::<_, T>(json) {
            Ok(value) if broken.is_empty() => Ok(JsonBody(value)),
            Ok(_) => Err(BodyError::Invalid(broken).into()),
            Err(e) => match body_error(e) {
                BodyError::Invalid(fields) => {
                    broken.extend(fields);
                    Err(BodyError::Invalid(broken).into())
                }
                malformed => Err(malformed.into()),
            },
        }
    }
}

impl<'a, T: Type + DeserializeOwned + Send + 'static> ApiExtractor<'a> for JsonBody<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <Self as Payload>::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: <Self as Payload>::CONTENT_TYPE,
                schema: <Self as Payload>::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let empty = request
            .headers()
            .get(poem::http::header::CONTENT_LENGTH)
            .is_none_or(|v| v.as_bytes() == b"0");
        match request.content_type() {
            Some(ct) if <Self as Payload>::check_content_type(ct) => {
                <Self as ParsePayload>::from_request(request, body).await
            }
            // No body at all: the same as `{}` (a submit needs nothing more), so the
            // answer is the body's own 422 if it needs fields, never a 415.
            None if empty => {
                let mut none = RequestBody::new(poem::Body::from_string("{}".to_string()));
                <Self as ParsePayload>::from_request(request, &mut none).await
            }
            _ => Err(poem::Error::from_status(
                poem::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            )),
        }
    }
}
