//! Auth use cases: register, log out, authenticate a token, manage staff (signing in
//! is `super::login`). Owns the transactions; argon2 runs through the bounded gate.

use chrono::{DateTime, Utc};
use entity::user_account;
use sea_orm::{DbErr, SqlErr};

use super::domain::{self, Principal, Role};
use super::repository::{self as repo, NewUser};
use crate::error::FieldError;
use crate::places;
use crate::state::AppState;
use crate::values::{self, Email, Mobile};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid login name or password")]
    InvalidCredentials,
    #[error("too many failed logins; locked until {0} (in {1} s)")]
    LockedOut(DateTime<Utc>, u64),
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
    #[error("too many password checks at once; try again shortly")]
    Busy,
    #[error("too many registrations from this address; try later")]
    TooManyRegistrations,
    #[error("too many password-reset requests; try later")]
    TooManyResets,
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
#[derive(Clone)]
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

pub(super) async fn hash(state: &AppState, password: String) -> Result<String, AuthError> {
    super::hashing::bounded(state, move |memory| {
        domain::hash_password_in(&password, memory)
    })
    .await
    .map_err(|_| AuthError::Busy)?
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
    let password_hash = hash(state, valid.password.clone()).await?;
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

/// What self-registration answers: the login names and the name as given, normalised,
/// and nothing else, so that the answer is the same whether the account was created now
/// or existed already.
pub struct Registration {
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub display_name: String,
}

/// Per-client limit on registrations (see `Settings::register_per_hour`).
#[derive(Default)]
struct RegisterLimiter(std::sync::OnceLock<crate::http::rate_limit::RateLimiter>);

/// Self-registration: always an applicant. A login name that is taken gets the same
/// answer as a new one (a stranger learns nothing of who has an account here), and the
/// existing account is told by e-mail that someone tried.
pub async fn register(
    state: &AppState,
    mut input: NewAccount,
    client: &str,
) -> Result<Registration, AuthError> {
    input.role = Role::Applicant;
    input.place_codes.clear();
    let today = crate::clock::local_date(state.clock.now());
    let valid = validate(input.clone(), today).map_err(AuthError::Invalid)?;
    let answer = Registration {
        mobile: valid.mobile.as_ref().map(|m| m.as_str().to_string()),
        email: valid.email.as_ref().map(|e| e.as_str().to_string()),
        display_name: valid.display_name.clone(),
    };
    let limiter = state.cache::<RegisterLimiter>();
    let limiter = limiter.0.get_or_init(|| {
        crate::http::rate_limit::RateLimiter::new(
            state.settings.register_per_hour,
            chrono::Duration::hours(1),
        )
    });
    if !limiter.allow(&[client], state.clock.now()) {
        return Err(AuthError::TooManyRegistrations);
    }
    match create_account(state, input).await {
        Ok(_) => Ok(answer),
        Err(AuthError::AccountExists(_)) => {
            tell_the_owner(state, &valid).await?;
            Ok(answer)
        }
        Err(e) => Err(e),
    }
}

/// E-mails the holder of a taken login name that someone tried to register with it.
async fn tell_the_owner(state: &AppState, valid: &ValidAccount) -> Result<(), AuthError> {
    let mut owner = None;
    if let Some(e) = &valid.email {
        owner = repo::find_user_by_login(&state.db, &domain::LoginName::Email(e.clone())).await?;
    }
    if owner.is_none()
        && let Some(m) = &valid.mobile
    {
        owner = repo::find_user_by_login(&state.db, &domain::LoginName::Mobile(m.clone())).await?;
    }
    let Some(owner) = owner.filter(|o| o.email.is_some()) else {
        return Ok(());
    };
    let now = state.clock.now();
    let lang = crate::i18n::Lang::Zh;
    let message = crate::notifications::NewMessage {
        application_id: None,
        event_id: None,
        kind: "registration_attempt",
        recipient: owner.email.clone(),
        language: lang.into(),
        rendered: crate::notifications::templates::registration_attempt(lang, &owner.display_name),
    };
    crate::notifications::enqueue(&state.db, message, now).await?;
    Ok(())
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
pub(super) fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| domain::hash_password("no account has this password").unwrap_or_default())
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
    let place_ids = if crate::auth::domain::scope_kind(role).is_none() {
        vec![]
    } else if let Some(ids) = repo::session_scope(&session) {
        ids
    } else {
        repo::scope_of(&state.db, user.id).await?
    };
    Ok(Some(Principal {
        user_id: user.id,
        session_id: session.id,
        role,
        place_ids,
        id_hash: user.id_hash.clone(),
    }))
}

pub(super) async fn load_account(
    state: &AppState,
    user: user_account::Model,
) -> Result<Account, AuthError> {
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
    let created = create_account(
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
    .await;
    match created {
        Ok(account) => Ok(Some(account)),
        // Made meanwhile by another instance starting on the same database.
        Err(AuthError::AccountExists(_)) => Ok(None),
        Err(e) => Err(e),
    }
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

/// The enabled reviewers who cover `community_id`, as (account id, name), for a
/// supervisor choosing whom to assign a case to.
pub async fn reviewers_covering(
    db: &impl sea_orm::ConnectionTrait,
    community_id: i64,
) -> Result<Vec<(i64, String)>, DbErr> {
    Ok(repo::scoped_to(db, Role::Reviewer, community_id)
        .await?
        .into_iter()
        .map(|u| (u.id, u.display_name))
        .collect())
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
