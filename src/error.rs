//! The one JSON error body, and the one place where errors become HTTP statuses.
//!
//! Domain errors (`AuthError`, `PlaceError`, …) say what went wrong in domain terms;
//! the `From` impls below are the only code that decides their status and code.
//! Errors that poem itself raises (malformed JSON, unknown route, wrong method, body
//! too large, missing token) are turned into the same body by [`render_poem_error`],
//! installed as a catch-all around the whole app.

use poem::http::StatusCode;
use poem_openapi::{ApiResponse, Object, payload::Json};

use crate::i18n::{Lang, Msg};

/// One failing field in a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the field in the request body, e.g. `members[2].id_number`.
    pub field: String,
    /// Stable machine-readable code, e.g. `too_long`.
    pub code: &'static str,
    pub msg: Msg,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str, msg: Msg) -> Self {
        FieldError {
            field: field.into(),
            code,
            msg,
        }
    }

    pub fn required(field: impl Into<String>) -> Self {
        Self::new(field, "required", Msg::new("必填项不能为空", "is required"))
    }

    pub fn too_long(field: impl Into<String>, max: usize) -> Self {
        Self::new(
            field,
            "too_long",
            Msg::new(
                format!("长度不能超过 {max} 个字符"),
                format!("must be at most {max} characters"),
            ),
        )
    }

    pub fn too_short(field: impl Into<String>, min: usize) -> Self {
        Self::new(
            field,
            "too_short",
            Msg::new(
                format!("长度不能少于 {min} 个字符"),
                format!("must be at least {min} characters"),
            ),
        )
    }

    pub fn out_of_range(field: impl Into<String>, min: i64, max: i64) -> Self {
        Self::new(
            field,
            "out_of_range",
            Msg::new(
                format!("必须在 {min} 到 {max} 之间"),
                format!("must be between {min} and {max}"),
            ),
        )
    }
}

/// One failing field, as the client sees it.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct FieldErrorView {
    /// Path of the field in the request body, e.g. `members[2].id_number`.
    pub field: String,
    /// Stable machine-readable code, e.g. `too_long`, `invalid_checksum`.
    pub code: String,
    /// Human-readable explanation in the request's language.
    pub message: String,
}

/// The body of every error response.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `validation_failed`, `not_found`.
    pub code: String,
    /// Human-readable explanation in the request's language (Accept-Language: zh or en).
    pub message: String,
    /// Every failing field, for validation errors; empty otherwise.
    pub fields: Vec<FieldErrorView>,
    /// The request id, also sent in the `X-Request-Id` response header.
    pub request_id: Option<String>,
}

/// Every error status an operation may answer with.
#[derive(ApiResponse, Debug)]
pub enum ApiError {
    /// The request could not be read (malformed JSON, wrong type, bad parameter).
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// No valid bearer token, or wrong login name or password.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// The caller's role or scope does not allow this.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// No such resource visible to the caller.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The request conflicts with the current state (duplicate, stale version).
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// The request body is larger than the configured limit.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// The request body is not `application/json`.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// The request was read but its content is invalid; `fields` lists every problem.
    #[oai(status = 422)]
    Unprocessable(Json<ErrorBody>),
    /// Too many attempts; try again later.
    #[oai(status = 429)]
    TooManyRequests(
        Json<ErrorBody>,
        /// Seconds to wait before trying again.
        #[oai(header = "Retry-After")]
        Option<u64>,
    ),
    /// An unexpected error; the cause is logged under the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// A dependency (the database) is not available.
    #[oai(status = 503)]
    Unavailable(
        Json<ErrorBody>,
        /// Seconds to wait before trying again.
        #[oai(header = "Retry-After")]
        Option<u64>,
    ),
}

