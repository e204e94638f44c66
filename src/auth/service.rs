//! Auth use cases: register, log in and out, authenticate a token, manage staff.
//! Owns the transactions; the slow argon2 work runs on the blocking pool.

use chrono::{DateTime, Duration, Utc};
use entity::{login_throttle, user_account};
use sea_orm::{DbErr, SqlErr};

use super::domain::{self, LoginName, Principal, Role};
use super::repository::{self as repo, NewUser};
use crate::error::FieldError;
use crate::places;
use crate::state::AppState;
use crate::values::{self, Email, Mobile};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid login name or password")]
    InvalidCredentials,
    #[error("too many failed logins; locked until {0}")]
    LockedOut(DateTime<Utc>),
    #[error("the caller's role may not do this")]
    Forbidden,
    #[error("an account with this {0} already exists")]
    AccountExists(&'static str),
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("no such user")]
    NotFound,
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// A stored account with its scope, as the API shows it.
#[derive(Clone, Debug)]
pub struct Account {
    pub user: user_account::Model,
    pub role: Role,
    pub places: Vec<places::Place>,
}

/// What a successful login returns.
pub struct LoginOutcome {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub account: Account,
}

/// The input of a new account, before validation.
pub struct NewAccount {
    pub role: Role,
    pub display_name: String,
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub password: String,
    pub place_codes: Vec<String>,
    /// A staff member's own identity number, for conflict-of-interest checks. Only its
    /// keyed hash is stored.
    pub id_number: Option<String>,
}

struct ValidAccount {
    role: Role,
    display_name: String,
    mobile: Option<Mobile>,
    email: Option<Email>,
    password: String,
    id_number: Option<crate::values::IdNumber>,
}

fn validate(input: NewAccount, today: chrono::NaiveDate) -> Result<ValidAccount, Vec<FieldError>> {
    let mut errors = Vec::new();
    let id_number = input
        .id_number
        .as_deref()
        .map(|raw| crate::values::IdNumber::parse("id_number", raw, today))
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let display_name = values::text("display_name", &input.display_name, 50)
        .map_err(|e| errors.push(e))
        .unwrap_or_default();
    let mobile = input
        .mobile
        .as_deref()
        .map(|m| Mobile::parse("mobile", m))
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let email = input
        .email
        .as_deref()
        .map(|e| Email::parse("email", e))
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    if input.mobile.is_none() && input.email.is_none() {
        errors.push(FieldError::new(
            "mobile",
            "mobile_or_email_required",
            crate::i18n::Msg::new(
                "手机号码和电子邮箱至少填写一项",
                "give a mobile number, an e-mail address, or both",
            ),
        ));
    }
    if let Err(e) = domain::check_new_password("password", &input.password) {
        errors.push(e);
    }
    if errors.is_empty() {
        Ok(ValidAccount {
            role: input.role,
            display_name,
            mobile,
            email,
            password: input.password,
            id_number,
        })
    } else {
        Err(errors)
    }
}

async fn hash(password: String) -> Result<String, AuthError> {
    tokio::task::spawn_blocking(move || domain::hash_password(&password))
        .await
        .map_err(|e| AuthError::Hash(e.to_string()))?
        .map_err(|e| AuthError::Hash(e.to_string()))
}

fn unique_violation(err: DbErr, valid: &ValidAccount) -> AuthError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(detail)) => {
            let field = if valid.email.is_some() && detail.contains("email") {
                "email"
            } else {
                "mobile"
            };
            AuthError::AccountExists(field)
        }
        _ => AuthError::Db(err),
    }
}

/// Checks that `codes` name places of the kind `role` is scoped to (and that a
/// supervisor or bureau account has exactly one).
async fn resolve_scope(
    state: &AppState,
    role: Role,
    codes: &[String],
) -> Result<Vec<places::Place>, AuthError> {
    let field = "places";
    let Some(kind) = crate::auth::domain::scope_kind(role) else {
        if codes.is_empty() {
            return Ok(vec![]);
        }
        return Err(AuthError::Invalid(vec![FieldError::new(
            field,
            "scope_not_allowed",
            crate::i18n::Msg::new("该角色不设管辖范围", "this role has no place scope"),
        )]));
    };
    let found = places::service::resolve_codes(&state.db, field, codes)
        .await?
        .map_err(AuthError::Invalid)?;
    let mut errors = Vec::new();
    if found.is_empty() || (role != Role::Reviewer && found.len() != 1) {
        errors.push(FieldError::new(
            field,
            "scope_size",
            crate::i18n::Msg::new(
                "审核员至少一个社区；街道主管和区民政局各需恰好一个辖区",
                "a reviewer needs at least one community; a supervisor or bureau account exactly one place",
            ),
        ));
    }
    for (i, p) in found.iter().enumerate() {
        if p.kind.as_str() != kind {
            errors.push(FieldError::new(
                format!("{field}[{i}]"),
                "wrong_place_kind",
                crate::i18n::Msg::new(
                    format!("该角色的管辖范围必须是 {kind}"),
                    format!("this role's scope must be a {kind}"),
                ),
            ));
        }
    }
    if errors.is_empty() {
        Ok(found)
    } else {
        Err(AuthError::Invalid(errors))
    }
}

