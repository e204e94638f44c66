//! Signing in, and the limits that keep guessing slow without letting a stranger lock the
//! owner out.
//!
//! Two counters, both in `login_throttle`, both taken atomically before any password is
//! checked (one `INSERT … ON CONFLICT DO UPDATE … RETURNING`, so forty sign-ins sent at
//! once count forty, and only the first `login_max_failures` are checked):
//!
//! - per client address and login name: `login_max_failures` tries per
//!   `login_lockout_minutes`. Whoever guesses from one address locks only that address
//!   out of that account; the owner elsewhere is not affected.
//! - per login name from every address: `login_account_max_failures` failures per
//!   `login_account_window_minutes`. Past it, only addresses that signed in to the account
//!   successfully in the last 30 days may try, so a guesser spread over many addresses is
//!   held to that rate while the owner, from a usual address, still gets in.
//!
//! The hash itself runs through the bounded gate (`super::hashing`). A wrong password and
//! an unknown account get the same answer, after the same work.

use chrono::{DateTime, Duration, Utc};
use sea_orm::DbErr;

use super::domain::{self, LoginName};
use super::repository as repo;
use super::service::{Account, AuthError, LoginOutcome, dummy_hash, load_account};
use crate::state::AppState;

/// How long an address that signed in to an account is known to it.
const KNOWN_FOR_DAYS: i64 = 30;

struct Keys {
    /// This client and this login name.
    pair: String,
    /// This login name, from anywhere.
    account: String,
    /// This client has signed in to this login name before.
    known: String,
}

fn keys(login: &str, client: &str) -> (Option<LoginName>, Keys) {
    // A malformed login name is just a failed login: the answer must not differ.
    let name = LoginName::parse("login", login).ok();
    let account = match &name {
        Some(n) => n.throttle_key(),
        None => domain::hash_token(&format!("raw:{}", login.trim())),
    };
    let keys = Keys {
        pair: domain::hash_token(&format!("pair:{client}:{account}")),
        known: domain::hash_token(&format!("known:{client}:{account}")),
        // Every key is a 64-character hash: the column holds no more.
        account: domain::hash_token(&format!("acct:{account}")),
    };
    (name, keys)
}

fn locked(until: DateTime<Utc>, now: DateTime<Utc>) -> AuthError {
    AuthError::LockedOut(until, (until - now).num_seconds().max(1) as u64)
}

/// Refuses before any work if the account-wide limit is reached for an unknown address,
/// then takes one try for this address; the time the wait ends when refused.
async fn take_a_try(state: &AppState, k: &Keys, now: DateTime<Utc>) -> Result<(), AuthError> {
    let s = &state.settings;
    let account_window = Duration::minutes(s.login_account_window_minutes);
    if let Some(acct) = repo::find_throttle(&state.db, &k.account).await? {
        let open = acct.updated_at > now - account_window;
        if open && acct.failures >= s.login_account_max_failures && !known(state, k, now).await? {
            return Err(locked(acct.updated_at + account_window, now));
        }
    }
    let window = Duration::minutes(s.login_lockout_minutes);
    let (tries, since) = repo::count_try(&state.db, &k.pair, now, window).await?;
    if tries > s.login_max_failures {
        return Err(locked(since + window, now));
    }
    Ok(())
}

async fn known(state: &AppState, k: &Keys, now: DateTime<Utc>) -> Result<bool, DbErr> {
    Ok(repo::find_throttle(&state.db, &k.known)
        .await?
        .is_some_and(|r| r.updated_at > now - Duration::days(KNOWN_FOR_DAYS)))
}

pub async fn login(
    state: &AppState,
    login: &str,
    password: &str,
    client: &str,
) -> Result<LoginOutcome, AuthError> {
    let (name, k) = keys(login, client);
    let now = state.clock.now();
    if let Err(e) = take_a_try(state, &k, now).await {
        crate::http::metrics::login_refused("locked_out");
        return Err(e);
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
    let matches = super::hashing::bounded(state, move |memory| {
        domain::verify_password_in(&stored, &candidate, memory)
    })
    .await
    .map_err(|_| {
        crate::http::metrics::login_refused("busy");
        AuthError::Busy
    })?;
    let user = match user {
        Some(u) if matches && !u.disabled => u,
        _ => {
            let window = Duration::minutes(state.settings.login_account_window_minutes);
            repo::count_try(&state.db, &k.account, now, window).await?;
            crate::http::metrics::login_refused("invalid_credentials");
            return Err(AuthError::InvalidCredentials);
        }
    };
    let (token, token_hash) = domain::new_token();
    let expires_at = now + Duration::minutes(state.settings.token_ttl_minutes);
    let txn = crate::db::begin_write(&state.db).await?;
    repo::clear_throttle(&txn, &k.pair).await?;
    repo::mark_known(&txn, &k.known, now).await?;
    repo::insert_session(&txn, user.id, &token_hash, now, expires_at).await?;
    txn.commit().await?;
    let account: Account = load_account(state, user).await?;
    Ok(LoginOutcome {
        token,
        expires_at,
        account,
    })
}