impl ApiError {
    /// Builds the error for `status` with `code` and a message, in the request's language.
    pub fn new(status: StatusCode, code: &str, msg: &Msg, fields: Vec<FieldError>) -> Self {
        let lang = Lang::current();
        let body = Json(ErrorBody {
            code: code.to_string(),
            message: msg.get(lang).to_string(),
            fields: fields
                .into_iter()
                .map(|f| FieldErrorView {
                    field: f.field,
                    code: f.code.to_string(),
                    message: f.msg.get(lang).to_string(),
                })
                .collect(),
            request_id: crate::http::context::current().map(|c| c.request_id),
        });
        match status {
            StatusCode::BAD_REQUEST => ApiError::BadRequest(body),
            StatusCode::UNAUTHORIZED => ApiError::Unauthorized(body),
            StatusCode::FORBIDDEN => ApiError::Forbidden(body),
            StatusCode::NOT_FOUND => ApiError::NotFound(body),
            StatusCode::CONFLICT => ApiError::Conflict(body),
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(body),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(body),
            StatusCode::UNPROCESSABLE_ENTITY => ApiError::Unprocessable(body),
            StatusCode::TOO_MANY_REQUESTS => ApiError::TooManyRequests(body, None),
            StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable(body, None),
            _ => ApiError::Internal(body),
        }
    }

    /// A path, query or header parameter that could not be read (400 naming it).
    pub fn bad_parameter(field: FieldError) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            &Msg::new("请求参数无效", "A request parameter is invalid"),
            vec![field],
        )
    }

    pub fn validation(fields: Vec<FieldError>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            &Msg::new("提交的内容有误，请逐项修改", "Some fields are invalid"),
            fields,
        )
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            &Msg::new("未找到该资源", "Not found"),
            vec![],
        )
    }

    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            &Msg::new("您的角色无权执行此操作", "Your role may not do this"),
            vec![],
        )
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            &Msg::new("请先登录", "A valid bearer token is required"),
            vec![],
        )
    }

    /// An unexpected failure: the cause chain is logged, the client gets an opaque 500.
    pub fn internal(err: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = err.to_string();
        let mut source = err.source();
        while let Some(cause) = source {
            chain.push_str(": ");
            chain.push_str(&cause.to_string());
            source = cause.source();
        }
        Self::internal_logged(&chain)
    }

    /// Logs `detail` and returns the opaque 500.
    pub fn internal_logged(detail: &str) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            &Msg::new(
                "服务器内部错误，请稍后再试",
                "Internal error; it has been logged",
            ),
            vec![],
        )
    }
}

impl ApiError {
    /// The same error, telling the client how many seconds to wait (429 and 503 only).
    pub fn retry_after(self, secs: u64) -> Self {
        match self {
            ApiError::TooManyRequests(b, _) => ApiError::TooManyRequests(b, Some(secs.max(1))),
            ApiError::Unavailable(b, _) => ApiError::Unavailable(b, Some(secs.max(1))),
            other => other,
        }
    }

    /// The code and message of the body, for per-item results of bulk operations.
    pub fn code_and_message(&self) -> (String, String) {
        let body = self.body();
        (body.code.clone(), body.message.clone())
    }

