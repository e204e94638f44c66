//! HTTP for accounts: registration, login/logout, the caller's own account, and the
//! admin's staff-account endpoints. Also the bearer-token security scheme.

use chrono::{DateTime, Utc};
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use serde::Deserialize;

use super::domain::Role;
use super::service::{self, Account, NewAccount};
use crate::error::ApiError;
use crate::http::body::JsonBody;
use crate::i18n::Lang;
use crate::openapi::ApiTags;
use crate::state::AppState;

pub use crate::access::BearerAuth;

/// A new applicant account.
#[derive(Object, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Mainland mobile number (11 digits; +86, spaces and dashes allowed). This or `email` is required.
    #[oai(validator(max_length = 20))]
    pub mobile: Option<String>,
    /// E-mail address. This or `mobile` is required.
    #[oai(validator(max_length = 254))]
    pub email: Option<String>,
    /// Password, 8 to 128 characters.
    #[oai(validator(min_length = 8, max_length = 128))]
    pub password: String,
    /// The name shown to staff, 1 to 50 characters.
    #[oai(validator(min_length = 1, max_length = 50))]
    pub display_name: String,
}

/// Credentials.
#[derive(Object, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Mobile number or e-mail address.
    #[oai(validator(max_length = 254))]
    pub login: String,
    /// Password.
    #[oai(validator(max_length = 128))]
    pub password: String,
}

/// Asking for a password-reset link.
#[derive(Object, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// Mobile number or e-mail address of the account.
    #[oai(validator(max_length = 254))]
    pub login: String,
}

/// Setting a new password with a reset link's token.
#[derive(Object, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirm {
    /// The token from the e-mailed link (the last part of its path).
    #[oai(validator(max_length = 128))]
    pub token: String,
    /// The new password, 8 to 128 characters.
    #[oai(validator(max_length = 128))]
    pub password: String,
}

#[derive(ApiResponse)]
pub enum ResetRequested {
    /// If the account exists and has an e-mail address, a link is on its way. The answer
    /// is the same either way.
    #[oai(status = 202)]
    Accepted,
}

#[derive(ApiResponse)]
pub enum ResetDone {
    /// The password is changed; every session of the account has ended.
    #[oai(status = 204)]
    Done,
}

/// A place in a staff account's scope.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ScopePlaceView {
    /// Place code, e.g. `410104003-01`.
    pub code: String,
    /// Place name, e.g. 惠工街社区.
    pub name: String,
    /// `district`, `subdistrict` or `community`.
    pub kind: String,
}

/// An account.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct UserView {
    /// Account id.
    pub id: i64,
    /// What the account may do.
    pub role: Role,
    /// Name shown to staff.
    pub display_name: String,
    /// Mobile number, if given.
    pub mobile: Option<String>,
    /// E-mail address, if given.
    pub email: Option<String>,
    /// The places a staff account acts on (empty for applicants and admins).
    pub places: Vec<ScopePlaceView>,
    /// A disabled account cannot log in.
    pub disabled: bool,
    /// When the account was created (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
}

impl From<Account> for UserView {
    fn from(a: Account) -> Self {
        UserView {
            id: a.user.id,
            role: a.role,
            display_name: a.user.display_name,
            mobile: a.user.mobile,
            email: a.user.email,
            places: a
                .places
                .into_iter()
                .map(|p| ScopePlaceView {
                    code: p.code,
                    name: p.name,
                    kind: p.kind.as_str().to_string(),
                })
                .collect(),
            disabled: a.user.disabled,
            created_at: a.user.created_at,
        }
    }
}

/// A login session.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct LoginView {
    /// Opaque bearer token: send it as `Authorization: Bearer <token>`.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// When the token stops working (RFC 3339, UTC).
    pub expires_at: DateTime<Utc>,
    /// The logged-in account.
    pub user: UserView,
}

/// What registration answers, the same whether the login name was new or taken (a
/// taken one's owner is told by e-mail): sign in next.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RegistrationView {
    /// The mobile number as it will be used to sign in (11 digits).
    pub mobile: Option<String>,
    /// The e-mail address as it will be used to sign in (lower case).
    pub email: Option<String>,
    /// The name given.
    pub display_name: String,
    /// Always `applicant`.
    pub role: Role,
}

#[derive(ApiResponse)]
pub enum Registered {
    /// Registered: sign in with the mobile number or e-mail and the password.
    #[oai(status = 201)]
    Created(Json<RegistrationView>),
}

