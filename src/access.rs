//! Who is calling: the authenticated principal, their role, and the bearer-token security
//! scheme every protected endpoint takes. It sits below the domains so that any of them
//! (the place tree included, which accounts themselves depend on) can name a caller
//! without depending on `auth`. Checking a token is `auth`'s business: start-up installs
//! its check here ([`install`]), and [`BearerAuth`] calls it.

use std::sync::{Arc, RwLock};

use poem::Request;
use poem_openapi::{SecurityScheme, auth::Bearer};
use sea_orm::DbErr;

use crate::error::ApiError;
use crate::state::AppState;

pub use entity::enums::Role;

/// The caller of an authenticated request.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user_id: i64,
    pub session_id: i64,
    pub role: Role,
    /// The places in the caller's scope (communities, a sub-district or a district).
    pub place_ids: Vec<i64>,
    /// Keyed hash of a staff member's own identity number, if the admin recorded one:
    /// they may neither read nor act on a case their own household is in.
    pub id_hash: Option<String>,
}

impl Principal {
    pub fn is(&self, roles: &[Role]) -> bool {
        roles.contains(&self.role)
    }
}

/// The kind of place a role's scope is made of, if it has one.
pub fn scope_kind(role: Role) -> Option<&'static str> {
    match role {
        Role::Reviewer => Some("community"),
        Role::Supervisor => Some("subdistrict"),
        Role::Bureau => Some("district"),
        Role::Applicant | Role::Admin => None,
    }
}

/// Turns a bearer token into its principal, or `None` for an unknown, expired or
/// revoked one.
#[async_trait::async_trait]
pub trait Authenticate: Send + Sync + 'static {
    async fn principal(&self, state: &AppState, token: &str) -> Result<Option<Principal>, DbErr>;
}

/// The installed check (none until start-up installs one: every token is refused).
#[derive(Default)]
struct Installed(RwLock<Option<Arc<dyn Authenticate>>>);

/// Installs the token check for every request served on `state`.
pub fn install(state: &AppState, check: Arc<dyn Authenticate>) {
    *state
        .cache::<Installed>()
        .0
        .write()
        .unwrap_or_else(|p| p.into_inner()) = Some(check);
}

/// A bearer token from `POST /api/v1/auth/login`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "check_bearer")]
pub struct BearerAuth(pub Principal);

async fn check_bearer(req: &Request, bearer: Bearer) -> poem::Result<Principal> {
    let state = req
        .data::<AppState>()
        .ok_or_else(|| ApiError::internal_logged("AppState missing from request data"))?;
    let check = state
        .cache::<Installed>()
        .0
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let Some(check) = check else {
        return Err(ApiError::unauthorized().into());
    };
    match check.principal(state, &bearer.token).await {
        Ok(Some(principal)) => {
            tracing::Span::current().record("user_id", principal.user_id);
            Ok(principal)
        }
        Ok(None) => Err(ApiError::unauthorized().into()),
        Err(err) => Err(ApiError::from(err).into()),
    }
}