    /// The body every variant carries.
    pub fn body(&self) -> &ErrorBody {
        match self {
            ApiError::BadRequest(b)
            | ApiError::Unauthorized(b)
            | ApiError::Forbidden(b)
            | ApiError::NotFound(b)
            | ApiError::Conflict(b)
            | ApiError::PayloadTooLarge(b)
            | ApiError::UnsupportedMediaType(b)
            | ApiError::Unprocessable(b)
            | ApiError::TooManyRequests(b, _)
            | ApiError::Internal(b)
            | ApiError::Unavailable(b, _) => &b.0,
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests(..) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(..) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl ApiError {
    /// A database error: 503 with `Retry-After` when the storage itself is failing (full,
    /// read-only, down: see `db::health`), otherwise the opaque 500.
    pub fn database(err: &sea_orm::DbErr) -> Self {
        use crate::db::health::Outage;
        let Some(outage) = crate::db::health::outage(err) else {
            return ApiError::internal(err);
        };
        tracing::error!(error = %err, ?outage, "the database is not available for this request");
        let (code, zh, en) = match outage {
            Outage::Full => (
                "storage_full",
                "服务器存储空间已满，请稍后再试",
                "The server's storage is full; try again later",
            ),
            Outage::ReadOnly => (
                "storage_read_only",
                "服务器暂时无法保存数据，请稍后再试",
                "The server cannot save data at the moment; try again later",
            ),
            Outage::Down => (
                "database_unavailable",
                "数据库暂时不可用，请稍后再试",
                "The database is not available at the moment; try again later",
            ),
        };
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code,
            &Msg::new(zh, en),
            vec![],
        )
        .retry_after(5)
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        ApiError::database(&err)
    }
}

/// A request body rejected before reaching a handler (see `http::body`).
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Not JSON at all: rendered as 400 `malformed_json`.
    #[error("malformed JSON: {0}")]
    Malformed(String),
    /// JSON of the wrong shape: rendered as 422 with the field.
    #[error("invalid request body")]
    Invalid(Vec<FieldError>),
}

impl poem::error::ResponseError for BodyError {
    fn status(&self) -> StatusCode {
        match self {
            BodyError::Malformed(_) => StatusCode::BAD_REQUEST,
            BodyError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

/// Turns any error poem raises outside a handler into the JSON error body.
pub fn render_poem_error(err: poem::Error) -> poem::Response {
    use poem::IntoResponse;
    if err.is_from_response() {
        return err.into_response();
    }
    match err.downcast_ref::<BodyError>() {
        Some(BodyError::Invalid(fields)) => {
            return ApiError::validation(fields.clone()).into_response();
        }
        Some(BodyError::Malformed(detail)) => {
            let msg = Msg::new(
                format!("请求内容不是有效的 JSON：{detail}"),
                format!("The request body is not valid JSON: {detail}"),
            );
            return ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", &msg, vec![])
                .into_response();
        }
        None => {}
    }
    let status = err.status();
    let (code, msg) = match status {
        StatusCode::BAD_REQUEST => (
            "invalid_request",
            Msg::new(
                format!("无法解析请求：{err}"),
                format!("The request could not be read: {err}"),
            ),
        ),
        StatusCode::UNAUTHORIZED => (
            "unauthorized",
            Msg::new("请先登录", "A valid bearer token is required"),
        ),
        StatusCode::NOT_FOUND => ("not_found", Msg::new("未找到该资源", "No such resource")),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            Msg::new("不支持该请求方法", "Method not allowed on this resource"),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            Msg::new("请求内容过大", "The request body is too large"),
        ),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
            "headers_too_large",
            Msg::new("请求头过大", "The request headers are too large"),
        ),
        StatusCode::REQUEST_TIMEOUT => (
            "request_timeout",
            Msg::new(
                "请求内容发送超时，请重试",
                "The request body did not arrive in time; try again",
            ),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            Msg::new(
                "请求内容必须是 application/json",
                "The request body must be application/json",
            ),
        ),
        s if s.is_server_error() => {
            return ApiError::internal_logged(&err.to_string()).into_response();
        }
        _ => (
            "http_error",
            Msg::new(format!("请求失败：{err}"), format!("Request failed: {err}")),
        ),
    };
    ApiError::new(status, code, &msg, vec![])
        .into_response()
        .with_status(status)
        .into_response()
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(err: crate::auth::AuthError) -> Self {
        use crate::auth::AuthError as E;
        match err {
            E::InvalidCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                &Msg::new("登录名或密码错误", "Wrong login name or password"),
                vec![],
            ),
            E::LockedOut(until, wait) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                &Msg::new(
                    format!("登录失败次数过多，请于 {} 之后再试", until.to_rfc3339()),
                    format!(
                        "Too many failed logins; try again after {}",
                        until.to_rfc3339()
                    ),
                ),
                vec![],
            )
            .retry_after(wait),
            E::TooManyRegistrations => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_registrations",
                &Msg::new(
                    "该地址注册过于频繁，请稍后再试",
                    "Too many registrations from your address; try again later",
                ),
                vec![],
            )
            .retry_after(3600),
            E::TooManyResets => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                &Msg::new(
                    "申请重置密码过于频繁，请一小时后再试",
                    "Too many password-reset requests; try again in an hour",
                ),
                vec![],
            )
            .retry_after(3600),
            E::Busy => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                &Msg::new(
                    "同时登录的人太多，请稍后再试",
                    "Too many sign-ins at once; try again in a moment",
                ),
                vec![],
            )
            .retry_after(1),
            E::Forbidden => ApiError::forbidden(),
            E::AccountExists(field) => ApiError::new(
                StatusCode::CONFLICT,
                "account_exists",
                &Msg::new("该账号已注册", "An account with this login name exists"),
                vec![FieldError::new(
                    field,
                    "taken",
                    Msg::new("已被使用", "is already registered"),
                )],
            ),
            E::Invalid(fields) => ApiError::validation(fields),
            E::NotFound => ApiError::not_found(),
            E::Db(db) => ApiError::database(&db),
            E::Hash(detail) => ApiError::internal_logged(&detail),
        }
    }
}