/// Creates an account of any role without checking who asks: for `anju user add`,
/// the bootstrap admin, and the checked entry points below.
pub async fn create_account(state: &AppState, input: NewAccount) -> Result<Account, AuthError> {
    let role = input.role;
    let codes = input.place_codes.clone();
    // Check the fields and the scope together so that every problem is reported at once.
    let today = crate::clock::local_date(state.clock.now());
    let (valid, places) = match (
        validate(input, today),
        resolve_scope(state, role, &codes).await,
    ) {
        (Ok(valid), Ok(places)) => (valid, places),
        (Err(mut fields), Err(AuthError::Invalid(more))) => {
            fields.extend(more);
            return Err(AuthError::Invalid(fields));
        }
        (Err(fields), _) => return Err(AuthError::Invalid(fields)),
        (Ok(_), Err(e)) => return Err(e),
    };
    let password_hash = hash(valid.password.clone()).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    let user = repo::insert_user(
        &txn,
        NewUser {
            role: valid.role,
            mobile: valid.mobile.as_ref().map(Mobile::as_str),
            email: valid.email.as_ref().map(Email::as_str),
            display_name: &valid.display_name,
            password_hash: &password_hash,
            id_hash: valid
                .id_number
                .as_ref()
                .map(|id| id.keyed_hash(&state.id_hash_key)),
            now: state.clock.now(),
        },
    )
    .await
    .map_err(|e| unique_violation(e, &valid))?;
    let ids: Vec<i64> = places.iter().map(|p| p.id).collect();
    repo::add_scope(&txn, user.id, &ids).await?;
    txn.commit().await?;
    Ok(Account {
        user,
        role: valid.role,
        places,
    })
}

/// Self-registration: always an applicant.
pub async fn register(state: &AppState, mut input: NewAccount) -> Result<Account, AuthError> {
    input.role = Role::Applicant;
    input.place_codes.clear();
    create_account(state, input).await
}

/// An admin creates a staff account.
pub async fn create_staff(
    state: &AppState,
    caller: &Principal,
    input: NewAccount,
) -> Result<Account, AuthError> {
    require(caller, &[Role::Admin])?;
    create_account(state, input).await
}

pub fn require(caller: &Principal, roles: &[Role]) -> Result<(), AuthError> {
    if caller.is(roles) {
        Ok(())
    } else {
        Err(AuthError::Forbidden)
    }
}

/// A PHC hash of a random password, verified against when the login name is unknown so
/// that a miss costs the same time as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| domain::hash_password("no account has this password").unwrap_or_default())
}

pub async fn login(
    state: &AppState,
    login: &str,
    password: &str,
) -> Result<LoginOutcome, AuthError> {
    // A malformed login name is just a failed login: the answer must not differ.
    let name = LoginName::parse("login", login).ok();
    let key = match &name {
        Some(n) => n.throttle_key(),
        None => domain::hash_token(&format!("raw:{}", login.trim())),
    };
    let now = state.clock.now();
    let throttle = repo::find_throttle(&state.db, &key).await?;
    if let Some(until) = throttle
        .as_ref()
        .and_then(|t| t.locked_until)
        .filter(|u| *u > now)
    {
        return Err(AuthError::LockedOut(until));
    }
    let user = match &name {
        Some(n) => repo::find_user_by_login(&state.db, n).await?,
        None => None,
    };
    let stored = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_string());
    let candidate = password.to_string();
    let matches = tokio::task::spawn_blocking(move || domain::verify_password(&stored, &candidate))
        .await
        .map_err(|e| AuthError::Hash(e.to_string()))?;
    let user = match user {
        Some(u) if matches && !u.disabled => u,
        _ => {
            record_failure(state, &key, throttle, now).await?;
            return Err(AuthError::InvalidCredentials);
        }
    };
    let (token, token_hash) = domain::new_token();
    let expires_at = now + Duration::minutes(state.settings.token_ttl_minutes);
    let txn = crate::db::begin_write(&state.db).await?;
    repo::clear_throttle(&txn, &key).await?;
    repo::insert_session(&txn, user.id, &token_hash, now, expires_at).await?;
    txn.commit().await?;
    let account = load_account(state, user).await?;
    Ok(LoginOutcome {
        token,
        expires_at,
        account,
    })
}

async fn record_failure(
    state: &AppState,
    key: &str,
    previous: Option<login_throttle::Model>,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    let failures = previous.map(|t| t.failures).unwrap_or(0) + 1;
    let (failures, locked_until) = if failures >= state.settings.login_max_failures {
        (
            0,
            Some(now + Duration::minutes(state.settings.login_lockout_minutes)),
        )
    } else {
        (failures, None)
    };
    repo::save_throttle(
        &state.db,
        login_throttle::Model {
            login_hash: key.to_string(),
            failures,
            locked_until,
            updated_at: now,
        },
    )
    .await?;
    Ok(())
}

