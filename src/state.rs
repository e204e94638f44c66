//! The application state every use case runs on: the database, the settings, the clock
//! and the caches. It sits below the domains and names none of them: a domain keeps its
//! own cache here by type (`state.cache::<PlaceCache>()`), so adding a cache never makes
//! the state, and through it every other domain, depend on that domain.
//!
//! The alternative, a field per cache, is what this replaced: it made `AppState` import
//! every domain that had a cache, and every domain import `AppState`, one knot.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sea_orm::DatabaseConnection;

use crate::clock::{Clock, SystemClock};
use crate::settings::Settings;

/// Everything a use case may need.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    /// Where reads that tolerate lag go (the funnel, rosters, queues): a replica when
    /// `database_read_url` is set, else the same pool as `db`.
    pub reads: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub clock: Arc<dyn Clock>,
    /// Key of the keyed hash under which identity numbers are compared.
    pub id_hash_key: Arc<[u8]>,
    /// Limits public objections per client address and per contact.
    pub objection_limiter: Arc<crate::http::rate_limit::RateLimiter>,
    /// While held, `anju restore` refuses to replace the SQLite database (see
    /// `db::backup`); `None` on PostgreSQL.
    pub in_use: Option<Arc<std::fs::File>>,
    caches: Caches,
}

impl AppState {
    pub fn new(db: DatabaseConnection, settings: Settings, clock: Arc<dyn Clock>) -> Self {
        let id_hash_key = settings
            .id_hash_key
            .as_deref()
            .unwrap_or_default()
            .as_bytes()
            .into();
        AppState {
            reads: db.clone(),
            db,
            settings: Arc::new(settings),
            clock,
            id_hash_key,
            objection_limiter: Arc::new(crate::http::rate_limit::RateLimiter::new(
                5,
                chrono::Duration::hours(1),
            )),
            in_use: None,
            caches: Caches::default(),
        }
    }

    /// A state with no database, for producing the OpenAPI spec.
    pub fn disconnected() -> Self {
        AppState::new(
            DatabaseConnection::default(),
            Settings::default(),
            Arc::new(SystemClock),
        )
    }

    /// The domain cache of type `T`, created empty on first use and shared by every
    /// clone of this state.
    pub fn cache<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        self.caches.get::<T>()
    }
}

/// Caches by type. Each entry is created once and never replaced, so a reader holds
/// the read lock only to clone an `Arc`.
#[derive(Clone, Default)]
struct Caches(Arc<RwLock<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>>);

impl Caches {
    fn get<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        let key = TypeId::of::<T>();
        let found = self
            .0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        let entry = match found {
            Some(entry) => entry,
            None => self
                .0
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .entry(key)
                .or_insert_with(|| Arc::new(T::default()))
                .clone(),
        };
        // The entry under `TypeId::of::<T>()` is always a `T`: only this function
        // inserts, and it inserts a `T` under that key.
        entry
            .downcast::<T>()
            .unwrap_or_else(|_| unreachable!("cache entry of another type"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Counter(std::sync::atomic::AtomicU32);

    #[test]
    fn a_cache_is_shared_by_every_clone_of_the_state() {
        let state = AppState::disconnected();
        let other = state.clone();
        state
            .cache::<Counter>()
            .0
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(
            other
                .cache::<Counter>()
                .0
                .load(std::sync::atomic::Ordering::SeqCst),
            1
        );
        assert_eq!(
            AppState::disconnected()
                .cache::<Counter>()
                .0
                .load(std::sync::atomic::Ordering::SeqCst),
            0,
            "a new state starts with empty caches"
        );
    }
}
