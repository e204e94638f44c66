//! Places use cases: list the tree, add and rename places, resolve codes and expand a
//! staff scope to the communities it covers.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use entity::place;
use sea_orm::{ConnectionTrait, DbErr, SqlErr};

use super::repository as repo;
use crate::access::{Principal, Role};
use crate::error::FieldError;
use crate::i18n::Msg;
use crate::state::AppState;
use crate::values;

pub use entity::enums::PlaceKind;

/// The kind a parent of a place of this kind must be.
fn parent_kind(kind: PlaceKind) -> Option<PlaceKind> {
    match kind {
        PlaceKind::District => None,
        PlaceKind::Subdistrict => Some(PlaceKind::District),
        PlaceKind::Community => Some(PlaceKind::Subdistrict),
    }
}

/// A place as the rest of the service sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    pub id: i64,
    pub kind: PlaceKind,
    pub code: String,
    pub name: String,
    pub parent_id: Option<i64>,
}

impl TryFrom<place::Model> for Place {
    type Error = DbErr;
    fn try_from(m: place::Model) -> Result<Self, DbErr> {
        let kind = m.kind;
        Ok(Place {
            id: m.id,
            kind,
            code: m.code,
            name: m.name,
            parent_id: m.parent_id,
        })
    }
}

fn convert(rows: Vec<place::Model>) -> Result<Vec<Place>, DbErr> {
    rows.into_iter().map(Place::try_from).collect()
}

#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("no such place")]
    NotFound,
    #[error("a place with this code already exists")]
    CodeTaken,
    #[error("the caller's role may not do this")]
    Forbidden,
    #[error(transparent)]
    Db(#[from] DbErr),
}

pub async fn list(state: &AppState) -> Result<Vec<Place>, PlaceError> {
    Ok(convert(repo::all(&state.db).await?)?)
}

/// Every place, on the caller's connection.
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<Place>, DbErr> {
    convert(repo::all(db).await?)
}

pub async fn by_ids(db: &impl ConnectionTrait, ids: &[i64]) -> Result<Vec<Place>, DbErr> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    convert(repo::by_ids(db, ids).await?)
}

/// The places with these ids, from the cache, in id order.
pub async fn by_ids_cached(state: &AppState, ids: &[i64]) -> Result<Vec<Place>, DbErr> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    Ok(cached(state)
        .await?
        .iter()
        .filter(|p| ids.contains(&p.id))
        .cloned()
        .collect())
}

/// The places named by `codes`, in the given order, or a field error per unknown code.
pub async fn resolve_codes(
    db: &impl ConnectionTrait,
    field: &str,
    codes: &[String],
) -> Result<Result<Vec<Place>, Vec<FieldError>>, DbErr> {
    let found = convert(repo::by_codes(db, codes).await?)?;
    Ok(resolve_in(&found, field, codes))
}

/// [`resolve_codes`], from the cached tree.
pub async fn resolve_codes_cached(
    state: &AppState,
    field: &str,
    codes: &[String],
) -> Result<Result<Vec<Place>, Vec<FieldError>>, DbErr> {
    Ok(resolve_in(&cached(state).await?, field, codes))
}