pub async fn logout(state: &AppState, caller: &Principal) -> Result<(), AuthError> {
    repo::revoke_session(&state.db, caller.session_id, state.clock.now()).await?;
    Ok(())
}

/// The principal behind a bearer token, or `None` for an unknown, expired or revoked
/// token or a disabled account.
/// The token check `crate::access::BearerAuth` calls, installed at start-up.
pub struct TokenCheck;

#[async_trait::async_trait]
impl crate::access::Authenticate for TokenCheck {
    async fn principal(&self, state: &AppState, token: &str) -> Result<Option<Principal>, DbErr> {
        authenticate(state, token).await
    }
}

pub async fn authenticate(state: &AppState, token: &str) -> Result<Option<Principal>, DbErr> {
    let hash = domain::hash_token(token);
    let Some((session, user)) =
        repo::find_live_session(&state.db, &hash, state.clock.now()).await?
    else {
        return Ok(None);
    };
    let Some(role) = Some(user.role).filter(|_| !user.disabled) else {
        return Ok(None);
    };
    let place_ids = if crate::auth::domain::scope_kind(role).is_some() {
        repo::scope_of(&state.db, user.id).await?
    } else {
        vec![]
    };
    Ok(Some(Principal {
        user_id: user.id,
        session_id: session.id,
        role,
        place_ids,
    }))
}

async fn load_account(state: &AppState, user: user_account::Model) -> Result<Account, AuthError> {
    let role = user.role;
    let ids = repo::scope_of(&state.db, user.id).await?;
    let places = places::service::by_ids(&state.db, &ids).await?;
    Ok(Account { user, role, places })
}

pub async fn me(state: &AppState, caller: &Principal) -> Result<Account, AuthError> {
    let user = repo::find_user(&state.db, caller.user_id)
        .await?
        .ok_or(AuthError::NotFound)?;
    load_account(state, user).await
}

pub async fn get_user(state: &AppState, caller: &Principal, id: i64) -> Result<Account, AuthError> {
    require(caller, &[Role::Admin])?;
    let user = repo::find_user(&state.db, id)
        .await?
        .ok_or(AuthError::NotFound)?;
    load_account(state, user).await
}

pub async fn list_users(
    state: &AppState,
    caller: &Principal,
    role: Option<Role>,
    after_id: i64,
    limit: u64,
) -> Result<Vec<Account>, AuthError> {
    require(caller, &[Role::Admin])?;
    let users = repo::list_users(&state.db, role, after_id, limit).await?;
    let mut out = Vec::with_capacity(users.len());
    for u in users {
        out.push(load_account(state, u).await?);
    }
    Ok(out)
}

/// Disables an account and revokes its sessions at once.
pub async fn disable_user(
    state: &AppState,
    caller: &Principal,
    id: i64,
) -> Result<Account, AuthError> {
    require(caller, &[Role::Admin])?;
    let txn = crate::db::begin_write(&state.db).await?;
    if repo::find_user(&txn, id).await?.is_none() {
        return Err(AuthError::NotFound);
    }
    repo::set_disabled(&txn, id).await?;
    repo::revoke_all_sessions(&txn, id, state.clock.now()).await?;
    txn.commit().await?;
    get_user(state, caller, id).await
}

/// Creates the admin named by the bootstrap settings when no admin exists yet.
pub async fn ensure_bootstrap_admin(state: &AppState) -> Result<Option<Account>, AuthError> {
    let (Some(login), Some(password)) = (
        state.settings.bootstrap_admin_login.clone(),
        state.settings.bootstrap_admin_password.clone(),
    ) else {
        return Ok(None);
    };
    if repo::any_admin_exists(&state.db).await? {
        return Ok(None);
    }
    let (mobile, email) = if login.contains('@') {
        (None, Some(login))
    } else {
        (Some(login), None)
    };
    create_account(
        state,
        NewAccount {
            role: Role::Admin,
            display_name: "管理员".into(),
            mobile,
            email,
            password,
            place_codes: vec![],
            id_number: None,
        },
    )
    .await
    .map(Some)
}

/// The keyed hash of a staff member's own identity number, if one was given.
/// An account by id, for the command line's own bookkeeping (the demo).
pub async fn find_user(
    db: &impl sea_orm::ConnectionTrait,
    id: i64,
) -> Result<Option<entity::user_account::Model>, DbErr> {
    repo::find_user(db, id).await
}

pub async fn id_hash_of(
    db: &impl sea_orm::ConnectionTrait,
    user_id: i64,
) -> Result<Option<String>, DbErr> {
    Ok(repo::find_user(db, user_id).await?.and_then(|u| u.id_hash))
}

/// Whether `user_id` is an enabled reviewer whose scope includes `community_id`.
pub async fn reviewer_covers(
    db: &impl sea_orm::ConnectionTrait,
    user_id: i64,
    community_id: i64,
) -> Result<bool, DbErr> {
    let Some(user) = repo::find_user(db, user_id).await? else {
        return Ok(false);
    };
    if user.disabled || user.role != Role::Reviewer {
        return Ok(false);
    }
    Ok(repo::scope_of(db, user_id).await?.contains(&community_id))
}