impl From<crate::places::PlaceError> for ApiError {
    fn from(err: crate::places::PlaceError) -> Self {
        use crate::places::PlaceError as E;
        match err {
            E::Invalid(fields) => ApiError::validation(fields),
            E::NotFound => ApiError::not_found(),
            E::CodeTaken => ApiError::new(
                StatusCode::CONFLICT,
                "code_taken",
                &Msg::new("该代码已被使用", "A place with this code exists"),
                vec![FieldError::new(
                    "code",
                    "taken",
                    Msg::new("已被使用", "is already used"),
                )],
            ),
            E::Forbidden => ApiError::forbidden(),
            E::Db(db) => ApiError::database(&db),
        }
    }
}

impl ApiError {
    fn wrong_status(status: crate::lifecycle::Status) -> Self {
        ApiError::new(
            StatusCode::CONFLICT,
            "wrong_status",
            &Msg::new(
                format!("案件当前状态为 {}，不能执行此操作", status.as_str()),
                format!("Not allowed while the case is {}", status.as_str()),
            ),
            vec![],
        )
    }

    fn stale(current: i32) -> Self {
        ApiError::new(
            StatusCode::CONFLICT,
            "stale_version",
            &Msg::new(
                format!("案件已被修改（当前版本 {current}），请刷新后重试"),
                format!("The case has changed (current version {current}); reload and retry"),
            ),
            vec![],
        )
    }
}

impl From<crate::applications::ApplicationError> for ApiError {
    fn from(err: crate::applications::ApplicationError) -> Self {
        use crate::applications::ApplicationError as E;
        match err {
            E::NotFound => ApiError::not_found(),
            E::Forbidden => ApiError::forbidden(),
            E::Invalid(fields) => ApiError::validation(fields),
            E::WrongStatus(status) => ApiError::wrong_status(status),
            E::Stale(current) => ApiError::stale(current),
            E::KeyReused => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                &Msg::new(
                    "该 Idempotency-Key 已用于另一个请求",
                    "This Idempotency-Key was already used with a different request",
                ),
                vec![FieldError::new(
                    "Idempotency-Key",
                    "reused",
                    Msg::new("请为新的请求使用新的键", "use a new key for a new request"),
                )],
            ),
            E::TooManyDrafts => ApiError::new(
                StatusCode::CONFLICT,
                "too_many_drafts",
                &Msg::new(
                    format!(
                        "未提交的草稿已达 {} 份，请先提交或删除",
                        crate::applications::service::MAX_OPEN_DRAFTS
                    ),
                    format!(
                        "{} drafts are open; submit or delete one first",
                        crate::applications::service::MAX_OPEN_DRAFTS
                    ),
                ),
                vec![],
            ),
            E::Db(db) => ApiError::database(&db),
        }
    }
}

