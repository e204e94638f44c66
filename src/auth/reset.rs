//! A forgotten password, reset by a link e-mailed through the outbox. Asking always gets
//! the same answer (nobody learns who has an account); the link is good for
//! `RESET_MINUTES`, works once, and using it signs the account out everywhere.

use chrono::Duration;

use super::domain::{self, LoginName};
use super::repository as repo;
use super::service::AuthError;
use crate::error::FieldError;
use crate::i18n::{Lang, Msg};
use crate::state::AppState;

pub const RESET_MINUTES: i64 = 30;

/// Per-client and per-account limits on asking for links.
#[derive(Default)]
struct ResetLimiter(std::sync::OnceLock<crate::http::rate_limit::RateLimiter>);

/// Sends a reset link to the account's e-mail, if there is such an account with an
/// e-mail address. Answers the same either way.
pub async fn request(
    state: &AppState,
    login: &str,
    lang: Lang,
    client: &str,
) -> Result<(), AuthError> {
    let name = LoginName::parse("login", login).map_err(|e| AuthError::Invalid(vec![e]))?;
    let limiter = state.cache::<ResetLimiter>();
    let limiter = limiter
        .0
        .get_or_init(|| crate::http::rate_limit::RateLimiter::new(5, chrono::Duration::hours(1)));
    let account_key = name.throttle_key();
    if !limiter.allow(&[client, &account_key], state.clock.now()) {
        return Err(AuthError::TooManyResets);
    }
    let Some(user) = repo::find_user_by_login(&state.db, &name).await? else {
        return Ok(());
    };
    let Some(email) = user.email.clone().filter(|_| !user.disabled) else {
        return Ok(());
    };
    let (token, hash) = domain::new_token();
    let now = state.clock.now();
    let link = format!(
        "{}/password/reset/{token}",
        state.settings.public_url.trim_end_matches('/')
    );
    let txn = crate::db::begin_write(&state.db).await?;
    repo::insert_reset(
        &txn,
        user.id,
        &hash,
        now,
        now + Duration::minutes(RESET_MINUTES),
    )
    .await?;
    let message = crate::notifications::NewMessage {
        application_id: None,
        event_id: None,
        kind: "password_reset",
        recipient: Some(email),
        language: lang.into(),
        rendered: crate::notifications::templates::password_reset(
            lang,
            &user.display_name,
            &link,
            RESET_MINUTES,
        ),
    };
    crate::notifications::enqueue(&txn, message, now).await?;
    txn.commit().await?;
    Ok(())
}

fn bad_link() -> AuthError {
    AuthError::Invalid(vec![FieldError::new(
        "token",
        "invalid_reset_link",
        Msg::new(
            "该链接无效、已使用或已过期，请重新申请",
            "this link is not valid, was used already or has expired; ask for a new one",
        ),
    )])
}

/// Whether the link can still be used.
pub async fn is_live(state: &AppState, token: &str) -> Result<bool, AuthError> {
    Ok(repo::reset_is_live(&state.db, &domain::hash_token(token), state.clock.now()).await?)
}

/// Sets a new password with a link; every session of the account ends.
pub async fn complete(state: &AppState, token: &str, password: &str) -> Result<(), AuthError> {
    domain::check_new_password("password", password).map_err(|e| AuthError::Invalid(vec![e]))?;
    if !is_live(state, token).await? {
        return Err(bad_link());
    }
    let hash = super::service::hash(state, password.to_string()).await?;
    let now = state.clock.now();
    let txn = crate::db::begin_write(&state.db).await?;
    let Some(user_id) = repo::use_reset(&txn, &domain::hash_token(token), now).await? else {
        return Err(bad_link());
    };
    repo::set_password(&txn, user_id, &hash).await?;
    repo::revoke_all_sessions(&txn, user_id, now).await?;
    txn.commit().await?;
    Ok(())
}