#[derive(ApiResponse)]
pub enum CreatedUser {
    /// The account was created.
    #[oai(status = 201)]
    Created(Json<UserView>),
}

#[derive(ApiResponse)]
pub enum UserResponse {
    /// The account.
    #[oai(status = 200)]
    Ok(Json<UserView>),
}

#[derive(ApiResponse)]
pub enum LoginResponse {
    /// Logged in.
    #[oai(status = 200)]
    Ok(Json<LoginView>),
}

#[derive(ApiResponse)]
pub enum LogoutResponse {
    /// The token is revoked.
    #[oai(status = 204)]
    Revoked,
}

pub struct AuthApi {
    pub state: AppState,
}

impl From<RegisterRequest> for NewAccount {
    fn from(r: RegisterRequest) -> Self {
        NewAccount {
            role: Role::Applicant,
            display_name: r.display_name,
            mobile: r.mobile,
            email: r.email,
            password: r.password,
            place_codes: vec![],
            id_number: None,
        }
    }
}

#[OpenApi(prefix_path = "/api/v1/auth", tag = "ApiTags::Auth")]
impl AuthApi {
    /// Register as an applicant
    ///
    /// Creates an applicant account with a mobile number and/or e-mail address and a
    /// password. Staff accounts are created by an admin instead. A mobile or e-mail that
    /// is already registered gets the same answer (its owner is e-mailed), so the
    /// answer says nothing about who has an account; each client address may register
    /// `register_per_hour` accounts an hour (429 beyond).
    #[oai(path = "/register", method = "post", operation_id = "auth_register")]
    async fn register(&self, body: JsonBody<RegisterRequest>) -> Result<Registered, ApiError> {
        let client = crate::http::context::client_key();
        let r = service::register(&self.state, body.0.into(), &client).await?;
        Ok(Registered::Created(Json(RegistrationView {
            mobile: r.mobile,
            email: r.email,
            display_name: r.display_name,
            role: Role::Applicant,
        })))
    }

    /// Log in
    ///
    /// Exchanges a login name and password for a bearer token. A wrong name or password
    /// gets the same 401 whether or not the account exists; repeated failures lock the
    /// login name for a while (429).
    #[oai(path = "/login", method = "post", operation_id = "auth_login")]
    async fn login(&self, body: JsonBody<LoginRequest>) -> Result<LoginResponse, ApiError> {
        let client = crate::http::context::client_key();
        let out =
            super::login::login(&self.state, &body.0.login, &body.0.password, &client).await?;
        Ok(LoginResponse::Ok(Json(LoginView {
            token: out.token,
            token_type: "Bearer".into(),
            expires_at: out.expires_at,
            user: out.account.into(),
        })))
    }

    /// Log out
    ///
    /// Revokes the token used for this request.
    #[oai(path = "/logout", method = "post", operation_id = "auth_logout")]
    async fn logout(&self, auth: BearerAuth) -> Result<LogoutResponse, ApiError> {
        service::logout(&self.state, &auth.0).await?;
        Ok(LogoutResponse::Revoked)
    }

    /// Ask for a password-reset link
    ///
    /// E-mails a link (through the outbox) to the account's e-mail address, good for 30
    /// minutes and once. The answer is the same whether or not the account exists; five
    /// requests an hour per client address and per account (429 beyond).
    #[oai(
        path = "/password-reset",
        method = "post",
        operation_id = "auth_password_reset"
    )]
    async fn password_reset(
        &self,
        body: JsonBody<ResetRequest>,
    ) -> Result<ResetRequested, ApiError> {
        let client = crate::http::context::client_key();
        super::reset::request(&self.state, &body.0.login, Lang::current(), &client).await?;
        Ok(ResetRequested::Accepted)
    }

    /// Set a new password with a reset link
    ///
    /// A link that is unknown, used or expired is refused (422 on `token`); a link
    /// works once, and every session of the account ends.
    #[oai(
        path = "/password-reset/confirm",
        method = "post",
        operation_id = "auth_password_reset_confirm"
    )]
    async fn password_reset_confirm(
        &self,
        body: JsonBody<ResetConfirm>,
    ) -> Result<ResetDone, ApiError> {
        super::reset::complete(&self.state, &body.0.token, &body.0.password).await?;
        Ok(ResetDone::Done)
    }

    /// The caller's own account
    #[oai(path = "/me", method = "get", operation_id = "auth_me")]
    async fn me(&self, auth: BearerAuth) -> Result<UserResponse, ApiError> {
        let account = service::me(&self.state, &auth.0).await?;
        Ok(UserResponse::Ok(Json(account.into())))
    }
}