impl From<crate::notifications::OutboxError> for ApiError {
    fn from(err: crate::notifications::OutboxError) -> Self {
        use crate::notifications::OutboxError as E;
        match err {
            E::Forbidden => ApiError::forbidden(),
            E::NotFound => ApiError::not_found(),
            E::NotDead => ApiError::new(
                StatusCode::CONFLICT,
                "not_dead",
                &Msg::new(
                    "只能重试已放弃投递的邮件",
                    "Only a dead message can be retried",
                ),
                vec![],
            ),
            E::Db(db) => ApiError::database(&db),
        }
    }
}

impl From<crate::calendar::service::EditError> for ApiError {
    fn from(err: crate::calendar::service::EditError) -> Self {
        use crate::calendar::service::EditError as E;
        match err {
            E::Forbidden => ApiError::forbidden(),
            E::NotFound => ApiError::not_found(),
            E::Db(db) => ApiError::database(&db),
        }
    }
}

impl From<crate::review::ReviewError> for ApiError {
    fn from(err: crate::review::ReviewError) -> Self {
        use crate::review::ReviewError as E;
        match err {
            E::NotFound => ApiError::not_found(),
            E::Forbidden => ApiError::forbidden(),
            E::Invalid(fields) => ApiError::validation(fields),
            E::WrongStatus(status) => ApiError::wrong_status(status),
            E::Stale(current) => ApiError::stale(current),
            E::AlreadyAssigned => ApiError::new(
                StatusCode::CONFLICT,
                "already_assigned",
                &Msg::new("该案件已由其他审核员负责", "Another reviewer has this case"),
                vec![],
            ),
            E::UnresolvedFlags => ApiError::new(
                StatusCode::CONFLICT,
                "unresolved_flags",
                &Msg::new(
                    "仍有未确认的提示或未处理的重复标记",
                    "Warnings or duplicate flags are still open; resolve them first",
                ),
                vec![],
            ),
            E::AppealRefused(code, msg) => ApiError::new(StatusCode::CONFLICT, code, &msg, vec![]),
            E::RateLimited => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_objections",
                &Msg::new(
                    "提交过于频繁，请稍后再试",
                    "Too many objections from you; try again later",
                ),
                vec![],
            ),
            E::Db(db) => ApiError::database(&db),
        }
    }
}

impl From<crate::eligibility::EligibilityError> for ApiError {
    fn from(err: crate::eligibility::EligibilityError) -> Self {
        use crate::eligibility::EligibilityError as E;
        match err {
            E::Invalid(fields) => ApiError::validation(fields),
            E::VersionTaken => ApiError::new(
                StatusCode::CONFLICT,
                "version_taken",
                &Msg::new(
                    "该政策版本号已存在；已发布的版本不能修改",
                    "This version exists; published versions never change",
                ),
                vec![FieldError::new(
                    "version",
                    "taken",
                    Msg::new("已被使用", "is already used"),
                )],
            ),
            E::NotFound => ApiError::not_found(),
            E::Forbidden => ApiError::forbidden(),
            E::Db(db) => ApiError::database(&db),
        }
    }
}

