//! Readiness: can this instance take requests now? Within a second it answers whether the
//! database answers and can be written: on SQLite, whether the database file can be opened
//! for writing and a few kilobytes written and synced beside it (a read-only mount, a
//! read-only file or a full disk all show, which a query alone does not, and without
//! taking the write lock every writer queues for); on PostgreSQL, whether it is a
//! read-only standby.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::state::AppState;

/// Set once the process has been told to stop: readiness then answers 503 at once, so
/// a load balancer's health check takes the instance out while it still serves.
static DRAINING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// From now on this instance reports itself not ready (it is stopping).
pub fn start_draining() {
    DRAINING.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Why the instance is not ready.
#[derive(Debug)]
pub enum NotReady {
    /// Stopping: finishing what it has, taking nothing new.
    Draining,
    /// No answer within the second.
    Slow,
    Unreachable(String),
    ReadOnly,
    StorageFailing,
}

pub async fn ready(state: &AppState) -> Result<(), NotReady> {
    if DRAINING.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(NotReady::Draining);
    }
    match tokio::time::timeout(Duration::from_secs(1), check(state)).await {
        Ok(r) => r,
        Err(_) => Err(NotReady::Slow),
    }
}

async fn check(state: &AppState) -> Result<(), NotReady> {
    state
        .db
        .ping()
        .await
        .map_err(|e| NotReady::Unreachable(e.to_string()))?;
    match state.db.get_database_backend() {
        DbBackend::Sqlite => {
            if let Some(path) = sqlite_file(&state.settings.database_url) {
                let path = path.to_string();
                tokio::task::spawn_blocking(move || writable(&path))
                    .await
                    .map_err(|e| NotReady::Unreachable(e.to_string()))??;
            }
        }
        DbBackend::Postgres => {
            let row = state
                .db
                .query_one_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT pg_is_in_recovery() AS standby",
                ))
                .await
                .map_err(|e| NotReady::Unreachable(e.to_string()))?;
            let standby: bool = row
                .and_then(|r| r.try_get("", "standby").ok())
                .unwrap_or(false);
            if standby {
                return Err(NotReady::ReadOnly);
            }
        }
        _ => {}
    }
    Ok(())
}

/// The database file is not read-only, and 16 KiB can be written and synced beside it.
///
/// The database file itself is never opened here: closing any descriptor of it releases
/// every POSIX lock this process holds on it, SQLite's included (seen: after a crash
/// and restart, the outbox worker's writes stalled for good while readiness polled).
fn writable(db: &str) -> Result<(), NotReady> {
    use std::io::Write;
    let meta = std::fs::metadata(db).map_err(|_| NotReady::ReadOnly)?;
    if meta.permissions().readonly() {
        return Err(NotReady::ReadOnly);
    }
    let probe = format!("{db}.ready-probe");
    let written = std::fs::File::create(&probe)
        .and_then(|mut f| f.write_all(&[0u8; 16 * 1024]).and_then(|_| f.sync_all()));
    let _ = std::fs::remove_file(&probe);
    written.map_err(|e| match e.kind() {
        std::io::ErrorKind::StorageFull => NotReady::StorageFailing,
        _ => NotReady::ReadOnly,
    })
}

/// The file of a `sqlite://path?…` URL (none for an in-memory database).
fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && !path.contains(":memory:")).then_some(path)
}