/// A new staff account.
#[derive(Object, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// Role of the new account.
    pub role: Role,
    /// Name shown to colleagues, 1 to 50 characters.
    #[oai(validator(min_length = 1, max_length = 50))]
    pub display_name: String,
    /// Mobile number (login name). This or `email` is required.
    #[oai(validator(max_length = 20))]
    pub mobile: Option<String>,
    /// E-mail address (login name). This or `mobile` is required.
    #[oai(validator(max_length = 254))]
    pub email: Option<String>,
    /// Initial password, 8 to 128 characters.
    #[oai(validator(min_length = 8, max_length = 128))]
    pub password: String,
    /// Place codes of the scope: one or more communities for a reviewer, exactly one
    /// sub-district for a supervisor, exactly one district for the bureau, none otherwise.
    #[oai(default, validator(max_items = 100))]
    #[serde(default)]
    pub places: Vec<String>,
    /// The staff member's own identity number, so that they are kept off cases of their
    /// own household (conflict of interest). Only a keyed hash is stored.
    #[oai(validator(max_length = 40))]
    pub id_number: Option<String>,
}

/// One page of accounts.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct UserPage {
    /// Accounts in ascending id order.
    pub items: Vec<UserView>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_after: Option<i64>,
}

#[derive(ApiResponse)]
pub enum UserPageResponse {
    /// A page of accounts.
    #[oai(status = 200)]
    Ok(Json<UserPage>),
}

pub struct UserApi {
    pub state: AppState,
}

#[OpenApi(prefix_path = "/api/v1/admin/users", tag = "ApiTags::Users")]
impl UserApi {
    /// Create a staff account (admin)
    #[oai(path = "/", method = "post", operation_id = "users_create")]
    async fn create(
        &self,
        auth: BearerAuth,
        body: JsonBody<CreateUserRequest>,
    ) -> Result<CreatedUser, ApiError> {
        let r = body.0;
        let input = NewAccount {
            role: r.role,
            display_name: r.display_name,
            mobile: r.mobile,
            email: r.email,
            password: r.password,
            place_codes: r.places,
            id_number: r.id_number,
        };
        let account = service::create_staff(&self.state, &auth.0, input).await?;
        Ok(CreatedUser::Created(Json(account.into())))
    }

    /// List accounts (admin)
    #[oai(path = "/", method = "get", operation_id = "users_list")]
    async fn list(
        &self,
        auth: BearerAuth,
        /// Only accounts of this role.
        role: Query<Option<Role>>,
        /// Return accounts with an id greater than this (the previous page's `next_after`).
        #[oai(validator(minimum(value = "0")))]
        after: Query<Option<i64>>,
        /// Page size, 1 to 100 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u64>>,
    ) -> Result<UserPageResponse, ApiError> {
        let limit = limit.0.unwrap_or(50);
        let accounts =
            service::list_users(&self.state, &auth.0, role.0, after.0.unwrap_or(0), limit).await?;
        let next_after = (accounts.len() as u64 == limit)
            .then(|| accounts.last().map(|a| a.user.id))
            .flatten();
        Ok(UserPageResponse::Ok(Json(UserPage {
            items: accounts.into_iter().map(UserView::from).collect(),
            next_after,
        })))
    }

    /// Read an account (admin)
    #[oai(path = "/:id", method = "get", operation_id = "users_get")]
    async fn get(&self, auth: BearerAuth, id: Path<i64>) -> Result<UserResponse, ApiError> {
        let account = service::get_user(&self.state, &auth.0, id.0).await?;
        Ok(UserResponse::Ok(Json(account.into())))
    }

    /// Disable an account (admin)
    ///
    /// The account can no longer log in and its live tokens are revoked at once.
    #[oai(path = "/:id/disable", method = "post", operation_id = "users_disable")]
    async fn disable(&self, auth: BearerAuth, id: Path<i64>) -> Result<UserResponse, ApiError> {
        let account = service::disable_user(&self.state, &auth.0, id.0).await?;
        Ok(UserResponse::Ok(Json(account.into())))
    }
}