impl From<crate::allocation::AllocationError> for ApiError {
    fn from(err: crate::allocation::AllocationError) -> Self {
        use crate::allocation::AllocationError as E;
        match err {
            E::NotFound => ApiError::not_found(),
            E::Forbidden => ApiError::forbidden(),
            E::Invalid(fields) => ApiError::validation(fields),
            // Each bad cell of an imported file, named by its line and column.
            E::BadFile(cells) => ApiError::validation(
                cells
                    .into_iter()
                    .map(|c| {
                        let at = if c.column.is_empty() {
                            format!("line {}", c.line)
                        } else {
                            format!("line {} column {}", c.line, c.column)
                        };
                        FieldError::new(
                            at,
                            "bad_cell",
                            Msg::new(
                                format!(
                                    "第 {} 行{}（{}）：{}",
                                    c.line,
                                    if c.column.is_empty() {
                                        String::new()
                                    } else {
                                        format!(" {} 列", c.column)
                                    },
                                    c.header,
                                    c.zh
                                ),
                                format!(
                                    "line {}{} ({}): {}",
                                    c.line,
                                    if c.column.is_empty() {
                                        String::new()
                                    } else {
                                        format!(", column {}", c.column)
                                    },
                                    c.header,
                                    c.en
                                ),
                            ),
                        )
                    })
                    .collect(),
            ),
            E::WrongRoundState(s) => ApiError::new(
                StatusCode::CONFLICT,
                "round_wrong_state",
                &Msg::new(
                    format!("配租方案当前状态为 {s}，不能执行此操作"),
                    format!("Not allowed while the round is {s}"),
                ),
                vec![],
            ),
            E::Conflict(code, msg) => ApiError::new(StatusCode::CONFLICT, code, &msg, vec![]),
            E::Stale(v) => ApiError::new(
                StatusCode::CONFLICT,
                "stale_version",
                &Msg::new(
                    format!("房源已被修改（当前版本 {v}），请刷新后重试"),
                    format!("The unit changed (now version {v}); reload and try again"),
                ),
                vec![],
            ),
            E::Case(e) => e.into(),
            E::Db(e) => e.into(),
        }
    }
}

impl From<crate::batches::BatchError> for ApiError {
    fn from(err: crate::batches::BatchError) -> Self {
        use crate::batches::BatchError as E;
        let conflict = |code: &str, zh: &str, en: &str| {
            ApiError::new(StatusCode::CONFLICT, code, &Msg::new(zh, en), vec![])
        };
        match err {
            E::NotFound => ApiError::not_found(),
            E::Forbidden => ApiError::forbidden(),
            E::Invalid(fields) => ApiError::validation(fields),
            E::WrongState(s) => ApiError::new(
                StatusCode::CONFLICT,
                "batch_wrong_state",
                &Msg::new(
                    format!("批次当前状态为 {s}，不能执行此操作"),
                    format!("Not allowed while the batch is {s}"),
                ),
                vec![],
            ),
            E::Empty => conflict(
                "batch_empty",
                "空批次不能封存",
                "An empty batch cannot be sealed",
            ),
            E::NotReady => conflict(
                "case_not_ready",
                "该案件不是本街道、本项目的待上报案件",
                "The case is not ready to report in this sub-district and programme",
            ),
            E::InAnotherBatch => conflict(
                "case_in_another_batch",
                "该案件已在另一个未结批次中",
                "The case is already in an open batch",
            ),
            E::MakerChecker => conflict(
                "maker_checker",
                "封存人不能是批次中任何案件的初审通过人",
                "Whoever seals a batch may not have passed a case in it",
            ),
            E::CasesNotReady(ids) => conflict(
                "cases_not_ready",
                &format!("批次中的案件已不是待上报状态：{}", ids.join("、")),
                &format!(
                    "Cases of the batch are no longer ready to report: {}",
                    ids.join(", ")
                ),
            ),
            E::AlreadyDecided => conflict(
                "already_decided",
                "该案件已有区民政局意见",
                "The bureau has already decided this case",
            ),
            E::Mismatch => conflict(
                "manifest_mismatch",
                "回执的件数或哈希与封存清单不一致",
                "The acknowledged count or hash does not match the sealed manifest",
            ),
            E::Case(e) => e.into(),
            E::Db(db) => ApiError::database(&db),
        }
    }
}