fn resolve_in(
    found: &[Place],
    field: &str,
    codes: &[String],
) -> Result<Vec<Place>, Vec<FieldError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        match found.iter().find(|p| &p.code == code) {
            Some(p) if !out.contains(p) => out.push(p.clone()),
            Some(_) => {}
            None => errors.push(FieldError::new(
                format!("{field}[{i}]"),
                "unknown_place",
                Msg::new(
                    format!("没有代码为 {code} 的地区"),
                    format!("no place has code {code}"),
                ),
            )),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The input of a new place.
pub struct NewPlace {
    pub kind: PlaceKind,
    pub code: String,
    pub name: String,
    pub parent_code: Option<String>,
}

pub async fn create(
    state: &AppState,
    caller: &Principal,
    input: NewPlace,
) -> Result<Place, PlaceError> {
    if !caller.is(&[Role::Admin]) {
        return Err(PlaceError::Forbidden);
    }
    let mut errors = Vec::new();
    let code = values::text("code", &input.code, 32)
        .map_err(|e| errors.push(e))
        .unwrap_or_default();
    if !code.is_empty() && !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        errors.push(FieldError::new(
            "code",
            "invalid_code",
            Msg::new(
                "代码只能包含字母、数字和连字符",
                "use letters, digits and dashes only",
            ),
        ));
    }
    let name = values::text("name", &input.name, 100)
        .map_err(|e| errors.push(e))
        .unwrap_or_default();
    let parent = match (parent_kind(input.kind), input.parent_code.as_deref()) {
        (None, None) => None,
        (None, Some(_)) => {
            errors.push(FieldError::new(
                "parent_code",
                "unexpected_parent",
                Msg::new("区不能有上级", "a district has no parent"),
            ));
            None
        }
        (Some(_), None) => {
            errors.push(FieldError::required("parent_code"));
            None
        }
        (Some(kind), Some(code)) => match repo::by_code(&state.db, code)
            .await?
            .map(Place::try_from)
            .transpose()?
        {
            Some(p) if p.kind == kind => Some(p),
            Some(_) => {
                errors.push(FieldError::new(
                    "parent_code",
                    "wrong_parent_kind",
                    Msg::new(
                        format!("上级必须是 {}", kind.as_str()),
                        format!("the parent must be a {}", kind.as_str()),
                    ),
                ));
                None
            }
            None => {
                errors.push(FieldError::new(
                    "parent_code",
                    "unknown_place",
                    Msg::new(
                        format!("没有代码为 {code} 的地区"),
                        format!("no place has code {code}"),
                    ),
                ));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(PlaceError::Invalid(errors));
    }
    let row = repo::insert(
        &state.db,
        input.kind,
        &code,
        &name,
        parent.map(|p| p.id),
        state.clock.now(),
    )
    .await
    .map_err(|e| match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => PlaceError::CodeTaken,
        _ => PlaceError::Db(e),
    })?;
    state.cache::<PlaceCache>().invalidate();
    Ok(Place::try_from(row)?)
}

pub async fn rename(
    state: &AppState,
    caller: &Principal,
    code: &str,
    name: &str,
) -> Result<Place, PlaceError> {
    if !caller.is(&[Role::Admin]) {
        return Err(PlaceError::Forbidden);
    }
    let name = values::text("name", name, 100).map_err(|e| PlaceError::Invalid(vec![e]))?;
    let place = repo::by_code(&state.db, code)
        .await?
        .ok_or(PlaceError::NotFound)?;
    repo::rename(&state.db, place.id, &name).await?;
    state.cache::<PlaceCache>().invalidate();
    let mut place = Place::try_from(place)?;
    place.name = name;
    Ok(place)
}

/// The place tree, read once and kept in memory: almost every request needs it (scopes,
/// communities) and it changes only through the admin endpoints here, which drop it. A
/// copy is also dropped after a minute, so another server process's change shows within
/// one.
#[derive(Clone, Default)]
pub struct PlaceCache(Arc<RwLock<Option<CachedPlaces>>>);

/// When the tree was read, and the tree.
type CachedPlaces = (Instant, Arc<Vec<Place>>);

const PLACE_CACHE_TTL: Duration = Duration::from_secs(60);

impl PlaceCache {
    pub async fn get(&self, db: &impl ConnectionTrait) -> Result<Arc<Vec<Place>>, DbErr> {
        if let Some((at, places)) = self.0.read().unwrap_or_else(|p| p.into_inner()).as_ref()
            && at.elapsed() < PLACE_CACHE_TTL
        {
            return Ok(places.clone());
        }
        let fresh = Arc::new(convert(repo::all(db).await?)?);
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), fresh.clone()));
        Ok(fresh)
    }

    pub fn invalidate(&self) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// Every place, from the cache.
pub async fn cached(state: &AppState) -> Result<Arc<Vec<Place>>, DbErr> {
    state.cache::<PlaceCache>().get(&state.db).await
}

/// [`communities_within`], from the cached tree.
pub async fn communities_within_cached(
    state: &AppState,
    place_ids: &[i64],
) -> Result<Vec<i64>, DbErr> {
    Ok(communities_in(&cached(state).await?, place_ids))
}

/// The ids of every community inside the given places (a community counts itself).
pub async fn communities_within(
    db: &impl ConnectionTrait,
    place_ids: &[i64],
) -> Result<Vec<i64>, DbErr> {
    Ok(communities_in(&convert(repo::all(db).await?)?, place_ids))
}

fn communities_in(all: &[Place], place_ids: &[i64]) -> Vec<i64> {
    let mut frontier: Vec<i64> = place_ids.to_vec();
    let mut communities = Vec::new();
    while let Some(id) = frontier.pop() {
        for p in all.iter().filter(|p| p.id == id || p.parent_id == Some(id)) {
            if p.kind == PlaceKind::Community {
                if !communities.contains(&p.id) {
                    communities.push(p.id);
                }
            } else if p.id != id {
                frontier.push(p.id);
            }
        }
    }
    communities.sort_unstable();
    communities
}
